"""Streaming output: Bulk-Data-style NDJSON per resource type, ground truth, checkup CSV,
DICOM, HL7 v2 and the emergency streams, written citizen by citizen."""

from __future__ import annotations

import csv
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import IO, Any

import orjson
from tqdm import tqdm

from khealth.synth import bundles, dicom, emergencies, hl7
from khealth.synth.bundles import BundleSpill
from khealth.synth.checkups import CSV_COLUMNS
from khealth.synth.city import CitizenRecords, City
from khealth.synth.config import SynthConfig
from khealth.synth.facility_resources import facility_resources

OWNED = (
    "ndjson",
    "bundles",
    "dicom",
    "hl7v2",
    "emergency",
    "ground-truth.csv",
    "checkups.csv",
    "citizens.csv",
    "manifest.json",
)
GROUND_TRUTH_COLUMNS = ("patient_id", "citizen_id", "facility_id", "mrn", "duplicate_of", "noise")
CITIZEN_COLUMNS = (
    "citizen_id",
    "household_id",
    "name",
    "sex",
    "birth_date",
    "rrn",
    "ci",
    "mobile",
    "district_code",
    "address",
    "death_date",
)


class OutputExistsError(FileExistsError):
    pass


class NdjsonSink:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.files: dict[str, IO[bytes]] = {}
        self.counts: Counter[str] = Counter()

    def write(self, resource: dict[str, Any]) -> None:
        kind = resource["resourceType"]
        handle = self.files.get(kind)
        if handle is None:
            handle = open(self.directory / f"{kind}.ndjson", "wb", buffering=1 << 20)  # noqa: SIM115
            self.files[kind] = handle
        handle.write(orjson.dumps(resource))
        handle.write(b"\n")
        self.counts[kind] += 1

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()


def _prepare(out_dir: Path, overwrite: bool) -> None:
    existing = [name for name in OWNED if (out_dir / name).exists()]
    if existing and not overwrite:
        raise OutputExistsError(
            f"{out_dir} already holds generated output ({', '.join(existing)}); "
            "pass overwrite=True (--force) to replace it"
        )
    for name in existing:
        path = out_dir / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    for name in ("ndjson", "dicom", "hl7v2", "emergency"):
        (out_dir / name).mkdir(parents=True, exist_ok=True)


def _csv(path: Path, columns: tuple[str, ...]) -> tuple[IO[str], Any]:
    handle = open(path, "w", newline="", encoding="utf-8", buffering=1 << 20)  # noqa: SIM115
    writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    return handle, writer


def write_city(
    config: SynthConfig, out_dir: Path | str, *, progress: bool = True, overwrite: bool = False
) -> dict[str, Any]:
    """Writes the whole city under `out_dir`; returns the manifest (counts per output)."""
    out = Path(out_dir)
    _prepare(out, overwrite)
    city = City(config)
    sink = NdjsonSink(out / "ndjson")
    spill = BundleSpill(out / "bundles" / ".spill") if config.bundles else None
    for facility in city.facilities:
        for resource in facility_resources(facility):
            sink.write(resource)
            if spill is not None:
                spill.write(facility.id, resource)
    state = _Writers(out, city)
    bar = tqdm(
        total=config.citizens, unit="citizen", file=sys.stderr, disable=not progress, desc="synth"
    )
    try:
        for records in city.citizens():
            for resource in records.output.resources:
                sink.write(resource)
            if spill is not None:
                spill.write_citizen(records.output.resources)
            state.write(records)
            bar.update(1)
    finally:
        bar.close()
        sink.close()
        state.close()
        if spill is not None:
            spill.close()
    bundle_counts = (
        bundles.finish(
            out / "bundles",
            [f.id for f in city.facilities],
            [out / "bundles" / ".spill"],
            config.bundle_size,
        )
        if config.bundles
        else {}
    )
    manifest = (
        _emergency(out, city)
        | bundle_counts
        | {
            "seed": config.seed,
            "citizens": config.citizens,
            "today": config.today.isoformat(),
            "facilities": len(city.facilities),
            "resources": dict(sorted(sink.counts.items())),
            "patients": state.patients,
            "checkups": state.checkups,
            "dicom_studies": state.dicom_studies,
            "hl7v2_messages": state.hl7_messages,
        }
    )
    (out / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
    return manifest


class _Writers:
    def __init__(self, out: Path, city: City) -> None:
        self.out, self.city = out, city
        self.truth_file, self.truth = _csv(out / "ground-truth.csv", GROUND_TRUTH_COLUMNS)
        self.citizen_file, self.citizen_rows = _csv(out / "citizens.csv", CITIZEN_COLUMNS)
        self.checkup_file, self.checkup_rows = _csv(out / "checkups.csv", CSV_COLUMNS)
        self.hl7_files: dict[str, IO[bytes]] = {}
        self.by_id = {f.id: f for f in city.facilities}
        self.patients = self.checkups = self.dicom_studies = self.hl7_messages = 0

    def write(self, records: CitizenRecords) -> None:
        citizen, output = records.citizen, records.output
        self.citizen_rows.writerow(
            {
                "citizen_id": citizen.id,
                "household_id": citizen.household,
                "name": citizen.name,
                "sex": "female" if citizen.female else "male",
                "birth_date": citizen.birth_date.isoformat(),
                "rrn": citizen.rrn,
                "ci": citizen.ci,
                "mobile": citizen.mobile,
                "district_code": citizen.address.district.code,
                "address": citizen.address.text,
                "death_date": citizen.death_date.isoformat() if citizen.death_date else "",
            }
        )
        for truth in output.ground_truth:
            self.truth.writerow(
                {
                    "patient_id": truth.patient_id,
                    "citizen_id": truth.citizen_id,
                    "facility_id": truth.facility_id,
                    "mrn": truth.mrn,
                    "duplicate_of": truth.duplicate_of,
                    "noise": ";".join(truth.noise),
                }
            )
        self.patients += len(output.ground_truth)
        for row in output.checkups:
            self.checkup_rows.writerow(row)
        self.checkups += len(output.checkups)
        for job in output.imaging:
            if self.dicom_studies >= self.city.config.dicom_max_studies:
                break
            dicom.write_study(job, self.out / "dicom")
            self.dicom_studies += 1
        for facility_id, message in hl7.messages(output.resources, self.by_id):
            handle = self.hl7_files.get(facility_id)
            if handle is None:
                handle = open(self.out / "hl7v2" / f"{facility_id}.hl7", "wb")  # noqa: SIM115
                self.hl7_files[facility_id] = handle
            handle.write(message.encode() + b"\n")
            self.hl7_messages += 1

    def close(self) -> None:
        handles: list[IO[Any]] = [self.truth_file, self.citizen_file, self.checkup_file]
        for handle in [*handles, *self.hl7_files.values()]:
            handle.close()


def _emergency(out: Path, city: City) -> dict[str, int]:
    counts = {"ems_incidents": 0, "ed_capacity_snapshots": 0}
    with open(out / "emergency" / "incidents.ndjson", "wb") as handle:
        for incident in emergencies.incidents(city.config):
            handle.write(orjson.dumps(incident) + b"\n")
            counts["ems_incidents"] += 1
    with open(out / "emergency" / "capacity.ndjson", "wb") as handle:
        for snapshot in emergencies.capacity(city.config, city.index):
            handle.write(orjson.dumps(snapshot) + b"\n")
            counts["ed_capacity_snapshots"] += 1
    return counts


__all__ = ["OutputExistsError", "write_city"]
