"""CDS Hooks 1.0 at /cds-services as an EHR sees it, on the SQLite backend: discovery against
the specification's required fields, patient-view with and without prefetch (then read through
the record service), order-select, card shape (summary under 140 characters, indicator enum,
source.label), feedback counts, 400 naming the field, 401 without a token and 403 for a token
that cannot read the patient."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from khealth.records.service import Records
from khealth.store.factory import open_store
from tests.cds_city import SyntheticCitizen, citizens, load
from tests.consent_support import consent, share_for_treatment
from tests.support import Api, FrozenClock, system_context

pytestmark = pytest.mark.integration
CLINICIAN = {"scope": "user/*.rs", "subject": "carol", "role": "clinician", "facility": "fa"}
CITIZEN_ID = "c0000005"  # 51-year-old man with diabetes and dyslipidaemia, seen at 8 facilities
INDICATORS = {"info", "warning", "critical"}


@pytest.fixture
def api(tmp_path: Path, sqlite_template: Path) -> Iterator[Api]:
    path = tmp_path / "khealth.db"
    shutil.copy(sqlite_template, path)
    store = open_store(f"sqlite:///{path}")
    client = Api(store, tmp_path)
    records: Records = client.app.state.services.records
    records.clock = FrozenClock()
    load(records, citizens()[CITIZEN_ID], citizens()["c0000001"])
    # carol's facility "fa" holds none of these records: the citizens share for treatment
    share_for_treatment(records, [*citizens()[CITIZEN_ID].patient_ids,
                                  *citizens()["c0000001"].patient_ids])  # fmt: skip
    with client.client:
        yield client
    store.close()


@pytest.fixture
def person() -> SyntheticCitizen:
    return citizens()[CITIZEN_ID]


def hook_call(hook: str, patient_id: str, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {"userId": "Practitioner/carol", "patientId": patient_id}
    context |= extra.pop("context", {})
    return {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context, **extra}


def bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset",
            "entry": [{"resource": r} for r in resources]}  # fmt: skip


def prefetch_for(person: SyntheticCitizen, patient_id: str) -> dict[str, Any]:
    mine = person.compartment(patient_id)

    def of(kind: str) -> list[dict[str, Any]]:
        return [r for r in mine if r["resourceType"] == kind]

    return {"patient": of("Patient")[0], "observations": bundle(of("Observation")),
            "conditions": bundle(of("Condition")),
            "medications": bundle(of("MedicationRequest"))}  # fmt: skip


def assert_card_shape(card: dict[str, Any]) -> None:
    """CDS Hooks 1.0 Card: summary (<140), indicator, source.label required."""
    assert isinstance(card["summary"], str) and 0 < len(card["summary"]) < 140
    assert card["indicator"] in INDICATORS
    assert card["source"]["label"]
    uuid.UUID(card["uuid"])
    assert isinstance(card.get("detail", ""), str)
    for link in card.get("links", []):
        assert (
            link["label"]
            and link["url"].startswith("http")
            and link["type"] in ("absolute", "smart")
        )
    if card.get("suggestions"):
        assert card["selectionBehavior"] in ("at-most-one", "any")
        for suggestion in card["suggestions"]:
            assert suggestion["label"]
            for action in suggestion["actions"]:
                assert action["type"] in ("create", "update", "delete")
                assert action["description"]


def test_discovery_lists_each_service_with_the_fields_the_spec_requires(api: Api) -> None:
    response = api.client.get("/cds-services")
    assert response.status_code == 200
    services = response.json()["services"]
    assert {s["hook"] for s in services} == {"patient-view", "order-select"}
    for service in services:
        assert {"hook", "id", "description"} <= set(service)
        assert isinstance(service["title"], str)
        assert all(isinstance(v, str) for v in service["prefetch"].values())
        assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"
        assert "{{context.patientId}}" in service["prefetch"]["observations"]


def test_patient_view_without_prefetch_reads_the_record_and_explains_the_risk(
    api: Api, person: SyntheticCitizen
) -> None:
    patient_id = person.patient_with("Condition")
    response = api.client.post("/cds-services/khealth-risk-summary",
                               json=hook_call("patient-view", patient_id),
                               headers=api.headers(**CLINICIAN))  # fmt: skip
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert cards
    for card in cards:
        assert_card_shape(card)
    ascvd = next(c for c in cards if c["source"]["topic"]["code"] == "ascvd-risk")
    assert "PCE" in ascvd["summary"] and "진단이 아닙니다" in ascvd["detail"]
    assert "Organization/" in ascvd["detail"]  # each value with its facility


def test_patient_view_with_prefetch_gives_the_same_cards(
    api: Api, person: SyntheticCitizen
) -> None:
    patient_id = person.patient_with("Condition")
    headers = api.headers(**CLINICIAN)
    fetched = api.client.post(
        "/cds-services/khealth-risk-summary",
        json=hook_call("patient-view", patient_id),
        headers=headers,
    )
    given = api.client.post(
        "/cds-services/khealth-risk-summary",
        json=hook_call("patient-view", patient_id, prefetch=prefetch_for(person, patient_id)),
        headers=headers,
    )  # fmt: skip
    assert given.status_code == 200, given.text
    assert [c["summary"] for c in given.json()["cards"]] == [
        c["summary"] for c in fetched.json()["cards"]
    ]


def test_order_select_checks_metformin_against_a_low_egfr(api: Api) -> None:
    records: Records = api.app.state.services.records
    with records.begin(system_context(), "test") as rs:
        rs.update(
            "Patient",
            "kidney",
            {
                "resourceType": "Patient",
                "id": "kidney",
                "gender": "female",
                "birthDate": "1950-01-01",
            },
        )
        rs.create(consent("kidney"))  # shares for treatment, like the fixture's citizens
        rs.create({"resourceType": "Observation", "status": "final",
                   "code": {"coding": [{"system": "http://loinc.org", "code": "98979-8"}]},
                   "subject": {"reference": "Patient/kidney"},
                   "effectiveDateTime": "2026-10-01",
                   "valueQuantity": {"value": 24, "unit": "mL/min/{1.73_m2}",
                                     "system": "http://unitsofmeasure.org",
                                     "code": "mL/min/{1.73_m2}"}})  # fmt: skip
    order = {"resourceType": "MedicationRequest", "id": "draft-1", "status": "draft",
             "intent": "order", "subject": {"reference": "Patient/kidney"},
             "medicationCodeableConcept": {"text": "Metformin 500 MG Oral Tablet"}}  # fmt: skip
    call = hook_call("order-select", "kidney", context={
        "selections": ["MedicationRequest/draft-1"], "draftOrders": bundle([order])})  # fmt: skip
    response = api.client.post("/cds-services/khealth-order-check", json=call,
                               headers=api.headers(**CLINICIAN))  # fmt: skip
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    assert [c["indicator"] for c in cards] == ["critical"]
    assert "메트포르민" in cards[0]["summary"] and "24" in cards[0]["summary"]
    assert_card_shape(cards[0])


def test_a_statin_order_shows_the_pce_risk_or_what_is_missing_with_a_lipid_order(
    api: Api, person: SyntheticCitizen
) -> None:
    order = {"resourceType": "MedicationRequest", "id": "s1", "status": "draft", "intent": "order",
             "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc",
                                                       "code": "C10AA05"}]}}  # fmt: skip
    context = {"selections": ["MedicationRequest/s1"], "draftOrders": bundle([order])}
    records: Records = api.app.state.services.records
    with records.begin(system_context(), "test") as rs:  # a new patient: no results at all
        rs.update("Patient", "new", {"resourceType": "Patient", "id": "new", "gender": "male",
                                     "birthDate": "1966-01-01"})  # fmt: skip
        rs.create(consent("new"))
    for patient_id, topic in ((person.checkup_patient(), "ascvd-risk"),
                              ("new", "ascvd-risk-missing")):  # fmt: skip
        call = hook_call("order-select", patient_id, context=context)
        response = api.client.post("/cds-services/khealth-order-check", json=call,
                                   headers=api.headers(**CLINICIAN))  # fmt: skip
        cards = response.json()["cards"]
        assert [c["source"]["topic"]["code"] for c in cards] == [topic]
        assert_card_shape(cards[0])
    suggestion = cards[0]["suggestions"][0]["actions"][0]["resource"]
    assert suggestion["resourceType"] == "ServiceRequest"
    assert suggestion["code"]["coding"][0]["code"] == "57698-3"  # lipid panel


def test_feedback_is_counted_per_outcome(api: Api) -> None:
    headers = api.headers(**CLINICIAN)
    feedback = {"feedback": [
        {"card": str(uuid.uuid4()), "outcome": "accepted", "outcomeTimestamp": "2026-11-29T09:00:00Z",
         "acceptedSuggestions": [{"id": str(uuid.uuid4())}]},
        {"card": str(uuid.uuid4()), "outcome": "overridden", "outcomeTimestamp": "2026-11-29T09:00:00Z",
         "overrideReason": {"code": "not-relevant", "system": "http://example.org"}},
    ]}  # fmt: skip
    for _ in range(2):
        response = api.client.post("/cds-services/khealth-risk-summary/feedback", json=feedback,
                                   headers=headers)  # fmt: skip
        assert response.status_code == 200
    with api.app.state.services.store.session() as session:
        job = session.get_job("cds-feedback/khealth-risk-summary")
    assert job is not None
    import orjson

    assert orjson.loads(job.detail) == {"accepted": 2, "overridden": 2,
                                        "overrideReasons": {"not-relevant": 2}}  # fmt: skip
    bad = api.client.post(
        "/cds-services/khealth-risk-summary/feedback",
        json={"feedback": [{"card": "x", "outcome": "maybe"}]},
        headers=headers,
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["pointer"] == "feedback[0].outcome"


@pytest.mark.parametrize(("change", "field"), [
    ({"hook": "order-sign"}, "hook"),
    ({"hookInstance": "not-a-uuid"}, "hookInstance"),
    ({"context": {"userId": "Practitioner/carol"}}, "context.patientId"),
    ({"context": None}, "context"),
])  # fmt: skip
def test_a_bad_call_is_a_400_naming_the_field(api: Api, change: dict[str, Any], field: str) -> None:
    call = hook_call("patient-view", "someone") | change
    response = api.client.post("/cds-services/khealth-risk-summary", json=call,
                               headers=api.headers(**CLINICIAN))  # fmt: skip
    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == field


def test_an_order_select_call_needs_its_draft_orders(api: Api) -> None:
    call = hook_call("order-select", "someone", context={"selections": []})
    response = api.client.post("/cds-services/khealth-order-check", json=call,
                               headers=api.headers(**CLINICIAN))  # fmt: skip
    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "context.draftOrders"


def test_it_needs_a_token_and_one_that_may_read_the_patient(
    api: Api, person: SyntheticCitizen
) -> None:
    patient_id = person.patient_with("Condition")
    url = "/cds-services/khealth-risk-summary"
    assert api.client.post(url, json=hook_call("patient-view", patient_id)).status_code == 401
    other = {
        "scope": "patient/*.rs",
        "role": "citizen",
        "subject": "mallory",
        "patient": "elsewhere",
    }
    denied = api.client.post(url, json=hook_call("patient-view", patient_id),
                             headers=api.headers(**other))  # fmt: skip
    assert denied.status_code == 403
    with_prefetch = hook_call("patient-view", patient_id,
                              prefetch=prefetch_for(person, patient_id))  # fmt: skip
    assert api.client.post(url, json=with_prefetch, headers=api.headers(**other)).status_code == 403
    forged = hook_call(
        "patient-view",
        patient_id,
        fhirAuthorization={"access_token": "not-a-token", "token_type": "Bearer"},
    )
    assert api.client.post(url, json=forged, headers=api.headers(**CLINICIAN)).status_code == 401


def test_the_fhir_authorization_token_decides_what_is_read(
    api: Api, person: SyntheticCitizen
) -> None:
    patient_id = person.patient_with("Condition")
    own = {"access_token": api.token("patient/*.rs", role="citizen", subject="x",
                                     patient="elsewhere"), "token_type": "Bearer"}  # fmt: skip
    call = hook_call("patient-view", patient_id, fhirAuthorization=own)
    response = api.client.post("/cds-services/khealth-risk-summary", json=call,
                               headers=api.headers(**CLINICIAN))  # fmt: skip
    assert response.status_code == 403


def test_an_unknown_service_is_404(api: Api) -> None:
    response = api.client.post("/cds-services/nope", json=hook_call("patient-view", "x"),
                               headers=api.headers(**CLINICIAN))  # fmt: skip
    assert response.status_code == 404
