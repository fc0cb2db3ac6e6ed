"""Streaming output: Bulk-Data-style NDJSON per resource type, ground truth, checkup CSV,
DICOM, HL7 v2 and the emergency streams, written citizen by citizen."""

from __future__ import annotations

import csv
import multiprocessing
import shutil
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
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
    """Appends to `<ResourceType>.ndjson` files, so that the facility resources and then each
    shard's citizens land in one file per type in generation order."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.files: dict[str, IO[bytes]] = {}
        self.counts: Counter[str] = Counter()

    def write(self, resource: dict[str, Any]) -> None:
        kind = resource["resourceType"]
        handle = self.files.get(kind)
        if handle is None:
            handle = open(self.directory / f"{kind}.ndjson", "ab", buffering=1 << 20)  # noqa: SIM115
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
    # Left over by an interrupted run: shards append, so they must start empty.
    shutil.rmtree(out_dir / _SHARDS, ignore_errors=True)
    for name in ("ndjson", "dicom", "hl7v2", "emergency"):
        (out_dir / name).mkdir(parents=True, exist_ok=True)


def _csv(path: Path, columns: tuple[str, ...], *, header: bool) -> tuple[IO[str], Any]:
    handle = open(path, "a", newline="", encoding="utf-8", buffering=1 << 20)  # noqa: SIM115
    writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
    if header:
        writer.writeheader()
    return handle, writer


_SHARDS = ".shards"
_CSVS = (
    ("ground-truth.csv", GROUND_TRUTH_COLUMNS),
    ("citizens.csv", CITIZEN_COLUMNS),
    ("checkups.csv", CSV_COLUMNS),
)


@dataclass(frozen=True)
class _Shard:
    """Citizens `start` … `stop - 1`, written under `out` (the output itself with one worker,
    else `out/.shards/<k>`); picklable, so it crosses to a spawned process."""

    config: SynthConfig
    out: Path
    start: int
    stop: int
    header: bool
    progress: bool


@dataclass(frozen=True)
class _ShardResult:
    resources: dict[str, int]
    patients: int
    checkups: int
    hl7_messages: int
    dicom_studies: tuple[str, ...]  # study UIDs written, in generation order


def write_city(
    config: SynthConfig,
    out_dir: Path | str,
    *,
    progress: bool = True,
    overwrite: bool = False,
    workers: int = 1,
) -> dict[str, Any]:
    """Writes the whole city under `out_dir`; returns the manifest (counts per output).

    With `workers > 1` the citizens are split into contiguous shards generated in spawned
    processes and concatenated in shard order: the bytes are the same as with one worker.
    """
    out = Path(out_dir)
    _prepare(out, overwrite)
    city = City(config)
    sink = NdjsonSink(out / "ndjson")
    spill = BundleSpill(out / "bundles" / ".spill" / "facilities") if config.bundles else None
    for facility in city.facilities:
        for resource in facility_resources(facility):
            sink.write(resource)
            if spill is not None:
                spill.write(facility.id, resource)
    sink.close()
    if spill is not None:
        spill.close()
    shards = _shards(config, out, workers, progress)
    results = _run_shards(shards, progress) if len(shards) > 1 else [_write_shard(shards[0])]
    if len(shards) > 1:
        _merge(out, shards, results, config)
    dicom_studies = len(_dicom_kept(results, config))
    bundle_counts: dict[str, int] = {}
    if config.bundles:
        spills = [out / "bundles" / ".spill" / "facilities"] + [_spill_dir(s) for s in shards]
        ids = [f.id for f in city.facilities]
        bundle_counts = bundles.finish(out / "bundles", ids, spills, config.bundle_size)
        shutil.rmtree(out / "bundles" / ".spill", ignore_errors=True)
    shutil.rmtree(out / _SHARDS, ignore_errors=True)
    resources = Counter(sink.counts)
    for result in results:
        resources.update(result.resources)
    manifest = (
        _emergency(out, city)
        | bundle_counts
        | {
            "seed": config.seed,
            "citizens": config.citizens,
            "today": config.today.isoformat(),
            "facilities": len(city.facilities),
            "resources": dict(sorted(resources.items())),
            "patients": sum(r.patients for r in results),
            "checkups": sum(r.checkups for r in results),
            "dicom_studies": dicom_studies,
            "hl7v2_messages": sum(r.hl7_messages for r in results),
        }
    )
    (out / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
    return manifest


def _shards(config: SynthConfig, out: Path, workers: int, progress: bool) -> list[_Shard]:
    if workers <= 1 or config.citizens < 2:
        return [_Shard(config, out, 0, config.citizens, header=True, progress=progress)]
    count = min(workers, config.citizens)
    bounds = [config.citizens * k // count for k in range(count + 1)]
    return [
        _Shard(config, out / _SHARDS / f"{k:04d}", bounds[k], bounds[k + 1], False, False)
        for k in range(count)
    ]


def _spill_dir(shard: _Shard) -> Path:
    if shard.header:  # one worker: the shard is the output directory itself
        return shard.out / "bundles" / ".spill" / "citizens"
    return shard.out / "spill"


def _run_shards(shards: list[_Shard], progress: bool) -> list[_ShardResult]:
    context = multiprocessing.get_context("spawn")
    total = shards[-1].stop
    with (
        ProcessPoolExecutor(max_workers=len(shards), mp_context=context) as pool,
        tqdm(
            total=total, unit="citizen", file=sys.stderr, disable=not progress, desc="synth"
        ) as bar,
    ):
        futures = [pool.submit(_write_shard, shard) for shard in shards]
        for future in as_completed(futures):
            shard = shards[futures.index(future)]
            bar.update(shard.stop - shard.start)
        return [future.result() for future in futures]


def _write_shard(shard: _Shard) -> _ShardResult:
    """Generates one shard's citizens and writes its part files (runs in a worker process)."""
    city = City(shard.config)
    for name in ("ndjson", "dicom", "hl7v2"):
        (shard.out / name).mkdir(parents=True, exist_ok=True)
    sink = NdjsonSink(shard.out / "ndjson")
    spill = BundleSpill(_spill_dir(shard)) if shard.config.bundles else None
    state = _Writers(shard.out, city, header=shard.header)
    bar = tqdm(
        total=shard.stop - shard.start,
        unit="citizen",
        file=sys.stderr,
        disable=not shard.progress,
        desc="synth",
    )
    try:
        for records in city.citizens(shard.start, shard.stop):
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
    return _ShardResult(
        dict(sink.counts),
        state.patients,
        state.checkups,
        state.hl7_messages,
        tuple(state.studies),
    )


