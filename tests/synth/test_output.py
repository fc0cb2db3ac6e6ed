"""The written city: determinism, valid FHIR, resolvable references, DICOM, HL7, emergency."""

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import orjson
import pydicom
import pytest

from khealth.synth import OutputExistsError, SynthConfig, write_city
from khealth.synth.identifiers import is_synthetic_rrn
from tests.synth.helpers import read_csv, references, resources

pytestmark = pytest.mark.integration


def _digest(out: Path) -> dict[str, str]:
    return {
        str(path.relative_to(out)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(out.rglob("*"))
        if path.is_file()
    }


def test_the_same_seed_and_size_give_byte_identical_output(tmp_path):
    config = SynthConfig(citizens=60, seed=11, dicom_max_studies=3, emergency_days=1)
    write_city(config, tmp_path / "a", progress=False)
    write_city(config, tmp_path / "b", progress=False)
    first, second = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert first == second
    assert any(name.startswith("dicom/") for name in first)


def test_a_different_seed_gives_different_output(tmp_path):
    write_city(SynthConfig(citizens=30, seed=1, emergency_days=1), tmp_path / "a", progress=False)
    write_city(SynthConfig(citizens=30, seed=2, emergency_days=1), tmp_path / "b", progress=False)
    first, second = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert first["ndjson/Patient.ndjson"] != second["ndjson/Patient.ndjson"]
    assert first["ground-truth.csv"] != second["ground-truth.csv"]


def test_it_refuses_to_overwrite_earlier_output_unless_asked(tmp_path):
    config = SynthConfig(citizens=2, seed=1, emergency_days=0)
    write_city(config, tmp_path, progress=False)
    with pytest.raises(OutputExistsError):
        write_city(config, tmp_path, progress=False)
    write_city(config, tmp_path, progress=False, overwrite=True)


def test_every_resource_has_a_unique_id_and_every_reference_resolves(small_city):
    ids: set[str] = set()
    refs: list[str] = []
    for resource in resources(small_city):
        key = f"{resource['resourceType']}/{resource['id']}"
        assert key not in ids
        ids.add(key)
        refs.extend(references(resource))
    assert refs
    unresolved = [ref for ref in refs if ref not in ids]
    assert unresolved == []


def test_every_resource_passes_the_store_validator(small_city):
    validation = pytest.importorskip("khealth.fhir.validation")
    failures = []
    for resource in resources(small_city):
        issues = validation.validate_resource(resource)
        if issues:
            failures.append((resource["resourceType"], resource["id"], issues[:2]))
    assert failures == []


def test_the_city_has_the_facility_mix_and_all_clinical_resource_types(small_city):
    counts = Counter(r["resourceType"] for r in resources(small_city))
    assert counts["Organization"] >= 430
    for kind in (
        "Location",
        "HealthcareService",
        "Practitioner",
        "PractitionerRole",
        "Endpoint",
        "Patient",
        "Encounter",
        "Condition",
        "Observation",
        "MedicationRequest",
        "Immunization",
        "AllergyIntolerance",
        "Procedure",
        "DocumentReference",
        "ImagingStudy",
    ):
        assert counts[kind] > 0, kind


def test_every_facility_patient_is_in_the_ground_truth_and_maps_to_a_citizen(small_city):
    truth = {row["patient_id"]: row for row in read_csv(small_city / "ground-truth.csv")}
    citizens = {row["citizen_id"] for row in read_csv(small_city / "citizens.csv")}
    patients = [r for r in resources(small_city) if r["resourceType"] == "Patient"]
    assert {p["id"] for p in patients} == set(truth)
    assert {row["citizen_id"] for row in truth.values()} <= citizens
    # Most citizens are known to several facilities, each with its own Patient and MRN.
    per_citizen = Counter(row["citizen_id"] for row in truth.values())
    assert sum(per_citizen.values()) / len(per_citizen) > 2


def test_resident_numbers_in_patients_and_citizens_are_synthetic_and_unique(small_city):
    rows = read_csv(small_city / "citizens.csv")
    rrns = [row["rrn"] for row in rows]
    assert len(set(rrns)) == len(rrns)
    assert all(is_synthetic_rrn(rrn) for rrn in rrns)
    for patient in (r for r in resources(small_city) if r["resourceType"] == "Patient"):
        for identifier in patient["identifier"]:
            if identifier["system"].endswith("kr-rrn"):
                assert is_synthetic_rrn(identifier["value"])


def test_clinical_notes_carry_names_phones_and_resident_numbers_for_scrubbers(small_city):
    import base64
    import re

    texts = [
        base64.b64decode(r["content"][0]["attachment"]["data"]).decode()
        for r in resources(small_city)
        if r["resourceType"] == "DocumentReference"
    ]
    assert texts
    assert sum(bool(re.search(r"\d{6}-\d{7}", t)) for t in texts) > len(texts) * 0.8
    assert all(re.search(r"010-0\d{3}-\d{4}", t) for t in texts)


def test_dicom_files_open_in_pydicom_and_their_pixel_data_decodes(small_city):
    files = sorted((small_city / "dicom").rglob("*.dcm"))
    assert files
    modalities = set()
    study_uids = {
        identifier["value"].removeprefix("urn:oid:")
        for r in resources(small_city)
        if r["resourceType"] == "ImagingStudy"
        for identifier in r["identifier"]
        if identifier.get("system") == "urn:dicom:uid"
    }
    for path in files:
        dataset = pydicom.dcmread(path)
        pixels = dataset.pixel_array
        assert pixels.shape == (64, 64)
        assert np.ptp(pixels) > 0
        assert dataset.StudyInstanceUID in study_uids
        assert dataset.SOPInstanceUID == path.stem
        modalities.add(dataset.Modality)
    assert "DX" in modalities


def test_hl7v2_messages_are_adt_and_oru_with_msh_and_pid(small_city):
    text = b"".join(p.read_bytes() for p in sorted((small_city / "hl7v2").glob("*.hl7"))).decode()
    messages = [m for m in text.split("\n") if m]
    assert messages
    for message in messages:
        segments = message.rstrip("\r").split("\r")
        assert segments[0].startswith("MSH|^~\\&|")
        assert any(s.startswith("PID|") for s in segments)
    kinds = {m.split("\r")[0].split("|")[8] for m in messages}
    assert "ADT^A04^ADT_A01" in kinds


def test_emergency_capacity_covers_every_emergency_department_every_hour(small_city):
    lines = (small_city / "emergency" / "capacity.ndjson").read_bytes().splitlines()
    snapshots = [orjson.loads(line) for line in lines]
    facilities = {s["facility_id"] for s in snapshots}
    assert len(facilities) == 18  # 1 regional + 5 local centres + 12 local institutions
    assert len(snapshots) == 18 * 24 * 2
    assert all(0 <= s["ed_beds_available"] <= s["ed_beds_total"] for s in snapshots)


def test_checkup_csv_has_the_documented_columns(small_city):
    from khealth.synth.checkups import CSV_COLUMNS

    rows = read_csv(small_city / "checkups.csv")
    assert rows
    assert tuple(rows[0]) == CSV_COLUMNS
