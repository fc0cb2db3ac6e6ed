"""Import of the national checkup CSV (``khealth import-checkups FILE``).

Per row: read and check it (:mod:`checkup_rows`), find its Patient, and write one grouping
Observation with its members (:mod:`checkup_resources`) through the record service.  A bad
row is reported as ``row N: column X: problem`` (N is the line number in the file; no value
is ever quoted) and skipped; good rows are kept.  Rows are committed in batches; a re-run
finds each checkup's grouping Observation by its identifier (a conditional create) and adds
nothing.

Which Patient: the row's checkup Encounter (``encounter_id``) when it is on record — its
subject is the facility Patient the checkup was done under; otherwise a Patient carrying
the row's ``citizen_id`` under ``…/sid/nhis-checkup-subject`` (one that an NHIS feed
registered).  A row with neither is reported, not guessed.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from khealth.access.context import AccessContext
from khealth.core.batching import batched
from khealth.core.errors import Gone, KhealthError, NotFound
from khealth.fhir.search_parse import parse_search
from khealth.fhir.validation import check_resource
from khealth.ingest.checkup_resources import SID_CHECKUP, CheckupBuilder
from khealth.ingest.checkup_rows import CheckupRow, RowError, missing_columns, read_row
from khealth.records.service import Records, RecordSession, load_json

SID_SUBJECT = "https://khealth.example.org/fhir/sid/nhis-checkup-subject"
BATCH_ROWS = 200


@dataclass(slots=True)
class CheckupReport:
    rows: int = 0
    stored: int = 0  # checkups written now
    already: int = 0  # checkups found from an earlier run
    observations: int = 0
    errors: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"{self.rows} rows: {self.stored} checkups stored ({self.observations} Observations), "
            f"{self.already} already on record, {len(self.errors)} rows with errors"
        )


class CheckupFileError(Exception):
    """The file as a whole cannot be read (no header, missing columns)."""


def import_checkups(records: Records, ctx: AccessContext, path: Path) -> CheckupReport:
    report = CheckupReport()
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = missing_columns(list(reader.fieldnames or []))
        if missing:
            raise CheckupFileError(f"the file lacks the columns {', '.join(missing)}")
        for batch in batched(_numbered(reader, report), BATCH_ROWS):
            with records.begin(ctx, "create") as rs:
                for line, row in batch:
                    _import_row(rs, line, row, report)
    return report


def _numbered(reader: csv.DictReader[str], report: CheckupReport) -> Iterator[tuple[int, CheckupRow]]:  # fmt: skip
    for raw in reader:
        report.rows += 1
        line = reader.line_num
        try:
            if None in raw:  # more fields than the header
                raise RowError(["row has more fields than the header"])
            yield line, read_row(raw)
        except RowError as error:
            report.errors.extend(f"row {line}: {p}" for p in error.problems)


def _import_row(rs: RecordSession, line: int, row: CheckupRow, report: CheckupReport) -> None:
    if _already(rs, row):
        report.already += 1
        return
    subject = _patient(rs, row)
    if subject is None:
        report.errors.append(f"row {line}: column citizen_id: no Patient on record for this checkup")  # fmt: skip
        return
    patient_id, encounter, when = subject
    builder = CheckupBuilder(row, patient_id, encounter, when)
    members = builder.members()
    resources = [*members, builder.panel(members)]
    try:
        for resource in resources:  # validate all before writing any: a row is whole or absent
            check_resource(resource)
    except KhealthError:
        report.errors.append(f"row {line}: column -: the checkup does not make valid Observations")  # fmt: skip
        return
    for resource in resources:
        rs.create(resource, id=resource["id"])
    report.stored += 1
    report.observations += len(resources)


def _already(rs: RecordSession, row: CheckupRow) -> bool:
    token = f"{SID_CHECKUP}|{row.checkup_id}/panel"
    query = parse_search("Observation", [("identifier", token), ("_count", "1")])
    return bool(rs.search(query).page.matches)


def _patient(rs: RecordSession, row: CheckupRow) -> tuple[str, bool, str] | None:
    """(Patient id, whether the Encounter is on record, effective time)."""
    fallback = f"{row.year}-01-01"
    try:
        encounter = load_json(rs.read("Encounter", row.encounter_id).content)
    except (NotFound, Gone):
        encounter = None
    if encounter is not None:
        reference = str(encounter.get("subject", {}).get("reference", ""))
        if reference.startswith("Patient/"):
            return reference.removeprefix("Patient/"), True, _start(encounter) or fallback
    query = parse_search("Patient", [("identifier", f"{SID_SUBJECT}|{row.citizen_id}"), ("_count", "2")])  # fmt: skip
    found = rs.search(query).page.matches
    return (found[0].id, False, fallback) if len(found) == 1 else None


def _start(encounter: dict[str, Any]) -> str | None:
    start = encounter.get("period", {}).get("start")
    if isinstance(start, str):
        return start
    return None
