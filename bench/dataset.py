"""The benchmark's data: Synthea-shaped resources replicated under fresh ids.

The source is the 16 Synthea transaction Bundles of ``../shared/data/synthea-r4`` (one group
of resources per patient, ``urn:uuid:`` references resolved to ``Type/id``).  Without that
folder it is a small ``khealth.synth`` city (Korean-shaped records), and the report says so.

Replication is byte templating: each group is serialised once, with a hole wherever one of
its ids occurs (``"id"``, references, identifier values equal to an id); copy ``k`` fills
the holes with fresh ids.  A UUID keeps its shape (its first 8 hex digits become ``k``), so
index keys are as long as Synthea's; other ids get a ``c{k}-`` prefix.
"""

from __future__ import annotations

import itertools
import math
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

Resource = dict[str, Any]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# A JSON string (or the part of one after "Type/" or "urn:uuid:") that may be an id.
_TOKEN = re.compile(rb'(?<=["/:])([A-Za-z0-9.\-]{1,64})(?=")')
EVERYTHING_BASE = 0xFFFF0000  # copy numbers of the $everything patient's replicas
TRANSACTION_BASE = 0xA0000000  # copy numbers of Bundles posted over HTTP


@dataclass(frozen=True, slots=True)
class Source:
    """Resources grouped per patient, references as ``Type/id``."""

    description: str
    groups: tuple[tuple[Resource, ...], ...]


@dataclass(frozen=True, slots=True)
class Dataset:
    """What was written, and what the measurements need to know about it."""

    files: tuple[Path, ...]
    resources: int
    copies: int
    per_copy: int
    keys: tuple[tuple[str, str], ...]  # (type, original id) of one copy; copy k renames them
    everything_patient: str
    everything_resources: int  # the patient's compartment, the Patient included
    family_name: str  # of the first group's Patient, for the chained search


def fresh_id(copy: int, original: str) -> str:
    if _UUID.fullmatch(original):
        return f"{copy:08x}{original[8:]}"
    renamed = f"c{copy}-{original}"
    if len(renamed) > 64:
        raise ValueError("an id is too long to be renamed")
    return renamed


def renamer(copy: int) -> Callable[[str], str]:
    return lambda original: fresh_id(copy, original)


class Template:
    """Serialised resources (NDJSON lines) with holes where the given ids occur."""

    def __init__(self, lines: Sequence[bytes], ids: set[str]) -> None:
        blob = b"".join(line + b"\n" for line in lines)
        self.parts: list[bytes] = []
        self.holes: list[str] = []
        start = 0
        for match in _TOKEN.finditer(blob):
            found = match[1].decode()
            if found in ids:
                self.parts.append(blob[start : match.start()])
                self.holes.append(found)
                start = match.end()
        self.parts.append(blob[start:])
        self.lines = len(lines)

    def render(self, rename: Callable[[str], str]) -> bytes:
        names = {original: rename(original).encode() for original in set(self.holes)}
        out: list[bytes] = [b""] * (2 * len(self.holes) + 1)
        out[0::2] = self.parts
        out[1::2] = [names[h] for h in self.holes]
        return b"".join(out)


# -- sources -----------------------------------------------------------------------------
def load_source(folder: Path, synth_citizens: int = 16) -> Source:
    bundles = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if bundles:
        groups = tuple(_synthea_group(path) for path in bundles)
        return Source(f"Synthea R4 sample ({len(bundles)} patient Bundles in {folder})", groups)
    return _synth_source(synth_citizens)


def _synthea_group(path: Path) -> tuple[Resource, ...]:
    entries = orjson.loads(path.read_bytes())["entry"]
    local = {
        e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in entries
    }
    return tuple(_with_references(e["resource"], local) for e in entries)


def _synth_source(citizens: int) -> Source:
    from khealth.synth import City, SynthConfig

    city = City(SynthConfig(citizens=citizens, seed=1))
    groups = [tuple(city.facility_resources())]
    groups += [tuple(c.output.resources) for c in city.citizens()]
    text = f"khealth.synth city ({citizens} citizens; ../shared/data/synthea-r4 was absent)"
    return Source(text, tuple(groups))


