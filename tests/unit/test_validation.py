"""The structural validator run on every write (khealth.fhir.validation)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from khealth.core.errors import InvalidResource
from khealth.fhir.definitions import load_definition
from khealth.fhir.structure import TypeModel, structure_model
from khealth.fhir.validation import (
    MAX_ISSUES,
    check_resource,
    is_known_resource_type,
    validate_resource,
)

pytestmark = pytest.mark.unit

Resource = dict[str, Any]

# tests/unit/test_validation.py -> the repository root is two folders up; the shared data
# sits beside the repository (../shared/data), and is absent on a fresh clone.
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
SYNTHEA_BUNDLES = sorted((SHARED_DATA / "synthea-r4").glob("*.json"))

UUID = "urn:uuid:3f1a2b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b"


def patient() -> Resource:
    return {
        "resourceType": "Patient",
        "id": "p-1",
        "meta": {"versionId": "1", "lastUpdated": "2024-03-01T09:30:00.123+09:00"},
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'},
        "identifier": [{"system": "urn:oid:1.2.410.100", "value": "900101-1"}],
        "active": True,
        "name": [{"use": "official", "family": "김", "given": ["민수", "준"]}],
        "telecom": [{"system": "phone", "value": "010-0000-0000", "rank": 1}],
        "gender": "male",
        "birthDate": "1990-01-01",
        "_birthDate": {"extension": [{"url": "http://example.org/accuracy", "valueCode": "exact"}]},
        "multipleBirthInteger": 2,
        "photo": [{"contentType": "image/png", "data": "aGVsbG8=", "size": 5}],
        "managingOrganization": {"reference": "Organization/org-1"},
    }


def observation() -> Resource:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "subject": {"reference": UUID},
        "effectiveDateTime": "2024-03-01T09:30:00+09:00",
        "issued": "2024-03-01T09:30:00Z",
        "component": [
            {
                "code": {"text": "systolic"},
                "valueQuantity": {
                    "value": 120,
                    "unit": "mm[Hg]",
                    "system": "http://unitsofmeasure.org",
                },
            },
            {"code": {"text": "diastolic"}, "valueQuantity": {"value": 80.5}},
            {"code": {"text": "heart rate"}, "valueQuantity": {"value": 61, "comparator": "<"}},
        ],
        "referenceRange": [{"low": {"value": 90}, "high": {"value": 1.2e2}}],
    }


def encounter() -> Resource:
    return {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": "Patient/p-1/_history/3"},
        "period": {"start": "2024", "end": "2024-03"},
        "serviceProvider": {"reference": "https://fhir.example.org/R4/Organization/o1"},
    }


def condition() -> Resource:
    return {
        "resourceType": "Condition",
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "code": {"text": "hypertension"},
        "subject": {"reference": "Patient/p-1"},
        "onsetAge": {"value": 54, "unit": "a"},
    }


def transaction() -> Resource:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": UUID,
                "resource": patient(),
                "request": {"method": "POST", "url": "Patient"},
            },
            {"resource": observation(), "request": {"method": "POST", "url": "Observation"}},
        ],
    }


def parameters() -> Resource:
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "count", "valueInteger": 3},
            {"name": "resource", "resource": observation()},
        ],
    }


def with_contained() -> Resource:
    return {
        "resourceType": "MedicationRequest",
        "contained": [{"resourceType": "Medication", "id": "med", "code": {"text": "aspirin"}}],
        "status": "active",
        "intent": "order",
        "medicationReference": {"reference": "#med"},
        "subject": {"reference": "Patient/p-1"},
        "authoredOn": "2024-03-01",
    }


def with_aligned_nulls() -> Resource:
    resource = patient()
    resource["name"] = [
        {
            "given": ["민수", None],
            "_given": [None, {"extension": [{"url": "http://example.org/x", "valueString": "y"}]}],
        }
    ]
    return resource


def with_status_extension_only() -> Resource:
    # A required primitive given only by its extension (data-absent-reason) is present.
    resource = observation()
    del resource["status"]
    absent = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
    resource["_status"] = {"extension": [{"url": absent, "valueCode": "unknown"}]}
    return resource


@pytest.mark.parametrize(
    "make",
    [
        patient,
        observation,
        encounter,
        condition,
        transaction,
        parameters,
        with_contained,
        with_aligned_nulls,
        with_status_extension_only,
    ],
)
def test_it_accepts_a_valid_resource(make: Callable[[], Resource]) -> None:
    assert validate_resource(make()) == []
    check_resource(make())


def changed(make: Callable[[], Resource], path: str, value: object) -> Resource:
    """``make()`` with the element at ``path`` (dots and [i]) set, or removed for DELETE."""
    resource = make()
    *parents, last = _steps(path)
    target: Any = resource
    for step in parents:
        target = target[step]
    if value is DELETE:
        del target[last]
    else:
        target[last] = copy.deepcopy(value)
    return resource


def _steps(path: str) -> list[str | int]:
    steps: list[str | int] = []
    for part in path.split("."):
        name, *indexes = part.replace("]", "").split("[")
        steps.append(name)
        steps.extend(int(i) for i in indexes)
    return steps


DELETE = object()
REF = "managingOrganization.reference"


def case(
    name: str,
    make: Callable[[], Resource],
    path: str,
    value: object,
    code: str,
    expression: str | None = None,
) -> Any:
    """``make()`` with ``path`` set to ``value``: expect one issue at ``expression``."""
    resource = changed(make, path, value)
    if expression is None:
        expression = f"{make()['resourceType']}.{path}"
    return pytest.param(resource, expression, code, id=name)


INVALID_CASES = [
    case("unknown gender code", patient, "gender", "mal", "code-invalid"),
    case("missing status", observation, "status", DELETE, "required"),
    case("missing code", observation, "code", DELETE, "required"),
    case("unknown element", patient, "nickname", "x", "structure"),
    case("month 13", patient, "birthDate", "2020-13-01", "value"),
    case("february 30", patient, "birthDate", "2020-02-30", "value"),
    case("date with time", patient, "birthDate", "2020-01-01T00:00:00Z", "value"),
    case("dateTime without zone", observation, "effectiveDateTime", "2024-03-01T09:30:00", "value"),
    case("instant without zone", observation, "issued", "2024-03-01T09:30:00", "value"),
    case("partial instant", observation, "issued", "2024-03-01", "value"),
    case("boolean as string", patient, "active", "true", "value"),
    case("integer beyond 32 bits", patient, "multipleBirthInteger", 2**31, "value"),
    case("integer as float", patient, "multipleBirthInteger", 2.5, "value"),
    case("integer as boolean", patient, "multipleBirthInteger", True, "value"),
    case("positiveInt zero", patient, "telecom[0].rank", 0, "value"),
    case("unsignedInt negative", patient, "photo[0].size", -1, "value"),
    case("decimal as string", observation, "component[2].valueQuantity.value", "61", "value"),
    case("code with trailing space", patient, "gender", "male ", "value"),
    case("id with a space", patient, "id", "p 1", "value"),
    case("id of 65 characters", patient, "id", "a" * 65, "value"),
    case("uri with a space", patient, "identifier[0].system", "urn:x y", "value"),
    case(
        "bad oid",
        parameters,
        "parameter[0]",
        {"name": "o", "valueOid": "urn:oid:1..2"},
        "value",
        "Parameters.parameter[0].valueOid",
    ),
    case("bad base64", patient, "photo[0].data", "aGVsbG8", "value"),
    case("narrative without div", patient, "text.div", "<p>x</p>", "value"),
    case("empty string", patient, "name[0].family", "", "value"),
    case("empty string in array", patient, "name[0].given[1]", "", "value"),
    case("empty object", patient, "meta", {}, "structure"),
    case("empty array", patient, "identifier", [], "structure"),
    case("null primitive", patient, "birthDate", None, "structure"),
    case("null in array without extension", patient, "name[0].given[1]", None, "structure"),
    case("null complex", patient, "managingOrganization", None, "structure"),
    case("max 1 primitive as array", patient, "gender", ["male"], "structure"),
    case("max 1 complex as array", observation, "code", [{"text": "x"}], "structure"),
    case("max * as single", patient, "name", {"family": "김"}, "structure"),
    case("string where object", patient, "name[0]", "김민수", "structure"),
    case("two value types", observation, "component[0].valueString", "120", "structure"),
    case("value type not allowed", observation, "valueReference", {"reference": UUID}, "structure"),
    case(
        "quantity comparator",
        observation,
        "component[2].valueQuantity.comparator",
        "~",
        "code-invalid",
    ),
    case(
        "comparator in SimpleQuantity",
        observation,
        "referenceRange[0].low.comparator",
        "<",
        "structure",
    ),
    case("contact point system", patient, "telecom[0].system", "mobile", "code-invalid"),
    case("human name use", patient, "name[0].use", "legal", "code-invalid"),
    case("encounter status", encounter, "status", "done", "code-invalid"),
    case("bundle type", transaction, "type", "batch-transaction", "code-invalid"),
    case(
        "clinical status coding",
        condition,
        "clinicalStatus.coding[0].code",
        "on",
        "code-invalid",
        "Condition.clinicalStatus",
    ),
    case("reference without id", patient, REF, "Organization/", "value"),
    case("reference with a space", patient, REF, "Organization/a b", "value"),
    case("reference of one word", patient, REF, "foo", "value"),
    case("reference to an unknown type", patient, REF, "Organisation/o1", "value"),
    case("reference to an abstract type", patient, REF, "Resource/o1", "value"),
    case("reference to a bad uuid", patient, REF, "urn:uuid:1234", "value"),
    case("reference by ftp", patient, REF, "ftp://example.org/Organization/1", "value"),
    case("resourceType in a data type", patient, "name[0].resourceType", "HumanName", "structure"),
    case("no resourceType", patient, "resourceType", DELETE, "required", "resourceType"),
    case("unknown resourceType", patient, "resourceType", "Patients", "invalid", "resourceType"),
    case(
        "abstract resourceType",
        patient,
        "resourceType",
        "DomainResource",
        "invalid",
        "resourceType",
    ),
    pytest.param(
        {"resourceType": "SubscriptionStatus"},
        "resourceType",
        "invalid",
        id="R4B-only resourceType",
    ),
    case("bad resource in a Bundle", transaction, "entry[0].resource.gender", "m", "code-invalid"),
    case(
        "no resourceType in a Bundle",
        transaction,
        "entry[1].resource.resourceType",
        DELETE,
        "required",
    ),
    case(
        "bad resource in Parameters", parameters, "parameter[1].resource.status", DELETE, "required"
    ),
    case("bad contained resource", with_contained, "contained[0].code.foo", 1, "structure"),
    case(
        "contained in contained",
        with_contained,
        "contained[0].contained",
        [{"resourceType": "Patient"}],
        "structure",
    ),
    case("unknown key in _birthDate", patient, "_birthDate.value", "x", "structure"),
    case("_birthDate as array", patient, "_birthDate", [{"id": "a"}], "structure"),
    case("_name for a complex element", patient, "_name", {"id": "a"}, "structure"),
    case("_given shorter than given", patient, "name[0]._given", [None], "structure"),
    case("extension without url", patient, "_birthDate.extension[0].url", DELETE, "required"),
    case(
        "extension with two values",
        patient,
        "_birthDate.extension[0].valueString",
        "x",
        "structure",
    ),
]


@pytest.mark.parametrize(("resource", "expression", "code"), INVALID_CASES)
def test_it_rejects_an_invalid_resource_with_one_precise_issue(
    resource: Resource, expression: str, code: str
) -> None:
    issues = validate_resource(resource)
    assert [(issue.expression, issue.code) for issue in issues] == [((expression,), code)]
    assert all(issue.severity == "error" for issue in issues)


def test_it_rejects_an_unknown_gender_code() -> None:
    (issue,) = validate_resource(changed(patient, "gender", "mal"))
    assert issue.diagnostics == (
        "Patient.gender is not a code from the required value set "
        "http://hl7.org/fhir/ValueSet/administrative-gender"
    )


def test_its_diagnostics_never_contain_the_offending_values() -> None:
    secret = "SECRET-9001011234567"
    resource = patient()
    resource.update(
        gender=secret,
        birthDate=secret,
        active=secret,
        photo=[{"data": secret, "size": secret}],
        managingOrganization={"reference": secret},
        name=[{"given": [secret], "use": secret}],
    )
    resource[secret] = secret  # a property named by data put in the wrong place
    issues = validate_resource(resource)
    assert len(issues) == 8
    assert all(secret not in issue.diagnostics for issue in issues)
    assert all(secret not in "".join(issue.expression) for issue in issues)


def test_it_collects_all_issues_instead_of_stopping_at_the_first() -> None:
    resource = changed(observation, "status", "draft")
    resource["component"][1]["valueQuantity"]["value"] = "80"
    expressions = [issue.expression[0] for issue in validate_resource(resource)]
    assert expressions == ["Observation.status", "Observation.component[1].valueQuantity.value"]


def test_it_stops_after_the_issue_cap_and_says_so() -> None:
    resource = patient()
    resource["name"] = [{"use": "bad"} for _ in range(MAX_ISSUES * 2)]
    issues = validate_resource(resource)
    assert len(issues) == MAX_ISSUES + 1
    assert issues[-1].severity == "information"


def test_it_refuses_deep_nesting_without_a_recursion_error() -> None:
    resource = patient()
    extensions = resource["extension"] = [{"url": "http://example.org/x"}]
    for _ in range(5000):
        inner: list[dict[str, Any]] = [{"url": "http://example.org/x"}]
        extensions[0]["extension"] = inner
        extensions = inner
    issues = validate_resource(resource)
    assert [issue.code for issue in issues] == ["structure"]
    assert "nested more than" in issues[0].diagnostics
    assert issues[0].expression[0].startswith("Patient.extension[0].extension[0]")


def test_it_refuses_a_value_that_is_not_a_json_object() -> None:
    issues = validate_resource(["Patient"])
    assert [(issue.code, issue.expression) for issue in issues] == [("structure", ())]


def test_check_resource_raises_invalid_resource_with_every_issue() -> None:
    with pytest.raises(InvalidResource) as raised:
        check_resource(changed(observation, "code", DELETE) | {"status": "nope"})
    assert raised.value.status == 422
    assert {issue.expression for issue in raised.value.issues} == {
        ("Observation.status",),
        ("Observation.code",),
    }


@pytest.mark.parametrize(
    ("name", "known"),
    [("Patient", True), ("Bundle", True), ("Resource", False), ("patient", False), ("", False)],
)
def test_it_knows_the_r4_resource_types(name: str, known: bool) -> None:
    assert is_known_resource_type(name) is known


def test_it_compiles_the_definitions_once_per_process() -> None:
    assert structure_model() is structure_model()


def test_its_required_code_sets_agree_with_the_json_schema_enums() -> None:
    """An independent rendering of the same bindings: fhir.schema.json lists them as enums."""
    schema = load_definition("fhir.schema.json")["definitions"]
    compared = 0
    for name, model in structure_model().resources.items():
        for definition, type_model in _backbone_models(name, model):
            properties = schema.get(definition, {}).get("properties", {})
            for key, rule in type_model.elements.items():
                prop = properties.get(key, {})
                enum = prop.get("enum") or prop.get("items", {}).get("enum")
                if enum is not None and rule.codes is not None:
                    assert set(enum) == rule.codes, f"{definition}.{key}"
                    compared += 1
    assert compared >= 100


def _backbone_models(name: str, model: TypeModel) -> list[tuple[str, TypeModel]]:
    """The resource and its backbone elements, named as the JSON schema names them."""
    found = [(name, model)]
    for rule in model.elements.values():
        inner = rule.model
        if inner is not None and inner.name.startswith(f"{model.name}."):
            found.extend(_backbone_models(inner.name.replace(".", "_"), inner))
    return found


@pytest.mark.skipif(
    not SYNTHEA_BUNDLES, reason=f"the shared Synthea data is absent ({SHARED_DATA}/synthea-r4)"
)
@pytest.mark.parametrize(
    "bundle_path",
    SYNTHEA_BUNDLES or [SHARED_DATA],  # one skipped test, with the reason above
    ids=lambda path: path.stem.rsplit("_", 1)[-1][:8],
)
def test_every_synthea_resource_validates_clean(bundle_path: Path) -> None:
    bundle = orjson.loads(bundle_path.read_bytes())
    problems = {
        (index, entry["resource"]["resourceType"]): validate_resource(entry["resource"])
        for index, entry in enumerate(bundle["entry"])
    }
    assert {where: issues for where, issues in problems.items() if issues} == {}
    assert validate_resource(bundle) == []
