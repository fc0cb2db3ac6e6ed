"""Per-facility FHIR transaction Bundles (`bundles/<facility id>/<NNNNNN>.json`).

Attribution rule: a facility's own resources (Organization, Location, HealthcareService,
Practitioner, PractitionerRole, Endpoint) go to it first; a Patient goes to its
`managingOrganization`, an Encounter to its `serviceProvider`, and every other resource to the
facility of its encounter (`encounter`, or `context.encounter[0]` for a DocumentReference) or,
without one, of its patient (`subject` / `patient`). Each entry is `PUT <Type>/<id>` with the
same relative `fullUrl`, so posting a bundle twice leaves the store unchanged.

Streaming with bounded memory: entries are appended, already serialised, to one spill file per
facility (one open handle each); `finish` cuts each spill file into Bundles of at most
`bundle_size` entries, reading one bundle's worth of lines at a time. Workers write their own
spill directories, which `finish` reads in shard order, so the bundles are the same bytes
whatever the number of workers.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

Resource = dict[str, Any]

_HEAD = b'{"resourceType":"Bundle","type":"transaction","entry":['
_TAIL = b"]}\n"


def entry_line(resource: Resource) -> bytes:
    url = f"{resource['resourceType']}/{resource['id']}"
    return orjson.dumps(
        {"fullUrl": url, "resource": resource, "request": {"method": "PUT", "url": url}}
    )


def _target(reference: Any) -> str | None:
    if isinstance(reference, dict) and isinstance(reference.get("reference"), str):
        return str(reference["reference"])
    return None


def attribute(resources: Iterable[Resource]) -> Iterator[tuple[str, Resource]]:
    """(facility id, resource) for one citizen's resources, by the rule in the module doc.

    Patients and Encounters come before the resources that point at them in a citizen's
    output, but attribution does not rely on it: the maps are built first.
    """
    resources = list(resources)
    owner: dict[str, str] = {}
    for resource in resources:
        kind = resource["resourceType"]
        field = {"Patient": "managingOrganization", "Encounter": "serviceProvider"}.get(kind)
        target = _target(resource.get(field)) if field else None
        if target is not None:
            owner[f"{kind}/{resource['id']}"] = target.split("/", 1)[1]
    for resource in resources:
        key = f"{resource['resourceType']}/{resource['id']}"
        facility = owner.get(key) or _owner_of_links(resource, owner)
        if facility is None:
            raise ValueError(f"no facility for a {resource['resourceType']} resource")
        yield facility, resource


def _owner_of_links(resource: Resource, owner: dict[str, str]) -> str | None:
    context = resource.get("context")
    encounters = context.get("encounter") if isinstance(context, dict) else None
    candidates = [
        _target(resource.get("encounter")),
        _target(encounters[0]) if isinstance(encounters, list) and encounters else None,
        _target(resource.get("subject")),
        _target(resource.get("patient")),
    ]
    for target in candidates:
        if target is not None and target in owner:
            return owner[target]
    return None


class BundleSpill:
    """Serialised entries per facility, appended to `<directory>/<facility id>.ndjson`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.files: dict[str, IO[bytes]] = {}

    def write(self, facility_id: str, resource: Resource) -> None:
        handle = self.files.get(facility_id)
        if handle is None:
            path = self.directory / f"{facility_id}.ndjson"
            handle = open(path, "ab", buffering=1 << 16)  # noqa: SIM115
            self.files[facility_id] = handle
        handle.write(entry_line(resource))
        handle.write(b"\n")

    def write_citizen(self, resources: Iterable[Resource]) -> None:
        for facility_id, resource in attribute(resources):
            self.write(facility_id, resource)

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()
        self.files.clear()


def _lines(spills: list[Path], facility_id: str) -> Iterator[bytes]:
    for spill in spills:
        path = spill / f"{facility_id}.ndjson"
        if path.exists():
            with path.open("rb") as handle:
                for line in handle:
                    yield line.rstrip(b"\n")


def finish(
    out: Path, facility_ids: list[str], spills: list[Path], bundle_size: int
) -> dict[str, int]:
    """Cuts the spill files (in `spills` order) into bundles; removes the spills."""
    bundles = entries = 0
    for facility_id in facility_ids:
        folder = out / facility_id
        chunk: list[bytes] = []
        number = 0
        for line in _lines(spills, facility_id):
            chunk.append(line)
            if len(chunk) == bundle_size:
                number += 1
                _write_bundle(folder, number, chunk)
                entries += len(chunk)
                chunk = []
        if chunk:
            number += 1
            _write_bundle(folder, number, chunk)
            entries += len(chunk)
        bundles += number
    for spill in spills:
        shutil.rmtree(spill, ignore_errors=True)
    return {"bundles": bundles, "bundle_entries": entries}


def _write_bundle(folder: Path, number: int, chunk: list[bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{number:06d}.json", "wb") as handle:
        handle.write(_HEAD)
        handle.write(b",".join(chunk))
        handle.write(_TAIL)


__all__ = ["BundleSpill", "attribute", "entry_line", "finish"]