def _append(target: Path, source: Path) -> None:
    with open(target, "ab") as to, open(source, "rb") as part:
        shutil.copyfileobj(part, to, 1 << 20)


def _merge(
    out: Path, shards: list[_Shard], results: list[_ShardResult], config: SynthConfig
) -> None:
    """Concatenates the shards' part files in shard order (and keeps the first DICOM studies)."""
    for name, columns in _CSVS:
        handle, _ = _csv(out / name, columns, header=True)
        handle.close()
    kept = set(_dicom_kept(results, config))
    for shard in shards:
        for folder in ("ndjson", "hl7v2"):
            for part in sorted((shard.out / folder).iterdir()):
                _append(out / folder / part.name, part)
        for name, _ in _CSVS:
            _append(out / name, shard.out / name)
        for study in sorted((shard.out / "dicom").iterdir()):
            if study.name in kept:
                shutil.move(study, out / "dicom" / study.name)


def _dicom_kept(results: list[_ShardResult], config: SynthConfig) -> list[str]:
    """The first `dicom_max_studies` studies of the whole run: each shard wrote the first ones
    of its own, so the run's first ones are a prefix of the shards' lists in order."""
    studies = [uid for result in results for uid in result.dicom_studies]
    return studies[: config.dicom_max_studies]


class _Writers:
    def __init__(self, out: Path, city: City, *, header: bool) -> None:
        self.out, self.city = out, city
        self.truth_file, self.truth = _csv(
            out / "ground-truth.csv", GROUND_TRUTH_COLUMNS, header=header
        )
        self.citizen_file, self.citizen_rows = _csv(
            out / "citizens.csv", CITIZEN_COLUMNS, header=header
        )
        self.checkup_file, self.checkup_rows = _csv(
            out / "checkups.csv", CSV_COLUMNS, header=header
        )
        self.hl7_files: dict[str, IO[bytes]] = {}
        self.by_id = {f.id: f for f in city.facilities}
        self.patients = self.checkups = self.hl7_messages = 0
        self.studies: list[str] = []

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
            if len(self.studies) >= self.city.config.dicom_max_studies:
                break
            dicom.write_study(job, self.out / "dicom")
            self.studies.append(job.study_uid)
        for facility_id, message in hl7.messages(output.resources, self.by_id):
            handle = self.hl7_files.get(facility_id)
            if handle is None:
                handle = open(self.out / "hl7v2" / f"{facility_id}.hl7", "ab")  # noqa: SIM115
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