def _with_references(value: Any, local: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {
            k: local.get(v, v) if k == "reference" and isinstance(v, str) else _with_references(v, local)
            for k, v in value.items()
        }  # fmt: skip
    if isinstance(value, list):
        return [_with_references(v, local) for v in value]
    return value


def trimmed(source: Source, resources: int) -> Source:
    """The first groups holding about ``resources`` (for small runs below one copy), and
    at least one patient's (the synthetic city's first group, its facilities, can be larger
    than a small run on its own)."""
    kept: list[tuple[Resource, ...]] = []
    total = 0
    for group in source.groups:
        has_patient = any(any(r["resourceType"] == "Patient" for r in g) for g in kept)
        if total >= resources and has_patient:
            break
        kept.append(group)
        total += len(group)
    return Source(source.description, tuple(kept))


# -- the NDJSON files --------------------------------------------------------------------
def unique_resources(source: Source) -> list[Resource]:
    """One copy: every resource once (Synthea repeats Organizations across Bundles)."""
    seen: set[tuple[str, str]] = set()
    found: list[Resource] = []
    for resource in itertools.chain.from_iterable(source.groups):
        key = (resource["resourceType"], resource["id"])
        if key not in seen:
            seen.add(key)
            found.append(resource)
    return found


def write_dataset(source: Source, folder: Path, resources: int, everything: int) -> Dataset:
    """Copies of the source (one NDJSON file per type, as Bulk Data writes them) and one
    patient with ``everything`` resources in its compartment (``everything.ndjson``)."""
    folder.mkdir(parents=True, exist_ok=True)
    one_copy = unique_resources(source)
    ids = {r["id"] for r in one_copy}
    by_type: dict[str, list[bytes]] = {}
    for r in one_copy:
        by_type.setdefault(r["resourceType"], []).append(orjson.dumps(r))
    copies = max(1, math.ceil(resources / len(one_copy)))
    files: list[Path] = []
    for resource_type, lines in sorted(by_type.items()):
        template = Template(lines, ids)
        path = folder / f"{resource_type}.ndjson"
        with path.open("wb") as f:
            for k in range(copies):
                f.write(template.render(renamer(k)))
        files.append(path)
    patient_id, count = _write_everything(source, folder / "everything.ndjson", everything)
    files.append(folder / "everything.ndjson")
    first_patient = next(r for g in source.groups for r in g if r["resourceType"] == "Patient")
    return Dataset(
        files=tuple(files),
        resources=copies * len(one_copy) + count,
        copies=copies,
        per_copy=len(one_copy),
        keys=tuple((r["resourceType"], r["id"]) for r in one_copy),
        everything_patient=patient_id,
        everything_resources=count,
        family_name=str(first_patient["name"][0]["family"]),
    )


def _write_everything(source: Source, path: Path, size: int) -> tuple[str, int]:
    """The group with the largest compartment, its compartment replicated (fresh ids for
    all but the Patient, Organizations and Practitioners) until it holds ``size``."""
    from khealth.fhir.extract import extract, patient_compartments

    def members(group: tuple[Resource, ...], pid: str) -> list[Resource]:
        return [
            r
            for r in group
            if r["resourceType"] != "Patient" and pid in patient_compartments(r, extract(r))
        ]

    chosen = max(
        (g for g in source.groups if any(r["resourceType"] == "Patient" for r in g)),
        key=lambda g: len(members(g, _patient_of(g))),
    )
    pid = _patient_of(chosen)
    inside = members(chosen, pid)
    moving = {r["id"] for r in inside}
    fixed = {r["id"] for r in chosen} - moving
    lines = [orjson.dumps(r) for r in inside]
    ids = moving | fixed
    written = 1 + len(inside)  # the first copy: the whole group, Patient included
    with path.open("wb") as f:
        f.write(Template([orjson.dumps(r) for r in chosen], ids).render(_everything_name(0, fixed)))
        for j in itertools.count(1):
            if written >= size:
                break
            take = min(len(lines), size - written)
            f.write(Template(lines[:take], ids).render(_everything_name(j, fixed)))
            written += take
    return fresh_id(EVERYTHING_BASE, pid), written


def _everything_name(copy: int, fixed: set[str]) -> Callable[[str], str]:
    return lambda i: fresh_id(EVERYTHING_BASE + (0 if i in fixed else copy), i)


def _patient_of(group: tuple[Resource, ...]) -> str:
    return str(next(r["id"] for r in group if r["resourceType"] == "Patient"))


# -- transaction Bundles for HTTP --------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BundleTemplate:
    template: Template
    entries: int


def transaction_templates(source: Source) -> list[BundleTemplate]:
    """One transaction Bundle per group: POST entries, ``urn:uuid:`` fullUrls and
    references, as Synthea writes them; each post renames every uuid."""
    templates: list[BundleTemplate] = []
    for group in source.groups:
        if not any(r["resourceType"] == "Patient" for r in group):
            continue
        urn = {f"{r['resourceType']}/{r['id']}": f"urn:uuid:{_as_uuid(r['id'])}" for r in group}
        entries = [
            {
                "fullUrl": urn[f"{r['resourceType']}/{r['id']}"],
                "resource": {**_with_references(r, urn), "id": _as_uuid(r["id"])},
                "request": {"method": "POST", "url": r["resourceType"]},
            }
            for r in group
        ]
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        holes = Template([orjson.dumps(bundle)], {_as_uuid(r["id"]) for r in group})
        templates.append(BundleTemplate(holes, len(entries)))
    return templates


def _as_uuid(original: str) -> str:
    if _UUID.fullmatch(original):
        return original
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"khealth-bench:{original}"))
