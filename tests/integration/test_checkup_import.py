"""The national checkup CSV the synthetic city writes, imported as one grouping Observation
per checkup with LOINC-coded members on the checkup's Patient; bad rows reported by row and
column (never by value) and skipped, good rows kept; a re-run adds nothing."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from khealth.access.context import AccessContext, Role
from khealth.access.scopes import parse_scopes
from khealth.fhir.search_parse import parse_search
from khealth.ingest.checkups import CheckupFileError, import_checkups
from khealth.records.service import Records, load_json
from tests.support import FrozenClock, system_context

pytestmark = pytest.mark.integration

IMPORTER = AccessContext(
    subject="checkup-import", role=Role.SERVICE,
    scopes=parse_scopes("system/Observation.crs system/Patient.rs system/Encounter.r"),
)  # fmt: skip
EXPECTED = {  # LOINC → UCUM unit of each quantity member
    "8302-2": "cm", "29463-7": "kg", "8280-0": "cm", "39156-5": "kg/m2", "1558-6": "mg/dL",
    "718-7": "g/dL", "2160-0": "mg/dL", "98979-8": "mL/min/{1.73_m2}", "1920-8": "U/L",
    "1742-6": "U/L", "2324-2": "U/L", "74013-4": "{drinks}/d", "89555-7": "d/wk",
}  # fmt: skip


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from khealth.synth import SynthConfig, write_city

    out = tmp_path_factory.mktemp("city")
    write_city(SynthConfig(citizens=12, seed=5, dicom_max_studies=0, emergency_days=1), out, progress=False)  # fmt: skip
    return out


def rows(city: Path) -> list[dict[str, str]]:
    with (city / "checkups.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def load_city_patients(records: Records, city: Path, wanted: list[dict[str, str]]) -> None:
    encounters = {r["encounter_id"] for r in wanted}
    found: list[dict[str, Any]] = []
    for line in (city / "ndjson" / "Encounter.ndjson").read_bytes().splitlines():
        encounter = orjson.loads(line)
        if encounter["id"] in encounters:
            found.append(encounter)
    patients = {e["subject"]["reference"].split("/")[1] for e in found}
    for line in (city / "ndjson" / "Patient.ndjson").read_bytes().splitlines():
        patient = orjson.loads(line)
        if patient["id"] in patients:
            found.append(patient)
    with records.begin(system_context(), "update") as rs:
        outcomes = rs.upsert_many(found)
    assert not [o for o in outcomes if isinstance(o, Exception)]


def write_csv(path: Path, header: list[str], data: list[dict[str, str]]) -> Path:
    out = io.StringIO()
    writer = csv.DictWriter(out, header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(data)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def observations(records: Records) -> list[dict[str, Any]]:
    with records.begin(system_context(), "search-type") as rs:
        found = rs.search(parse_search("Observation", [("_count", "1000")]))
        return [load_json(v.content) for v in found.page.matches]


def test_good_rows_are_stored_with_loinc_codes_and_units_and_bad_rows_reported(records: Records, city: Path, tmp_path: Path) -> None:  # fmt: skip
    good = rows(city)[:3]
    load_city_patients(records, city, good)
    bad_glucose = {**good[0], "encounter_id": "x1", "fasting_glucose": "abc"}
    bad_urine = {**good[1], "encounter_id": "x2", "urine_protein": "++++", "sbp": ""}
    unknown = {**good[2], "encounter_id": "not-on-record", "citizen_id": "c-nobody"}
    header = list(good[0])
    path = write_csv(tmp_path / "checkups.csv", header, [good[0], bad_glucose, good[1], bad_urine, good[2], unknown])  # fmt: skip

    report = import_checkups(records, IMPORTER, path)

    assert report.rows == 6 and report.stored == 3 and report.already == 0
    assert report.errors == [
        "row 3: column fasting_glucose: not a number",
        "row 5: column sbp: required value is missing",
        "row 5: column urine_protein: not one of the allowed codes",
        "row 7: column citizen_id: no Patient on record for this checkup",
    ]
    assert not any("abc" in e or "++++" in e for e in report.errors)
    stored = observations(records)
    panels = [o for o in stored if o.get("hasMember")]
    assert len(panels) == 3
    by_id = {o["id"]: o for o in stored}
    first = next(p for p in panels if p["encounter"]["reference"] == f"Encounter/{good[0]['encounter_id']}")  # fmt: skip
    members = [by_id[m["reference"].split("/")[1]] for m in first["hasMember"]]
    subject = first["subject"]
    assert all(m["subject"] == subject for m in members)
    units = {m["code"]["coding"][0]["code"]: m["valueQuantity"]["code"] for m in members if "valueQuantity" in m}  # fmt: skip
    assert {k: v for k, v in units.items() if k in EXPECTED} == {k: EXPECTED[k] for k in units if k in EXPECTED}  # fmt: skip
    assert set(EXPECTED) <= set(units)
    lipids_tested = bool(good[0]["total_cholesterol"])  # every 4 years, by age and sex
    assert (units.get("2093-3") == "mg/dL") if lipids_tested else ("2093-3" not in units)
    glucose = next(m for m in members if m["code"]["coding"][0]["code"] == "1558-6")
    assert glucose["valueQuantity"]["value"] == float(good[0]["fasting_glucose"])
    bp = next(m for m in members if m["code"]["coding"][0]["code"] == "85354-9")
    assert [c["valueQuantity"]["value"] for c in bp["component"]] == [int(good[0]["sbp"]), int(good[0]["dbp"])]  # fmt: skip
    smoking = next(m for m in members if m["code"]["coding"][0]["code"] == "72166-2")
    assert smoking["valueCodeableConcept"]["coding"][0]["system"] == "http://snomed.info/sct"
    urine = next(m for m in members if m["code"]["coding"][0]["code"] == "20454-5")
    assert urine["valueCodeableConcept"]["text"] == good[0]["urine_protein"]
    assert first["valueCodeableConcept"]["text"] == good[0]["verdict"]
    assert first["meta"]["source"] == f"urn:khealth:facility:{good[0]['facility_id']}"


def test_a_rerun_adds_nothing(records: Records, city: Path, tmp_path: Path) -> None:
    good = rows(city)[:4]
    load_city_patients(records, city, good)
    path = write_csv(tmp_path / "checkups.csv", list(good[0]), good)
    first = import_checkups(records, IMPORTER, path)
    count = len(observations(records))
    again = import_checkups(records, IMPORTER, path)
    assert first.stored == 4 and again.stored == 0 and again.already == 4
    assert len(observations(records)) == count


def test_a_file_without_the_columns_is_refused_whole(records: Records, tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(CheckupFileError, match="year"):
        import_checkups(records, IMPORTER, path)


def test_the_command_imports_the_citys_file_and_exits_0(city: Path, tmp_path: Path) -> None:
    from khealth.cli.main import _register, app
    from khealth.store.factory import open_store

    _register()
    url = f"sqlite:///{tmp_path / 'k.db'}"
    store = open_store(url, migrate=True)
    everything = rows(city)
    load_city_patients(Records(store, FrozenClock()), city, everything)
    store.close()
    result = CliRunner().invoke(app, ["import-checkups", str(city / "checkups.csv"), "--database", url])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"{len(everything)} rows: {len(everything)} checkups stored" in result.output
