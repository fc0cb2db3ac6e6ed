from __future__ import annotations

import math
import pickle
from pathlib import Path
from typing import Any

import orjson
import pytest

from khealth.core.errors import KhealthError
from khealth.fhir.definitions import SUPPORTED_TYPES
from khealth.fhir.elementtypes import root
from khealth.fhir.extract import extract, patient_compartments, uncompiled
from khealth.fhir.fhirdates import OPEN_HIGH, OPEN_LOW, date_range
from khealth.fhir.fhirpath_compile import Uncompilable, compile_expression
from khealth.fhir.index import (
    CompositeValue,
    DateValue,
    NumberValue,
    QuantityValue,
    ReferenceValue,
    ResourceIndex,
    StringValue,
    TokenValue,
    UriValue,
    pack_index,
    unpack_index,
)

pytestmark = pytest.mark.unit

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SYNTHEA = SHARED_DATA / "synthea-r4"


def rows(index: ResourceIndex, param: str) -> list[Any]:
    lists: tuple[list[Any], ...] = (
        index.tokens, index.strings, index.dates, index.numbers, index.quantities,
        index.uris, index.references, index.composites,
    )  # fmt: skip
    return [r for found in lists for r in found if r.param == param]


def values_of(resource: dict[str, Any], param: str) -> list[Any]:
    return rows(extract(resource), param)


def span(text: str) -> tuple[int, int]:
    return date_range(text)


