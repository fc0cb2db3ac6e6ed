"""Features from the city record: unit conversions, LOINC mapping, provenance (which facility,
when, which Observation), the latest and trended values across two facilities, and the
medication and diagnosis history. Pure: resources in, features out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from khealth.cds import units
from khealth.cds.analytes import ANALYTES, BY_CODE
from khealth.cds.features import features_from_resources
from khealth.cds.risks import pce

pytestmark = pytest.mark.unit
TODAY = dt.date(2026, 11, 29)
ATC = "http://www.whocc.no/atc"
KCD8 = "http://www.hl7korea.or.kr/CodeSystem/kostat-kcd-8"


# (dimension, value, unit as a feed writes it, expected canonical value); tolerance 0.01
CONVERSIONS = [
    ("glucose", 7.0, "mmol/L", 126.11),
    ("glucose", 126, "mg/dL", 126.0),
    ("glucose", 5.5, "mmol/l", 99.09),
    ("cholesterol", 5.17, "mmol/L", 199.92),
    ("triglycerides", 1.7, "mmol/L", 150.57),
    ("creatinine", 88.4, "umol/L", 1.0),
    ("creatinine", 132.6, "µmol/L", 1.5),
    ("creatinine", 1.2, "mg/dl", 1.2),
    ("hba1c", 48, "mmol/mol", 6.543),
    ("hba1c", 6.5, "%", 6.5),
    ("haemoglobin", 135, "g/L", 13.5),
    ("haemoglobin", 8.0, "mmol/L", 12.89),
    ("length", 1.7, "m", 170.0),
    ("length", 34, "[in_i]", 86.36),
    ("mass", 154, "[lb_av]", 69.85),
    ("pressure", 16, "kPa", 120.01),
    ("pressure", 120, "mmHg", 120.0),
    ("enzyme", 0.5, "ukat/L", 30.0),
    ("cell_count", 250, "10*3/uL", 250.0),
    ("cell_count", 250000, "/uL", 250.0),
    ("acr", 3.4, "mg/mmol", 30.06),
    ("egfr", 58, "mL/min/1.73m2", 58.0),
]


@pytest.mark.parametrize(("dimension", "value", "unit", "expected"), CONVERSIONS)
def test_it_converts_each_unit_to_the_canonical_one(
    dimension: str, value: float, unit: str, expected: float
) -> None:
    assert units.to_canonical(dimension, value, unit) == pytest.approx(expected, abs=0.01)


@pytest.mark.parametrize(("dimension", "unit"), [
    ("glucose", "U/L"), ("glucose", None), ("creatinine", "furlong"), ("hba1c", "mg/dL"),
])  # fmt: skip
def test_it_refuses_a_unit_it_does_not_know_rather_than_guess(
    dimension: str, unit: str | None
) -> None:
    assert units.to_canonical(dimension, 5.0, unit) is None


def test_every_loinc_code_maps_to_one_analyte_with_a_known_dimension() -> None:
    codes = [code for a in ANALYTES for code in a.codes]
    assert len(codes) == len(set(codes)) == len(BY_CODE)
    for analyte in ANALYTES:
        assert analyte.kind == "coded" or analyte.dimension in units.TABLE
    assert {"8480-6", "1558-6", "4548-4", "2093-3", "2085-9", "2160-0", "98979-8",
            "20454-5", "72166-2", "777-3", "8280-0"} <= set(BY_CODE)  # fmt: skip


# -- a person registered at two facilities -------------------------------------------------


def patient(id: str, org: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": id, "gender": "male", "birthDate": "1966-03-01",
            "managingOrganization": {"reference": f"Organization/{org}"}, **extra}  # fmt: skip


def encounter(id: str, patient_id: str, org: str, kind: str = "acute-visit") -> dict[str, Any]:
    return {"resourceType": "Encounter", "id": id, "status": "finished",
            "subject": {"reference": f"Patient/{patient_id}"},
            "type": [{"coding": [{"code": kind}]}],
            "serviceProvider": {"reference": f"Organization/{org}"}}  # fmt: skip


def observation(id: str, patient_id: str, loinc: str, value: float, unit: str, when: str,
                encounter_id: str | None = None, **extra: Any) -> dict[str, Any]:  # fmt: skip
    resource: dict[str, Any] = {
        "resourceType": "Observation", "id": id, "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
        "subject": {"reference": f"Patient/{patient_id}"}, "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org",
                          "code": unit},
        **extra,
    }  # fmt: skip
    if encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{encounter_id}"}
    return resource


def two_facilities() -> list[dict[str, Any]]:
    return [
        patient("pa", "hospital-a"),
        patient("pb", "clinic-b"),
        encounter("ea", "pa", "hospital-a"),
        encounter("eb", "pb", "clinic-b", kind="national-health-checkup"),
        # hospital A reports glucose in mmol/L, clinic B in mg/dL
        observation("g1", "pa", "1558-6", 6.0, "mmol/L", "2024-03-02T09:00:00+09:00", "ea"),
        observation("g2", "pb", "1558-6", 131, "mg/dL", "2025-06-10T09:00:00+09:00", "eb"),
        observation("g3", "pa", "1558-6", 5.0, "mmol/L", "2023-01-05", None),
        observation("c1", "pa", "14682-9", 106.1, "umol/L", "2025-01-10", "ea"),
        observation(
            "x1", "pb", "1558-6", 999, "mg/dL", "2026-01-01", "eb", status="entered-in-error"
        ),
    ]


def test_it_orders_values_from_two_facilities_in_time_in_one_unit() -> None:
    features = features_from_resources(two_facilities(), ["pa", "pb"], TODAY)
    trend = features.trend("fasting_glucose")
    assert [m.provenance.resource for m in trend] == [
        "Observation/g3", "Observation/g1", "Observation/g2",
    ]  # fmt: skip
    assert [round(m.number, 1) for m in trend] == [90.1, 108.1, 131.0]
    assert {m.unit for m in trend} == {"mg/dL"}
    latest = features.latest("fasting_glucose")
    assert latest is not None and latest.provenance.facility == "Organization/clinic-b"
    assert features.skipped_values == 1  # the entered-in-error value


def test_each_value_names_its_facility_date_observation_and_patient() -> None:
    features = features_from_resources(two_facilities(), ["pa", "pb"], TODAY)
    by_id = {m.provenance.resource: m for m in features.trend("fasting_glucose")}
    via_encounter = by_id["Observation/g1"].provenance
    assert (via_encounter.facility, via_encounter.patient, via_encounter.encounter) == (
        "Organization/hospital-a", "Patient/pa", "Encounter/ea",
    )  # fmt: skip
    # no encounter: the facility of the Patient it was recorded under
    assert by_id["Observation/g3"].provenance.facility == "Organization/hospital-a"
    assert by_id["Observation/g3"].when.date() == dt.date(2023, 1, 5)
    creatinine = features.latest("creatinine")
    assert creatinine is not None and creatinine.number == pytest.approx(1.2, abs=0.001)
    assert features.checkup_encounters == frozenset({"eb"})


def test_a_performing_organization_wins_over_the_encounter() -> None:
    resources = two_facilities()
    resources.append(observation("h1", "pa", "4548-4", 6.1, "%", "2026-01-01", "ea",
                                 performer=[{"reference": "Organization/lab-c"}]))  # fmt: skip
    features = features_from_resources(resources, ["pa", "pb"], TODAY)
    latest = features.latest("hba1c")
    assert latest is not None and latest.provenance.facility == "Organization/lab-c"


def test_latest_within_a_window_ignores_old_values() -> None:
    features = features_from_resources(two_facilities(), ["pa", "pb"], TODAY)
    assert features.latest("fasting_glucose", within_days=365) is None
    assert features.latest("fasting_glucose", within_days=730) is not None


def test_it_reads_blood_pressure_components_urine_protein_and_smoking() -> None:
    panel = {
        "resourceType": "Observation", "id": "bp", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "subject": {"reference": "Patient/pa"}, "effectiveDateTime": "2026-05-01",
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
             "valueQuantity": {"value": 142, "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
             "valueQuantity": {"value": 91, "code": "mm[Hg]"}},
        ],
    }  # fmt: skip
    urine = {"resourceType": "Observation", "id": "u", "status": "final",
             "code": {"coding": [{"system": "http://loinc.org", "code": "20454-5"}]},
             "subject": {"reference": "Patient/pa"}, "effectiveDateTime": "2026-05-01",
             "valueCodeableConcept": {"text": "+1"}}  # fmt: skip
    smoking = {"resourceType": "Observation", "id": "s", "status": "final",
               "code": {"coding": [{"system": "http://loinc.org", "code": "72166-2"}]},
               "subject": {"reference": "Patient/pa"}, "effectiveDateTime": "2026-05-01",
               "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct",
                                                    "code": "449868002"}]}}  # fmt: skip
    features = features_from_resources([patient("pa", "a"), panel, urine, smoking], ["pa"], TODAY)
    sbp, dbp = features.latest("systolic_bp"), features.latest("diastolic_bp")
    assert sbp is not None and dbp is not None
    assert (sbp.number, dbp.number, sbp.provenance.resource) == (142.0, 91.0, "Observation/bp")
    urine_protein = features.latest("urine_protein")
    assert urine_protein is not None and urine_protein.value == "1+"
    assert features.smoking == "current"


def medication(
    id: str, atc: str, authored: str, days: int, status: str = "completed"
) -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "id": id, "status": status, "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": ATC, "code": atc}], "text": id},
            "subject": {"reference": "Patient/pa"}, "authoredOn": authored,
            "dispenseRequest": {"expectedSupplyDuration": {"value": days, "code": "d",
                                                           "unit": "days"}}}  # fmt: skip


def test_it_knows_current_drug_classes_from_atc_codes_and_supply() -> None:
    resources = [
        patient("pa", "a"),
        medication("rosuvastatin", "C10AA07", "2026-10-01T10:00:00+09:00", 90),
        medication("metformin", "A10BA02", "2024-01-01T10:00:00+09:00", 90),  # long run out
        medication("amlodipine", "C08CA01", "2026-11-01T10:00:00+09:00", 30, status="active"),
    ]
    features = features_from_resources(resources, ["pa"], TODAY)
    assert features.on("statin") and features.on("antihypertensive")
    assert not features.on("diabetes") and features.ever_on("diabetes")
    assert "metformin" in features.medications[0].classes


def test_it_keeps_active_kcd8_diagnoses_and_drops_refuted_ones() -> None:
    def condition(
        id: str, code: str, clinical: str, verification: str = "confirmed"
    ) -> dict[str, Any]:
        return {"resourceType": "Condition", "id": id, "subject": {"reference": "Patient/pa"},
                "clinicalStatus": {"coding": [{"code": clinical}]},
                "verificationStatus": {"coding": [{"code": verification}]},
                "code": {"coding": [{"system": KCD8, "code": code}]},
                "onsetDateTime": "2020-01-01"}  # fmt: skip

    resources = [patient("pa", "a"), condition("d1", "E11.9", "active"),
                 condition("d2", "I10", "resolved"), condition("d3", "N18.3", "active", "refuted")]  # fmt: skip
    features = features_from_resources(resources, ["pa"], TODAY)
    assert [d.code for d in features.diagnoses] == ["E11.9", "I10"]
    assert features.diagnosed("diabetes")
    assert not features.diagnosed("hypertension") and not features.diagnosed("ckd")
    assert features.diagnoses[0].provenance.facility == "Organization/a"


def test_a_risk_names_the_inputs_the_record_lacks_instead_of_guessing() -> None:
    features = features_from_resources(two_facilities(), ["pa", "pb"], TODAY)
    assessed = pce(features)
    assert assessed.result is None
    assert {"total_cholesterol", "hdl", "systolic_bp", "smoker"} <= set(assessed.missing)


def test_types_the_caller_cannot_read_make_inputs_missing_not_false() -> None:
    features = features_from_resources(two_facilities(), ["pa", "pb"], TODAY,
                                       unreadable=("MedicationRequest",))  # fmt: skip
    assert {"on_bp_treatment", "diabetes"} <= set(pce(features).missing)
