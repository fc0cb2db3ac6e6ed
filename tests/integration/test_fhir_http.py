"""The FHIR REST API as a client sees it, on every backend (http://hl7.org/fhir/R4/http.html).

Each test speaks HTTP to the app over ``tests.support.Api`` with signed tokens and checks
status codes, headers and bodies the way a conformance client would.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from khealth.core.config import Settings
from khealth.fhir.definitions import SUPPORTED_TYPES
from khealth.web.app import create_app
from tests.conftest import shared_data
from tests.fhir_http import (
    BASE,
    MRN,
    Fhir,
    assert_outcome,
    entries_of,
    expressions,
    link,
    match_ids,
    observation,
    patient,
)
from tests.support import Api

pytestmark = pytest.mark.integration


@pytest.fixture
def api(store: Any, tmp_path: Path) -> Api:
    return Api(store, tmp_path)


@pytest.fixture
def fhir(api: Api) -> Fhir:
    return Fhir(api)


# -- create, read, vread, update ------------------------------------------------------------


def test_create_answers_201_with_location_etag_and_server_assigned_id(fhir: Fhir) -> None:
    response = fhir.post("/fhir/Patient", {**patient(), "id": "client-chosen"})
    assert response.status_code == 201
    body = response.json()
    assert body["id"] != "client-chosen"
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["location"] == f"{BASE}/Patient/{body['id']}/_history/1"
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"].endswith("Z")
    assert response.headers["content-type"].startswith("application/fhir+json")


def test_read_answers_the_resource_with_its_etag_and_304_when_unchanged(fhir: Fhir) -> None:
    created = fhir.create(patient())
    response = fhir.get(f"/fhir/Patient/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["etag"] == 'W/"1"'
    assert "last-modified" in response.headers
    unchanged = fhir.get(f"/fhir/Patient/{created['id']}", **{"If-None-Match": 'W/"1"'})
    assert unchanged.status_code == 304
    assert unchanged.content == b""


def test_vread_returns_each_version_as_it_was(fhir: Fhir) -> None:
    created = fhir.create(patient(gender="female"))
    pid = created["id"]
    assert fhir.put(f"/fhir/Patient/{pid}", {**created, "gender": "male"}).status_code == 200
    first = fhir.get(f"/fhir/Patient/{pid}/_history/1")
    second = fhir.get(f"/fhir/Patient/{pid}/_history/2")
    assert (first.json()["gender"], second.json()["gender"]) == ("female", "male")
    assert first.headers["etag"] == 'W/"1"'
    assert_outcome(fhir.get(f"/fhir/Patient/{pid}/_history/3"), 404)


def test_update_answers_200_and_update_as_create_answers_201(fhir: Fhir) -> None:
    created = fhir.create(patient())
    updated = fhir.put(f"/fhir/Patient/{created['id']}", {**created, "gender": "other"})
    assert updated.status_code == 200
    assert updated.headers["etag"] == 'W/"2"'
    assert updated.json()["meta"]["versionId"] == "2"
    fresh = fhir.put("/fhir/Patient/chosen-by-client", {**patient(), "id": "chosen-by-client"})
    assert fresh.status_code == 201
    assert fresh.headers["location"].endswith("/Patient/chosen-by-client/_history/1")


def test_if_match_with_a_stale_version_is_412_and_with_the_current_one_200(fhir: Fhir) -> None:
    created = fhir.create(patient())
    pid = created["id"]
    assert fhir.put(f"/fhir/Patient/{pid}", {**created, "gender": "male"}).status_code == 200
    stale = fhir.put(
        f"/fhir/Patient/{pid}", {**created, "gender": "other"}, **{"If-Match": 'W/"1"'}
    )
    assert_outcome(stale, 412)
    current = fhir.put(
        f"/fhir/Patient/{pid}", {**created, "gender": "other"}, **{"If-Match": 'W/"2"'}
    )
    assert current.status_code == 200
    assert current.headers["etag"] == 'W/"3"'


def test_conditional_create_makes_one_returns_the_match_or_refuses_two(fhir: Fhir) -> None:
    condition = {"If-None-Exist": f"identifier={MRN}|MRN-7"}
    first = fhir.post("/fhir/Patient", patient(mrn="MRN-7"), **condition)
    assert first.status_code == 201
    again = fhir.post("/fhir/Patient", patient(mrn="MRN-7"), **condition)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    fhir.create(patient(mrn="MRN-7"))  # a duplicate made without a condition
    assert_outcome(fhir.post("/fhir/Patient", patient(mrn="MRN-7"), **condition), 412)


def test_conditional_update_creates_updates_or_refuses_by_match_count(fhir: Fhir) -> None:
    url = f"/fhir/Patient?identifier={MRN}|MRN-9"
    made = fhir.put(url, patient(mrn="MRN-9", gender="female"))
    assert made.status_code == 201
    changed = fhir.put(url, patient(mrn="MRN-9", gender="male"))
    assert changed.status_code == 200
    assert changed.json()["id"] == made.json()["id"]
    assert changed.headers["etag"] == 'W/"2"'
    fhir.create(patient(mrn="MRN-9"))
    assert_outcome(fhir.put(url, patient(mrn="MRN-9")), 412)


# -- JSON Patch ------------------------------------------------------------------------------


def _patch(fhir: Fhir, path: str, ops: Any, media: str = "application/json-patch+json") -> Any:
    return fhir.request("PATCH", path, content=orjson.dumps(ops), headers={"Content-Type": media})


def test_json_patch_applies_and_bumps_the_version(fhir: Fhir) -> None:
    pid = fhir.create(patient(gender="female"))["id"]
    ops = [
        {"op": "test", "path": "/gender", "value": "female"},
        {"op": "replace", "path": "/gender", "value": "male"},
        {"op": "add", "path": "/active", "value": True},
    ]
    response = _patch(fhir, f"/fhir/Patient/{pid}", ops)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == 'W/"2"'
    assert (response.json()["gender"], response.json()["active"]) == ("male", True)


def test_json_patch_with_a_failing_test_op_changes_nothing(fhir: Fhir) -> None:
    pid = fhir.create(patient(gender="female"))["id"]
    ops = [
        {"op": "test", "path": "/gender", "value": "male"},
        {"op": "replace", "path": "/gender", "value": "other"},
    ]
    response = _patch(fhir, f"/fhir/Patient/{pid}", ops)
    assert response.status_code in (400, 412, 422)
    assert_outcome(response, response.status_code)
    assert fhir.get(f"/fhir/Patient/{pid}").json()["gender"] == "female"


def test_json_patch_that_breaks_the_resource_is_rejected(fhir: Fhir) -> None:
    pid = fhir.create(patient())["id"]
    response = _patch(
        fhir, f"/fhir/Patient/{pid}", [{"op": "replace", "path": "/gender", "value": "x"}]
    )
    assert "gender" in " ".join(expressions(assert_outcome(response, 422)))


def test_json_patch_with_another_content_type_is_415(fhir: Fhir) -> None:
    pid = fhir.create(patient())["id"]
    ops = [{"op": "replace", "path": "/gender", "value": "male"}]
    assert_outcome(_patch(fhir, f"/fhir/Patient/{pid}", ops, "application/json"), 415)


# -- delete and history ----------------------------------------------------------------------


def test_delete_is_204_then_read_is_410_and_history_shows_the_delete(fhir: Fhir) -> None:
    pid = fhir.create(patient())["id"]
    deleted = fhir.request("DELETE", f"/fhir/Patient/{pid}")
    assert deleted.status_code == 204
    assert_outcome(fhir.get(f"/fhir/Patient/{pid}"), 410)
    assert fhir.request("DELETE", f"/fhir/Patient/{pid}").status_code == 204  # idempotent
    history = fhir.get(f"/fhir/Patient/{pid}/_history").json()
    assert history["type"] == "history"
    assert history["total"] == 2
    latest = history["entry"][0]
    assert latest["request"]["method"] == "DELETE"
    assert latest["response"]["status"].startswith("204") or latest["response"]["status"] == "204"
    assert "resource" not in latest
    assert pid not in fhir.ids("/fhir/Patient")


def test_history_at_instance_type_and_system_level_honours_since_and_count(fhir: Fhir) -> None:
    first = fhir.create(patient())
    pid = first["id"]
    later = fhir.put(f"/fhir/Patient/{pid}", {**first, "gender": "male"}).json()
    obs = fhir.create(observation(pid))
    instance = fhir.get(f"/fhir/Patient/{pid}/_history").json()
    assert [e["response"]["etag"] for e in instance["entry"]] == ['W/"2"', 'W/"1"']
    since = later["meta"]["lastUpdated"]
    type_level = fhir.get(f"/fhir/Patient/_history?_since={since}").json()
    assert [e["resource"]["meta"]["versionId"] for e in type_level["entry"]] == ["2"]
    system = fhir.get(f"/fhir/_history?_since={since}").json()
    assert {e["fullUrl"] for e in system["entry"]} == {
        f"{BASE}/Patient/{pid}",
        f"{BASE}/Observation/{obs['id']}",
    }
    paged = fhir.get("/fhir/_history?_count=1").json()
    assert paged["total"] == 3
    assert len(paged["entry"]) == 1
    assert link(paged, "next") is not None
    assert_outcome(fhir.get("/fhir/_history?_since=yesterday"), 400)


# -- search ----------------------------------------------------------------------------------


def _seed_people(fhir: Fhir) -> dict[str, str]:
    ids = {}
    for key, family, gender in [("kim", "김", "female"), ("lee", "이", "male"),
                                ("muller", "Müller", "female")]:  # fmt: skip
        ids[key] = fhir.create(patient(family=family, gender=gender, mrn=f"MRN-{key}"))["id"]
    return ids


def test_search_by_get_and_by_post_search_agree(fhir: Fhir) -> None:
    ids = _seed_people(fhir)
    by_get = fhir.ids("/fhir/Patient?gender=female&_sort=_id")
    form = fhir.request("POST", "/fhir/Patient/_search", data={"gender": "female", "_sort": "_id"})
    assert form.status_code == 200, form.text
    assert match_ids(form.json()) == by_get == sorted([ids["kim"], ids["muller"]])
    mixed = fhir.request("POST", "/fhir/Patient/_search?_sort=_id", data={"gender": "female"})
    assert match_ids(mixed.json()) == by_get


def test_paging_returns_every_match_once_even_when_resources_are_created_meanwhile(
    fhir: Fhir,
) -> None:
    expected = {fhir.create(patient(given=f"n{i}"))["id"] for i in range(7)}
    seen: list[str] = []
    for number, page in enumerate(fhir.pages("/fhir/Patient?_count=3")):
        seen.extend(match_ids(page))
        fhir.create(patient(given=f"late{number}"))  # written between pages
    assert sorted(seen) == sorted(expected)
    assert len(seen) == len(set(seen))


def test_paging_with_a_sort_also_returns_every_match_once(fhir: Fhir) -> None:
    expected = {fhir.create(patient(family=f"F{i % 3}"))["id"] for i in range(8)}
    seen = [
        i for page in fhir.pages("/fhir/Patient?_count=3&_sort=family") for i in match_ids(page)
    ]
    assert sorted(seen) == sorted(expected)


def test_total_accurate_and_summary_count(fhir: Fhir) -> None:
    _seed_people(fhir)
    accurate = fhir.get("/fhir/Patient?gender=female&_total=accurate&_count=1").json()
    assert accurate["total"] == 2
    assert len(accurate["entry"]) == 1
    counted = fhir.get("/fhir/Patient?gender=female&_summary=count").json()
    assert counted["total"] == 2
    assert counted.get("entry", []) == []


def test_summary_and_elements_mark_results_as_subsetted(fhir: Fhir) -> None:
    pid = fhir.create({**patient(), "text": {"status": "generated", "div": "<div>x</div>"}})["id"]
    summary = fhir.get("/fhir/Patient?_summary=true").json()["entry"][0]["resource"]
    assert "text" not in summary
    assert "SUBSETTED" in [t["code"] for t in summary["meta"]["tag"]]
    elements = fhir.get("/fhir/Patient?_elements=gender").json()["entry"][0]["resource"]
    assert elements["id"] == pid
    assert elements["gender"] == "female"
    assert "name" not in elements and "birthDate" not in elements
    assert "SUBSETTED" in [t["code"] for t in elements["meta"]["tag"]]


def test_include_and_revinclude_add_the_related_resources(fhir: Fhir) -> None:
    ids = _seed_people(fhir)
    obs = fhir.create(observation(ids["kim"]))["id"]
    fhir.create(observation(ids["lee"]))
    included = fhir.get(f"/fhir/Observation?_id={obs}&_include=Observation:subject").json()
    assert match_ids(included) == [obs]
    assert entries_of(included, "include") == [f"Patient/{ids['kim']}"]
    rev = fhir.get(f"/fhir/Patient?_id={ids['kim']}&_revinclude=Observation:subject").json()
    assert entries_of(rev, "include") == [f"Observation/{obs}"]


def test_an_unknown_parameter_is_400_naming_it_unless_lenient(fhir: Fhir) -> None:
    _seed_people(fhir)
    strict = assert_outcome(fhir.get("/fhir/Patient?gender=female&frobnicate=1"), 400)
    assert "frobnicate" in json.dumps(strict)
    lenient = fhir.get("/fhir/Patient?gender=female&frobnicate=1", Prefer="handling=lenient")
    assert lenient.status_code == 200
    assert len(match_ids(lenient.json())) == 2
    self_link = link(lenient.json(), "self") or ""
    assert "frobnicate" not in self_link
    assert "gender=female" in self_link


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/fhir/Patient?_format=xml", {}),
        ("/fhir/Patient?_format=application/fhir%2Bxml", {}),
        ("/fhir/Patient", {"Accept": "application/fhir+xml"}),
        ("/fhir/metadata", {"Accept": "application/fhir+xml"}),
    ],
)
def test_xml_is_refused_with_415(fhir: Fhir, path: str, headers: dict[str, str]) -> None:
    assert_outcome(fhir.get(path, **headers), 415)


def test_a_body_sent_as_xml_is_refused_with_415(fhir: Fhir) -> None:
    response = fhir.request(
        "POST", "/fhir/Patient", content=b"<Patient/>", headers={"Content-Type": "application/xml"}
    )
    assert_outcome(response, 415)


# -- $validate, metadata, health -------------------------------------------------------------


def test_validate_reports_information_for_a_valid_resource(fhir: Fhir) -> None:
    response = fhir.post("/fhir/Patient/$validate", patient())
    assert response.status_code == 200
    issues = response.json()["issue"]
    assert [i["severity"] for i in issues] == ["information"]


def test_validate_reports_each_problem_with_its_expression(fhir: Fhir) -> None:
    bad = {**patient(), "gender": "sometimes", "birthDate": "last tuesday"}
    outcome = fhir.post("/fhir/Patient/$validate", bad).json()
    assert outcome["resourceType"] == "OperationOutcome"
    found = " ".join(expressions(outcome))
    assert "gender" in found and "birthDate" in found
    wrapped = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": bad}]}
    assert "gender" in " ".join(expressions(fhir.post("/fhir/Patient/$validate", wrapped).json()))
    assert fhir.count() == 0


def test_metadata_is_public_and_lists_every_type_with_its_search_parameters(api: Api) -> None:
    response = api.client.get("/fhir/metadata")
    assert response.status_code == 200
    statement = response.json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert set(resources) == set(SUPPORTED_TYPES)
    assert all(r["searchParam"] for r in resources.values())
    names = {p["name"] for p in resources["Observation"]["searchParam"]}
    assert {"code", "subject", "patient", "date", "value-quantity"} <= names


def test_health_and_metrics_answer(api: Api) -> None:
    health = api.client.get("/health")
    assert health.status_code == 200
    assert health.json()["ready"] is True
    api.client.get("/fhir/metadata")
    metrics = api.client.get("/metrics")
    assert metrics.status_code == 200
    assert "khealth_http_requests_total" in metrics.text


# -- authentication and scopes ---------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer a.b.c"],
)
def test_requests_without_a_valid_token_are_401(api: Api, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = api.client.get("/fhir/Patient", headers=headers)
    assert_outcome(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_an_expired_token_is_401(api: Api) -> None:
    token = api.token("system/*.cruds", ttl=-60)
    response = api.client.get("/fhir/Patient", headers={"Authorization": f"Bearer {token}"})
    assert "expired" in json.dumps(assert_outcome(response, 401))
    assert "www-authenticate" in response.headers


def test_a_token_signed_by_another_key_is_401(api: Api, tmp_path: Path, store: Any) -> None:
    other = Api(store, tmp_path / "elsewhere")
    response = api.client.get("/fhir/Patient", headers=other.headers())
    assert_outcome(response, 401)


def test_scopes_limit_types_and_interactions(fhir: Fhir) -> None:
    pid = fhir.create(patient())["id"]
    own = fhir.create({**patient(), "id": "x"})  # another patient, another compartment
    observer = fhir.as_("patient/Observation.rs", patient=pid)
    assert_outcome(observer.get(f"/fhir/Patient/{own['id']}"), 403)
    assert_outcome(observer.get("/fhir/Patient"), 403)
    clinician = fhir.as_("user/Observation.rs", role="clinician")
    assert_outcome(clinician.post("/fhir/Patient", patient()), 403)
    assert_outcome(clinician.get("/fhir/Condition?code=x"), 403)
    assert clinician.get("/fhir/Observation").status_code == 200


def _two_compartments(fhir: Fhir) -> dict[str, str]:
    alice = fhir.put("/fhir/Patient/alice", {**patient(given="앨리스"), "id": "alice"}).json()
    bob = fhir.put("/fhir/Patient/bob", {**patient(given="밥"), "id": "bob"}).json()
    bob_obs = fhir.create(observation("bob", value=140))["id"]
    alice_obs = fhir.create(
        {**observation("alice"), "hasMember": [{"reference": f"Observation/{bob_obs}"}],
         "derivedFrom": [{"reference": f"Observation/{bob_obs}"}]}
    )["id"]  # fmt: skip
    return {"alice": alice["id"], "bob": bob["id"], "alice_obs": alice_obs, "bob_obs": bob_obs}


def test_a_patient_token_only_sees_its_own_compartment(fhir: Fhir) -> None:
    ids = _two_compartments(fhir)
    alice = fhir.as_("patient/*.rs", patient="alice", role="citizen")
    assert alice.ids("/fhir/Observation") == [ids["alice_obs"]]
    assert alice.ids("/fhir/Patient") == ["alice"]
    assert alice.ids(f"/fhir/Observation?subject=Patient/{ids['bob']}") == []
    assert alice.ids("/fhir?_type=Observation,Patient&_sort=_id") == sorted(
        ["alice", ids["alice_obs"]]
    )
    assert_outcome(alice.get("/fhir/Patient/bob"), 403)
    assert_outcome(alice.get(f"/fhir/Observation/{ids['bob_obs']}"), 403)
    assert_outcome(alice.get("/fhir/Patient/bob/_history"), 403)
    assert_outcome(alice.get("/fhir/Observation/_history"), 403)
    assert_outcome(alice.get("/fhir/_history"), 403)
    assert_outcome(alice.get("/fhir/Patient/bob/$everything"), 403)


def test_a_patient_token_never_gets_another_compartment_through_includes(fhir: Fhir) -> None:
    ids = _two_compartments(fhir)
    alice = fhir.as_("patient/*.rs", patient="alice", role="citizen")
    bundle = alice.get("/fhir/Observation?_include=Observation:has-member"
                       "&_include=Observation:derived-from&_include=Observation:subject").json()  # fmt: skip
    assert entries_of(bundle, "include") == ["Patient/alice"]
    rev = alice.get("/fhir/Patient?_revinclude=Observation:subject"
                    "&_revinclude:iterate=Observation:has-member").json()  # fmt: skip
    assert entries_of(rev, "include") == [f"Observation/{ids['alice_obs']}"]
    star = alice.get("/fhir/Observation?_include=*&_revinclude=*").json()
    assert set(entries_of(star, "include")) <= {"Patient/alice"}


def test_a_patient_token_gets_only_its_compartment_from_everything(fhir: Fhir) -> None:
    ids = _two_compartments(fhir)
    alice = fhir.as_("patient/*.rs", patient="alice", role="citizen")
    response = alice.get("/fhir/Patient/alice/$everything")
    assert response.status_code == 200, response.text
    found = {
        f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in response.json()["entry"]
    }
    assert found == {"Patient/alice", f"Observation/{ids['alice_obs']}"}
    history = alice.get("/fhir/Patient/alice/_history").json()
    assert {e["fullUrl"] for e in history["entry"]} == {f"{BASE}/Patient/alice"}


def test_everything_for_a_system_token_follows_references_out_of_the_compartment(
    fhir: Fhir,
) -> None:
    ids = _two_compartments(fhir)
    response = fhir.get("/fhir/Patient/alice/$everything").json()
    found = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in response["entry"]}
    assert found == {"Patient/alice", f"Observation/{ids['alice_obs']}",
                     f"Observation/{ids['bob_obs']}"}  # fmt: skip


# -- transactions and batches ----------------------------------------------------------------


def _smallest_synthea_bundle() -> dict[str, Any]:
    folder = shared_data("synthea-r4")
    smallest = min(folder.glob("*.json"), key=lambda p: p.stat().st_size)
    bundle: dict[str, Any] = orjson.loads(smallest.read_bytes())
    return bundle


def test_a_synthea_transaction_creates_every_entry(fhir: Fhir) -> None:
    bundle = _smallest_synthea_bundle()
    response = fhir.post("/fhir", bundle)
    assert response.status_code == 200, response.text[:2000]
    answer = response.json()
    assert answer["type"] == "transaction-response"
    assert len(answer["entry"]) == len(bundle["entry"])
    assert {e["response"]["status"].split()[0] for e in answer["entry"]} == {"201"}
    assert fhir.count() == len(bundle["entry"])
    patient_id = answer["entry"][0]["response"]["location"].split("/")[1]
    encounter = fhir.get("/fhir/Encounter?_count=1").json()["entry"][0]["resource"]
    assert encounter["subject"]["reference"] == f"Patient/{patient_id}"
    everything = fhir.get(f"/fhir/Patient/{patient_id}/$everything?_count=5000").json()
    assert everything["total"] >= len(bundle["entry"]) - 50  # + what they reference


def _transaction(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def _post_entry(
    resource: dict[str, Any], full_url: str | None = None, **request: str
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], **request},
    }
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def test_a_transaction_with_one_invalid_entry_stores_nothing(fhir: Fhir) -> None:
    fhir.create(patient())
    before = fhir.count()
    bad = {**patient(), "gender": "sometimes"}
    bundle = _transaction(
        _post_entry(patient(), "urn:uuid:00000000-0000-4000-8000-000000000001"),
        _post_entry(observation("x") | {"subject": {"reference": "urn:uuid:00000000-0000-4000-8000-000000000001"}}),
        _post_entry(bad),
        _post_entry(patient()),
    )  # fmt: skip
    response = fhir.post("/fhir", bundle)
    outcome = assert_outcome(response, response.status_code)
    assert response.status_code in (400, 422)
    assert any(e.startswith("Bundle.entry[2]") for e in expressions(outcome)), outcome
    assert fhir.count() == before


def test_a_transaction_resolves_urn_uuid_references(fhir: Fhir) -> None:
    urn = "urn:uuid:2f1a4c7e-5b0d-4e6a-9c1e-0d7b1b2a3c4d"
    bundle = _transaction(
        _post_entry(observation("x") | {"subject": {"reference": urn}}),
        _post_entry(patient(), urn),
    )
    answer = fhir.post("/fhir", bundle).json()
    obs_location, patient_location = (e["response"]["location"] for e in answer["entry"])
    patient_ref = "/".join(patient_location.split("/")[:2])
    obs = fhir.get(f"/fhir/{'/'.join(obs_location.split('/')[:2])}").json()
    assert obs["subject"]["reference"] == patient_ref
    assert patient_ref.startswith("Patient/") and "urn" not in patient_ref


def test_a_transaction_resolves_a_conditional_reference(fhir: Fhir) -> None:
    pid = fhir.create(patient(mrn="MRN-42"))["id"]
    bundle = _transaction(
        _post_entry(
            observation("x") | {"subject": {"reference": f"Patient?identifier={MRN}|MRN-42"}}
        )
    )
    answer = fhir.post("/fhir", bundle)
    assert answer.status_code == 200, answer.text
    obs_id = answer.json()["entry"][0]["response"]["location"].split("/")[1]
    assert (
        fhir.get(f"/fhir/Observation/{obs_id}").json()["subject"]["reference"] == f"Patient/{pid}"
    )
    unresolved = _transaction(
        _post_entry(observation("x") | {"subject": {"reference": f"Patient?identifier={MRN}|none"}})
    )
    assert fhir.post("/fhir", unresolved).status_code in (400, 404, 412, 422)


def test_if_none_exist_inside_a_transaction_reuses_the_match(fhir: Fhir) -> None:
    pid = fhir.create(patient(mrn="MRN-5"))["id"]
    urn = "urn:uuid:7d4b5a8e-1c2f-4b3a-8e9d-0a1b2c3d4e5f"
    bundle = _transaction(
        _post_entry(patient(mrn="MRN-5"), urn, ifNoneExist=f"identifier={MRN}|MRN-5"),
        _post_entry(observation("x") | {"subject": {"reference": urn}}),
    )
    answer = fhir.post("/fhir", bundle).json()
    statuses = [e["response"]["status"].split()[0] for e in answer["entry"]]
    assert statuses == ["200", "201"]
    assert answer["entry"][0]["response"]["location"].startswith(f"Patient/{pid}/")
    assert fhir.ids(f"/fhir/Observation?subject=Patient/{pid}") != []
    assert len(fhir.ids("/fhir/Patient")) == 1


def test_a_batch_runs_every_entry_even_when_one_fails(fhir: Fhir) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            _post_entry(patient()),
            _post_entry({**patient(), "gender": "sometimes"}),
            {"request": {"method": "GET", "url": "Patient/nobody"}},
            _post_entry(patient()),
        ],
    }
    answer = fhir.post("/fhir", bundle)
    assert answer.status_code == 200
    statuses = [e["response"]["status"].split()[0] for e in answer.json()["entry"]]
    assert statuses[0] == statuses[3] == "201"
    assert statuses[1] in ("400", "422")
    assert statuses[2] == "404"
    assert answer.json()["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert len(fhir.ids("/fhir/Patient")) == 2


# -- bad input: a clear 4xx, never a 500 ----------------------------------------------------


def _nested(depth: int) -> bytes:
    return b'{"resourceType":"Patient","extension":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"resourceType": "Patient",', 400),
        (b"", 400),
        (b'{"resourceType": "Patient", "name": [{"family": "\xff\xfe"}]}', 400),
        (b'{"resourceType": "Patient", "name": [{"family": "\\ud800"}]}', 400),
        (_nested(70), 400),
        (b"[]", 422),
        (b"null", 422),
        (b'"Patient"', 422),
        (b'{"resourceType": "Patient", "birthDate": 1e999}', 400),
        (
            b'{"resourceType": "Patient", "multipleBirthInteger": 123456789012345678901234567890}',
            400,
        ),
        (
            b'{"resourceType": "Patient", "managingOrganization": {"reference": "Organization/"}}',
            422,
        ),
        (b'{"resourceType": "Patient", "generalPractitioner": [{"reference": "Patient/"}]}', 422),
        (b'{"resourceType": "Patient", "managingOrganization": {"reference": 7}}', 422),
        (
            b'{"resourceType": "Patient", "managingOrganization": {"reference": "Organization/a b"}}',
            422,
        ),
        (b'{"resourceType": "Patient", "name": "kim"}', 422),
        (b'{"resourceType": "Patient", "name": [{"family": "a\\u0000b"}]}', 422),
        (b'{"resourceType": "Observation", "status": "final"}', 400),
        (b'{"resourceType": "Patient", "id": "a/b"}', 201),
    ],
)
def test_bad_bodies_get_a_clear_4xx(fhir: Fhir, body: bytes, status: int) -> None:
    response = fhir.request("POST", "/fhir/Patient", content=body)
    if status == 201:  # a client id on create is ignored, even a malformed one
        assert response.status_code == 201
        return
    assert 400 <= response.status_code < 500, response.text
    assert_outcome(response, response.status_code)
    assert fhir.count() == 0


def test_a_body_over_the_size_limit_is_413(store: Any, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="sqlite:///unused",
                        base_url=BASE, max_body_bytes=2048)  # fmt: skip
    api = Api.__new__(Api)
    api.app = create_app(settings, store=store)
    from fastapi.testclient import TestClient

    api.client = TestClient(api.app, raise_server_exceptions=False)
    api.tokens = api.app.state.services.tokens
    fhir = Fhir(api)
    big = {**patient(), "text": {"status": "generated", "div": "<div>" + "가" * 2000 + "</div>"}}
    assert_outcome(fhir.post("/fhir/Patient", big), 413)
    chunked = fhir.request("POST", "/fhir/Patient", content=iter([orjson.dumps(big)]))  # type: ignore[arg-type]
    assert_outcome(chunked, 413)
    assert fhir.post("/fhir/Patient", patient()).status_code == 201


def test_a_resource_type_that_differs_from_the_url_is_400(fhir: Fhir) -> None:
    assert_outcome(fhir.post("/fhir/Observation", patient()), 400)
    created = fhir.create(patient())
    assert_outcome(fhir.put(f"/fhir/Observation/{created['id']}", created), 400)


def test_an_update_whose_id_differs_from_the_url_is_400(fhir: Fhir) -> None:
    created = fhir.create(patient())
    assert_outcome(fhir.put(f"/fhir/Patient/{created['id']}", {**created, "id": "other"}), 400)
    assert_outcome(fhir.put(f"/fhir/Patient/{created['id']}", patient()), 400)


def test_an_invalid_id_in_the_url_is_a_4xx(fhir: Fhir) -> None:
    response = fhir.put("/fhir/Patient/bad$id", {**patient(), "id": "bad$id"})
    assert 400 <= response.status_code < 500
    long_id = "a" * 65
    response = fhir.put(f"/fhir/Patient/{long_id}", {**patient(), "id": long_id})
    assert 400 <= response.status_code < 500, response.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/fhir/Spaceship"),
        ("GET", "/fhir/Spaceship/1"),
        ("GET", "/fhir/Spaceship/_history"),
        ("DELETE", "/fhir/Spaceship/1"),
        ("GET", "/fhir/Patient/$bogus"),
        ("GET", "/fhir/Patient/1/$bogus"),
        ("POST", "/fhir/Patient/$bogus"),
    ],
)
def test_unknown_types_and_operations_are_a_4xx_outcome(fhir: Fhir, method: str, path: str) -> None:
    response = fhir.request(method, path)
    assert 400 <= response.status_code < 500, response.text
    assert_outcome(response, response.status_code)
    if "Spaceship" in path:
        assert response.status_code == 404


def test_posting_an_unknown_resource_type_is_404(fhir: Fhir) -> None:
    assert_outcome(fhir.post("/fhir/Spaceship", {"resourceType": "Spaceship"}), 404)


@pytest.mark.parametrize(
    "bundle",
    [
        {"resourceType": "Bundle", "type": "collection"},
        {"resourceType": "Bundle", "type": "transaction", "entry": {"x": 1}},
        {"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": {}}]},
        {"resourceType": "Bundle", "type": "transaction",
         "entry": [{"request": {"method": "POST", "url": "Patient"}, "resource": "x"}]},
        {"resourceType": "Bundle", "type": "transaction",
         "entry": [{"request": {"method": "POST", "url": "Spaceship"}, "resource": {"resourceType": "Spaceship"}}]},
        {"resourceType": "Bundle", "type": "transaction",
         "entry": [{"request": {"method": "PUT", "url": "Patient"}, "resource": {"resourceType": "Patient"}}]},
        {"resourceType": "Bundle", "type": "transaction",
         "entry": [{"request": {"method": "DELETE", "url": "Patient?identifier=x"}}]},
        {"resourceType": "Bundle", "type": "transaction",
         "entry": [{"request": {"method": "GET", "url": "Patient?bogus=1"}}]},
        {"resourceType": "Bundle", "type": "transaction",
         "entry": [{"request": {"method": "PATCH", "url": "Patient/x"}, "resource": {"resourceType": "Binary", "data": "!!"}}]},
        {"resourceType": "Bundle", "type": "transaction",
         "entry": [{"request": {"method": "POST", "url": "Patient", "ifNoneExist": "%%%"},
                    "resource": {"resourceType": "Patient"}}]},
        {"resourceType": "Bundle", "type": "transaction",
         "entry": [{"request": {"method": "POST", "url": "Patient"},
                    "resource": {"resourceType": "Patient", "link": [{"type": "seealso", "other": {"reference": "Patient?"}}]}}]},
        {"resourceType": "Patient"},
    ],
)  # fmt: skip
def test_malformed_bundles_get_a_clear_4xx(fhir: Fhir, bundle: dict[str, Any]) -> None:
    response = fhir.post("/fhir", bundle)
    assert 400 <= response.status_code < 500, response.text
    assert_outcome(response, response.status_code)
    assert fhir.count() == 0


def test_a_patch_entry_in_a_transaction_applies_its_binary_json_patch(fhir: Fhir) -> None:
    pid = fhir.create(patient(gender="female"))["id"]
    ops = base64.b64encode(orjson.dumps([{"op": "replace", "path": "/gender", "value": "male"}]))
    bundle = _transaction({
        "resource": {"resourceType": "Binary", "contentType": "application/json-patch+json",
                     "data": ops.decode()},
        "request": {"method": "PATCH", "url": f"Patient/{pid}"},
    })  # fmt: skip
    response = fhir.post("/fhir", bundle)
    assert response.status_code == 200, response.text
    assert fhir.get(f"/fhir/Patient/{pid}").json()["gender"] == "male"


@pytest.mark.parametrize(
    "query",
    [
        "birthdate=notadate", "birthdate=gt", "_count=-1", "_count=abc", "_sort=nonsense",
        "name:bogus=x", "_include=Nothing:here", "general-practitioner.name=x",
        "_has:Observation:subject:nothing=x", "_lastUpdated=2026-13-45", "gender:missing=maybe",
        "_offset=1e9", "_summary=sometimes", "_total=lots", "identifier=%00",
    ],
)  # fmt: skip
def test_malformed_searches_get_a_400_outcome(fhir: Fhir, query: str) -> None:
    assert_outcome(fhir.get(f"/fhir/Patient?{query}"), 400)