# (case, resource, param, expected rows in order)
CASES: list[tuple[str, dict[str, Any], str, list[Any]]] = [
    # --- token
    ("code is a bare token", {"resourceType": "Patient", "gender": "female"},
     "gender", [TokenValue("gender", None, "female")]),
    ("boolean is true/false", {"resourceType": "Patient", "active": False},
     "active", [TokenValue("active", None, "false")]),
    ("CodeableConcept gives each coding and its text",
     {"resourceType": "Condition", "code": {"coding": [
         {"system": "http://snomed.info/sct", "code": "44054006", "display": "Diabetes"},
         {"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11"}], "text": "Type 2 DM"}},
     "code", [TokenValue("code", "http://snomed.info/sct", "44054006", "diabetes"),
              TokenValue("code", "http://hl7.org/fhir/sid/icd-10", "E11", None),
              TokenValue("code", None, None, "type 2 dm")]),
    ("CodeableConcept text equal to a display adds no row",
     {"resourceType": "Condition",
      "code": {"coding": [{"system": "s", "code": "c", "display": "Flu"}], "text": "flu"}},
     "code", [TokenValue("code", "s", "c", "flu")]),
    ("Coding (meta.tag) keeps system, code and display",
     {"resourceType": "Observation",
      "meta": {"tag": [{"system": "t", "code": "x", "display": "X"}]}},
     "_tag", [TokenValue("_tag", "t", "x", "x")]),
    ("Identifier is system|value with its type text",
     {"resourceType": "Patient", "identifier": [
         {"system": "urn:oid:1.2", "value": "A1", "type": {"text": "Medical record"}},
         {"value": "B2"}]},
     "identifier", [TokenValue("identifier", "urn:oid:1.2", "A1", "medical record"),
                    TokenValue("identifier", None, "B2")]),
    ("phone keeps only phone ContactPoints",
     {"resourceType": "Patient", "telecom": [{"system": "phone", "value": "010-1234-5678"},
                                             {"system": "email", "value": "a@example.kr"}]},
     "phone", [TokenValue("phone", None, "010-1234-5678")]),
    ("email keeps only email ContactPoints",
     {"resourceType": "Practitioner", "telecom": [{"system": "phone", "value": "02-123"},
                                                  {"system": "email", "value": "d@example.kr"}]},
     "email", [TokenValue("email", None, "d@example.kr")]),
    ("telecom keeps every ContactPoint",
     {"resourceType": "Patient", "telecom": [{"system": "phone", "value": "1"},
                                             {"system": "email", "value": "2"}]},
     "telecom", [TokenValue("telecom", None, "1"), TokenValue("telecom", None, "2")]),
    ("deceasedDateTime is deceased=true", {"resourceType": "Patient", "deceasedDateTime": "2020"},
     "deceased", [TokenValue("deceased", None, "true")]),
    ("deceasedBoolean false is deceased=false",
     {"resourceType": "Patient", "deceasedBoolean": False},
     "deceased", [TokenValue("deceased", None, "false")]),
    ("no deceased element is deceased=false", {"resourceType": "Patient"},
     "deceased", [TokenValue("deceased", None, "false")]),
    ("choice cast to CodeableConcept",
     {"resourceType": "MedicationRequest", "medicationCodeableConcept": {"coding": [
         {"system": "rxnorm", "code": "123"}]}},
     "code", [TokenValue("code", "rxnorm", "123")]),
    ("a choice of another type is not cast",
     {"resourceType": "MedicationRequest", "medicationReference": {"reference": "Medication/m"}},
     "code", []),
    ("string primitive as token", {"resourceType": "Medication", "batch": {"lotNumber": "L-7"}},
     "lot-number", [TokenValue("lot-number", None, "L-7")]),
    # --- string
    ("HumanName gives one row per part, Hangul intact",
     {"resourceType": "Patient", "name": [{"family": "김", "given": ["민준", "Ｊｕｎ"],
                                            "prefix": ["Dr."], "text": "김민준"}]},
     "name", [StringValue("name", "김", "김"), StringValue("name", "민준", "민준"),
              StringValue("name", "ｊｕｎ", "Ｊｕｎ"), StringValue("name", "dr.", "Dr."),
              StringValue("name", "김민준", "김민준")]),
    ("accents are dropped, case folded",
     {"resourceType": "Patient", "name": [{"family": "Müller"}]},
     "family", [StringValue("family", "muller", "Müller")]),
    ("Address gives lines, city, district, state, postal code, country and text",
     {"resourceType": "Organization", "address": [{"line": ["1 Jongno-ro", "3F"], "city": "Seoul",
      "district": "Jongno-gu", "state": "Seoul", "postalCode": "03154", "country": "KR"}]},
     "address", [StringValue("address", "1 jongno-ro", "1 Jongno-ro"),
                 StringValue("address", "3f", "3F"), StringValue("address", "seoul", "Seoul"),
                 StringValue("address", "jongno-gu", "Jongno-gu"),
                 StringValue("address", "03154", "03154"), StringValue("address", "kr", "KR")]),
    ("alias joins name by union",
     {"resourceType": "Organization", "name": "Seoul Clinic", "alias": ["SC"]},
     "name", [StringValue("name", "seoul clinic", "Seoul Clinic"),
              StringValue("name", "sc", "SC")]),
    ("(X as CodeableConcept).text",
     {"resourceType": "Observation", "valueCodeableConcept": {"text": "Never smoker"}},
     "value-string", [StringValue("value-string", "never smoker", "Never smoker")]),
    # --- date
    ("a date is its precision range", {"resourceType": "Patient", "birthDate": "1980-05"},
     "birthdate", [DateValue("birthdate", *span("1980-05"))]),
    ("a Period spans start low to end high",
     {"resourceType": "Encounter", "period": {"start": "2020-01-01", "end": "2020-01-03"}},
     "date", [DateValue("date", span("2020-01-01")[0], span("2020-01-03")[1])]),
    ("a Period without end is open above",
     {"resourceType": "Encounter", "period": {"start": "2020-01-01T09:00:00Z"}},
     "date", [DateValue("date", span("2020-01-01T09:00:00Z")[0], OPEN_HIGH)]),
    ("a Period without start is open below",
     {"resourceType": "CarePlan", "period": {"end": "2021"}},
     "date", [DateValue("date", OPEN_LOW, span("2021")[1])]),
    ("an empty Period has no date", {"resourceType": "CarePlan", "period": {}}, "date", []),
    ("an uncast choice takes each of its date types",
     {"resourceType": "Observation", "effectivePeriod": {"start": "2020", "end": "2021"}},
     "date", [DateValue("date", span("2020")[0], span("2021")[1])]),
    ("Timing.event gives each event",
     {"resourceType": "MedicationRequest", "dosageInstruction": [{"timing": {"event": [
         "2020-01-01", "2020-01-02T08:00:00+09:00"]}}]},
     "date", [DateValue("date", *span("2020-01-01")),
              DateValue("date", *span("2020-01-02T08:00:00+09:00"))]),
    ("a malformed date is skipped", {"resourceType": "Patient", "birthDate": "1980-13"},
     "birthdate", []),
    # --- number and quantity
    ("decimal with its precision",
     {"resourceType": "RiskAssessment", "prediction": [{"probabilityDecimal": 0.25}]},
     "probability", [NumberValue("probability", 0.25, 0.245, 0.255)]),
    ("Quantity with system, code and unit",
     {"resourceType": "Observation", "valueQuantity": {"value": 120, "unit": "mmHg",
      "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
     "value-quantity", [QuantityValue("value-quantity", 120.0, 119.5, 120.5,
                                      "http://unitsofmeasure.org", "mm[Hg]", "mmHg")]),
    ("SampledData has no quantity value",
     {"resourceType": "Observation", "valueSampledData": {"origin": {"value": 1}, "data": "1 2"}},
     "value-quantity", []),
    ("Age from an uncast choice",
     {"resourceType": "Condition", "onsetAge": {"value": 40, "code": "a", "system": "u"}},
     "onset-age", [QuantityValue("onset-age", 40.0, 39.5, 40.5, "u", "a", None)]),
    ("Encounter.length is a Duration",
     {"resourceType": "Encounter", "length": {"value": 15, "code": "min"}},
     "length", [QuantityValue("length", 15.0, 14.5, 15.5, None, "min", None)]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("resource", "param", "expected"),
    [pytest.param(r, p, e, id=case) for case, r, p, e in CASES],
)
def test_it_extracts_the_value_the_datatype_implies(
    resource: dict[str, Any], param: str, expected: list[Any]
) -> None:
    assert values_of(resource, param) == expected


def test_a_range_is_one_quantity_with_nan_value_and_open_ends() -> None:
    both = {"low": {"value": 10, "system": "u", "code": "a"}, "high": {"value": 20}}
    [closed] = values_of({"resourceType": "Condition", "onsetRange": both}, "onset-age")
    assert (closed.low, closed.high, closed.system, closed.code) == (9.5, 20.5, "u", "a")
    assert math.isnan(closed.value)
    [open_high] = values_of(
        {"resourceType": "Condition", "abatementRange": {"low": {"value": 5}}}, "abatement-age"
    )
    assert (open_high.low, open_high.high) == (4.5, math.inf)


REFERENCES = [
    ("Patient/123", ReferenceValue("subject", "Patient", "123")),
    ("Patient/123/_history/4", ReferenceValue("subject", "Patient", "123")),
    (
        "https://other.example/fhir/Patient/9",
        ReferenceValue("subject", "Patient", "9", "https://other.example/fhir/Patient/9"),
    ),
    (
        "https://other.example/fhir/Patient/9/_history/2",
        ReferenceValue(
            "subject", "Patient", "9", "https://other.example/fhir/Patient/9/_history/2"
        ),
    ),
    ("urn:uuid:0f9d", ReferenceValue("subject", None, None, "urn:uuid:0f9d")),
    ("#contained-1", None),
    ("Patient?identifier=x|1", None),
]


@pytest.mark.parametrize(("reference", "expected"), REFERENCES)
def test_reference_forms(reference: str, expected: ReferenceValue | None) -> None:
    found = values_of(
        {"resourceType": "Observation", "subject": {"reference": reference}}, "subject"
    )
    assert found == ([expected] if expected else [])


def test_a_reference_identifier_is_kept_for_the_identifier_modifier() -> None:
    subject = {"identifier": {"system": "urn:kr:rrn-hash", "value": "h1"}, "type": "Patient"}
    found = values_of({"resourceType": "Observation", "subject": subject}, "subject")
    assert found == [ReferenceValue("subject", "Patient", None, None, "urn:kr:rrn-hash", "h1")]


def test_where_resolve_is_patient_keeps_only_patient_targets() -> None:
    appointment = {
        "resourceType": "Appointment",
        "participant": [
            {"actor": {"reference": "Patient/p1"}},
            {"actor": {"reference": "Practitioner/d1"}},
            {"actor": {"reference": "Location/l1"}},
        ],
    }
    index = extract(appointment)
    assert rows(index, "patient") == [ReferenceValue("patient", "Patient", "p1")]
    assert rows(index, "practitioner") == [ReferenceValue("practitioner", "Practitioner", "d1")]
    assert rows(index, "location") == [ReferenceValue("location", "Location", "l1")]
    assert len(rows(index, "actor")) == 3


def test_canonical_references_and_uris_keep_the_url() -> None:
    service_request = {
        "resourceType": "ServiceRequest",
        "instantiatesCanonical": ["http://example.org/fhir/PlanDefinition/p7|2.0"],
        "instantiatesUri": ["http://example.org/protocol"],
        "meta": {"profile": ["http://example.org/StructureDefinition/x"], "source": "urn:src"},
    }
    index = extract(service_request)
    assert rows(index, "instantiates-canonical") == [
        ReferenceValue("instantiates-canonical", "PlanDefinition", "p7",
                       "http://example.org/fhir/PlanDefinition/p7|2.0")
    ]  # fmt: skip
    assert rows(index, "instantiates-uri") == [
        UriValue("instantiates-uri", "http://example.org/protocol")
    ]
    assert rows(index, "_profile") == [
        UriValue("_profile", "http://example.org/StructureDefinition/x")
    ]
    assert rows(index, "_source") == [UriValue("_source", "urn:src")]


BLOOD_PRESSURE = {
    "resourceType": "Observation",
    "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
    "component": [
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
            "valueQuantity": {
                "value": 135,
                "system": "http://unitsofmeasure.org",
                "code": "mm[Hg]",
            },
        },
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
            "valueQuantity": {"value": 85, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
        },
    ],
}


def pairs(index: ResourceIndex, param: str) -> set[tuple[str | None, float]]:
    found = set()
    for row in rows(index, param):
        assert isinstance(row, CompositeValue)
        code, quantity = row.components
        assert isinstance(code, TokenValue) and isinstance(quantity, QuantityValue)
        found.add((code.code, quantity.value))
    return found


def test_composites_pair_components_of_the_same_element_only() -> None:
    index = extract(BLOOD_PRESSURE)
    # systolic is only ever paired with 135: "8480-6$gt130" matches, "8462-4$gt130" cannot
    assert pairs(index, "component-code-value-quantity") == {("8480-6", 135.0), ("8462-4", 85.0)}
    assert pairs(index, "combo-code-value-quantity") == {("8480-6", 135.0), ("8462-4", 85.0)}
    assert rows(index, "code-value-quantity") == []  # the Observation itself has no value


def test_a_composite_on_the_resource_pairs_its_code_and_value() -> None:
    weight = {
        "resourceType": "Observation",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "valueQuantity": {"value": 70.5, "code": "kg"},
    }
    index = extract(weight)
    assert pairs(index, "code-value-quantity") == {("29463-7", 70.5)}
    assert pairs(index, "combo-code-value-quantity") == {("29463-7", 70.5)}


def test_a_composite_emits_every_combination_of_its_components() -> None:
    observation = {
        "resourceType": "Observation",
        "code": {"coding": [{"system": "a", "code": "1"}, {"system": "b", "code": "2"}]},
        "valueCodeableConcept": {
            "coding": [{"system": "v", "code": "x"}, {"system": "v", "code": "y"}]
        },
    }
    assert len(values_of(observation, "code-value-concept")) == 4


def test_document_reference_relationship_pairs_code_and_target_despite_r4_definitions() -> None:
    document = {
        "resourceType": "DocumentReference",
        "relatesTo": [{"code": "replaces", "target": {"reference": "DocumentReference/old"}}],
    }
    [row] = values_of(document, "relationship")
    code, target = row.components
    assert isinstance(code, TokenValue) and code.code == "replaces"
    assert isinstance(target, ReferenceValue) and target.target_id == "old"


def test_identical_values_are_kept_once_per_parameter() -> None:
    patient = {
        "resourceType": "Patient",
        "name": [{"family": "Kim", "given": ["Kim"]}, {"family": "Kim"}],
    }
    assert values_of(patient, "family") == [StringValue("family", "kim", "Kim")]
    assert values_of(patient, "name") == [StringValue("name", "kim", "Kim")]


def test_id_and_last_updated_are_columns_not_index_rows() -> None:
    index = extract(
        {"resourceType": "Patient", "id": "p1", "meta": {"lastUpdated": "2020-01-01T00:00:00Z"}}
    )
    assert not {"_id", "_lastUpdated"} & index.params()


@pytest.mark.parametrize("resource_type", ["Spaceship", "HumanName", "DomainResource", None])
def test_an_unknown_resource_type_is_refused(resource_type: str | None) -> None:
    with pytest.raises(KhealthError):
        extract({"resourceType": resource_type})


#: The types the platform's first release is measured on (issue 2's list).
CORE_TYPES = (
    "Patient", "Person", "Practitioner", "PractitionerRole", "Organization", "Location",
    "HealthcareService", "Endpoint", "Encounter", "EpisodeOfCare", "Condition", "Observation",
    "DiagnosticReport", "Medication", "MedicationRequest", "MedicationStatement",
    "MedicationDispense", "Immunization", "AllergyIntolerance", "Procedure", "ServiceRequest",
    "ImagingStudy", "DocumentReference", "CarePlan", "Coverage", "Claim", "ExplanationOfBenefit",
    "Consent", "Provenance", "AuditEvent", "Device", "Group", "Flag", "RiskAssessment",
    "QuestionnaireResponse", "Appointment",
)  # fmt: skip


def skipped_params(types: tuple[str, ...]) -> set[tuple[str, str]]:
    return {
        (s.resource_type, s.code)
        for t in types
        for s in uncompiled(t)
        if s.expression  # _text, _content, _query... have no expression to compile
    }


def test_only_location_near_is_left_uncompiled_among_the_core_types() -> None:
    assert skipped_params(CORE_TYPES) == {("Location", "near")}


def test_every_supported_type_compiles_but_for_a_known_few() -> None:
    assert skipped_params(SUPPORTED_TYPES) <= {
        ("Location", "near"),
        ("Bundle", "composition"),  # Bundle.entry[0]: indexers are outside the subset
        ("Bundle", "message"),
        ("MolecularSequence", "chromosome-variant-coordinate"),  # %resource in a component
        ("MolecularSequence", "referenceseqid-variant-coordinate"),
    }


@pytest.mark.parametrize(
    "expression",
    ["Patient.name.first()", "Patient.name[0]", "Patient.extension('http://x')", "Patient.nope"],
)
def test_expressions_outside_the_subset_are_refused(expression: str) -> None:
    with pytest.raises(Uncompilable):
        compile_expression(expression, root("Patient"))


# --- Patient compartment


COMPARTMENTS = [
    ("an Observation joins its subject's compartment",
     {"resourceType": "Observation", "subject": {"reference": "Patient/p1"},
      "performer": [{"reference": "Practitioner/d1"}]}, {"p1"}),
    ("an Observation performed by a patient joins that compartment too",
     {"resourceType": "Observation", "subject": {"reference": "Patient/p1"},
      "performer": [{"reference": "Patient/p2"}]}, {"p1", "p2"}),
    ("an Encounter joins its subject's compartment",
     {"resourceType": "Encounter", "subject": {"reference": "Patient/p1/_history/2"}}, {"p1"}),
    ("an Encounter of a Group joins none",
     {"resourceType": "Encounter", "subject": {"reference": "Group/g1"}}, set()),
    ("a Patient is in its own compartment and its linked patients'",
     {"resourceType": "Patient", "id": "p1", "link": [{"other": {"reference": "Patient/p0"}}]},
     {"p1", "p0"}),
    ("a Practitioner is in no patient's compartment",
     {"resourceType": "Practitioner", "id": "d1"}, set()),
    ("an absolute URL to another server's patient does not count",
     {"resourceType": "Observation", "subject": {"reference": "https://x.example/Patient/p1"}},
     set()),
]  # fmt: skip


@pytest.mark.parametrize(
    ("resource", "expected"),
    [pytest.param(r, e, id=case) for case, r, e in COMPARTMENTS],
)
def test_patient_compartment_membership(resource: dict[str, Any], expected: set[str]) -> None:
    assert patient_compartments(resource) == expected
    assert patient_compartments(resource, extract(resource)) == expected


# --- every Synthea resource


def synthea_resources() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(SYNTHEA.glob("*.json")):
        found.extend(e["resource"] for e in orjson.loads(path.read_bytes())["entry"])
    return found


@pytest.mark.skipif(not SYNTHEA.is_dir(), reason="../shared/data/synthea-r4 is not present")
def test_every_synthea_resource_extracts_without_error() -> None:
    resources = synthea_resources()
    assert len(resources) > 1000
    for resource in resources:
        index = extract(resource)
        if resource["resourceType"] == "Observation":
            assert "code" in index.params() and "date" in index.params()
        patient_compartments(resource, index)


@pytest.mark.skipif(not SYNTHEA.is_dir(), reason="../shared/data/synthea-r4 is not present")
def test_the_packed_index_a_worker_sends_comes_back_whole() -> None:
    """Bulk import sends each resource's index between processes as plain tuples."""
    for resource in synthea_resources():
        index = extract(resource)
        sent = pickle.loads(pickle.dumps(pack_index(index)))
        assert repr(unpack_index(sent)) == repr(index)  # repr: a Range's NaN is not == itself
