"""CDS Hooks 1.0 services (https://cds-hooks.hl7.org/1.0/): discovery, the ``patient-view`` and
``order-select`` calls, and feedback. Plain Python: ``web/cds_hooks.py`` adapts HTTP to it.

Security model (also in docs/cds-hooks.md):
- Every call carries a khealth bearer token in ``Authorization`` (the EHR's token, issued by
  ``khealth token issue`` or the trust layer). Without one: 401. Discovery is open: it holds no
  patient data.
- The data are read with the AccessContext of ``fhirAuthorization.access_token`` when the
  client sends one (the clinician's own token, so the EHR user's rights apply), else of the
  bearer token. Either must verify as a khealth token: we never call out to another FHIR server
  (``fhirServer`` is recorded, not used), so a token for someone else's server gets 401.
- With prefetch, the client's data are used; the service still opens a record session so the
  call is checked (the token must be allowed to read this Patient: otherwise 403) and audited.
  What the prefetch leaves out is read through the record service (the one door), with the
  same context; the person's Patients come from :func:`linked_patient_ids` (the MPI seam).
- Cards and feedback never go to logs; feedback is kept as counts per service and outcome.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from khealth.access import policy
from khealth.access.context import AccessContext
from khealth.cds import cards, record_codes
from khealth.cds.features import (
    KST,
    PersonFeatures,
    features_from_resources,
    linked_patient_ids,
    read_record,
)
from khealth.core.errors import InvalidRequest, Issue, NotFound
from khealth.records.ports import JobState
from khealth.records.service import Records, RecordSession

Json = dict[str, Any]
_PATIENT = "{{context.patientId}}"


@dataclass(frozen=True, slots=True)
class Service:
    id: str
    hook: str
    title: str
    description: str
    prefetch: Mapping[str, str]
    usage_requirements: str

    def as_dict(self) -> Json:
        return {"hook": self.hook, "id": self.id, "title": self.title,
                "description": self.description, "prefetch": dict(self.prefetch),
                "usageRequirements": self.usage_requirements}  # fmt: skip


#: prefetch key → the resource type it supplies
PREFETCH_TYPES = {"patient": "Patient", "observations": "Observation", "conditions": "Condition",
                  "medications": "MedicationRequest", "encounters": "Encounter"}  # fmt: skip
NEEDED = ("patient", "observations", "conditions", "medications")
PREFETCH = {
    "patient": f"Patient/{_PATIENT}",
    "observations": f"Observation?subject={_PATIENT}&_sort=-date&_count=200",
    "conditions": f"Condition?subject={_PATIENT}&_count=200",
    "medications": f"MedicationRequest?subject={_PATIENT}&_sort=-authoredon&_count=200",
}
USAGE = ("Send a khealth bearer token (Authorization header; fhirAuthorization.access_token, "
         "when given, is used for reading the record). Korean-first cards; decision support, "
         "not diagnosis.")  # fmt: skip
SERVICES: tuple[Service, ...] = (
    Service(
        "khealth-risk-summary",
        "patient-view",
        "K-Health 위험도 요약 (risk summary)",
        "도시 통합 기록(모든 병원)의 최신 검사값으로 10년 ASCVD 위험(PCE), 신기능(eGFR, KDIGO), "
        "혈당, 혈압, FIB-4를 요약합니다. City-wide record: ASCVD risk, kidney function, "
        "glycaemia, blood pressure and FIB-4 with the provenance of every value.",
        PREFETCH,
        USAGE,
    ),
    Service(
        "khealth-order-check",
        "order-select",
        "K-Health 처방 확인 (order check)",
        "스타틴·혈압약 처방 시 10년 ASCVD 위험(PCE)을, 메트포르민 처방 시 eGFR을 확인합니다. "
        "Statin or antihypertensive orders show the PCE risk; metformin orders check eGFR.",
        PREFETCH,
        USAGE,
    ),
)
_BY_ID = {s.id: s for s in SERVICES}


def discovery() -> Json:
    return {"services": [s.as_dict() for s in SERVICES]}


def get_service(service_id: str) -> Service:
    try:
        return _BY_ID[service_id]
    except KeyError:
        raise NotFound([Issue("not-found", "no CDS service has that id")]) from None


@dataclass(frozen=True, slots=True)
class HookRequest:
    hook: str
    hook_instance: str
    patient_id: str
    context: Json
    prefetch: Mapping[str, Any]
    fhir_authorization: Json | None


def _invalid(field: str, text: str) -> InvalidRequest:
    return InvalidRequest([Issue("invalid", text, (field,))])


def parse_request(service: Service, body: Any) -> HookRequest:
    """Check a hook call's required fields (hook, hookInstance, context.patientId and the
    hook's own context); a 400 names the first field that is wrong."""
    if not isinstance(body, dict):
        raise _invalid("body", "the request body must be a JSON object")
    if body.get("hook") != service.hook:
        raise _invalid("hook", f"hook must be {service.hook} for this service")
    instance = body.get("hookInstance")
    if not isinstance(instance, str) or not _is_uuid(instance):
        raise _invalid("hookInstance", "hookInstance must be a UUID")
    context = body.get("context")
    if not isinstance(context, dict):
        raise _invalid("context", "context must be an object")
    patient_id = context.get("patientId")
    if not isinstance(patient_id, str) or not patient_id or "/" in patient_id:
        raise _invalid("context.patientId", "context.patientId must be a Patient id")
    if service.hook == "order-select":
        _check_order_context(context)
    prefetch = body.get("prefetch") or {}
    if not isinstance(prefetch, dict):
        raise _invalid("prefetch", "prefetch must be an object")
    authorization = body.get("fhirAuthorization")
    if authorization is not None and not isinstance(authorization, dict):
        raise _invalid("fhirAuthorization", "fhirAuthorization must be an object")
    return HookRequest(service.hook, instance, patient_id, context, prefetch, authorization)


def _check_order_context(context: Json) -> None:
    selections = context.get("selections")
    if not isinstance(selections, list) or not all(isinstance(s, str) for s in selections):
        raise _invalid("context.selections", "context.selections must be a list of references")
    orders = context.get("draftOrders")
    if not isinstance(orders, dict) or orders.get("resourceType") != "Bundle":
        raise _invalid("context.draftOrders", "context.draftOrders must be a FHIR Bundle")


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def fhir_access_token(body: Any) -> str | None:
    """``fhirAuthorization.access_token`` of a hook call, if any (read before validation so
    that the web layer can build the caller's context)."""
    authorization = body.get("fhirAuthorization") if isinstance(body, dict) else None
    token = authorization.get("access_token") if isinstance(authorization, dict) else None
    return token if isinstance(token, str) and token else None


# -- the call --------------------------------------------------------------------------------


def call_service(
    records: Records, ctx: AccessContext, service_id: str, body: Any, base_url: str
) -> Json:
    """Answer one hook call: ``{"cards": [...]}``."""
    service = get_service(service_id)
    request = parse_request(service, body)
    features = _features(records, ctx, request)
    if service.hook == "patient-view":
        found = cards.patient_view(features, base_url)
    else:
        found = cards.order_select(features, selected_order_classes(request.context), base_url)
    return {"cards": [c.as_dict() for c in found]}


def _features(records: Records, ctx: AccessContext, request: HookRequest) -> PersonFeatures:
    provided = {key: _resources(request.prefetch.get(key)) for key in PREFETCH_TYPES}
    given = {key: found for key, found in provided.items() if found is not None}
    with records.begin(ctx, "cds-hooks") as rs:
        patient_ids = linked_patient_ids(rs, request.patient_id)
        if all(key in given for key in NEEDED):
            # the client's data cover its own Patient; the city record adds the person's others
            _check_may_read(rs, request.patient_id)
            resources = _own(rs, [r for found in given.values() for r in found], request.patient_id)
            others, unreadable = read_record(rs, patient_ids[1:])
            resources += others
        else:
            resources, unreadable = read_record(rs, patient_ids)
    as_of = dt.datetime.fromtimestamp(records.clock.now_us() / 1e6, KST).date()
    return features_from_resources(resources, patient_ids, as_of, unreadable)


def _check_may_read(rs: RecordSession, patient_id: str) -> None:
    """The checks a read of the Patient would make, without the read: prefetch data came
    from the client, but the call is still refused to a token that could not read them."""
    policy.require(rs.ctx, "Patient", "read")
    policy.require_in_compartment(rs.ctx, "Patient", "read", frozenset({patient_id}))
    rs.audit.saw("Patient", patient_id)


def _own(rs: RecordSession, resources: list[Json], patient_id: str) -> list[Json]:
    """Prefetched resources of the called-for Patient only, of types the caller may read."""
    subjects = {f"Patient/{patient_id}"}
    patient_ids = (patient_id,)
    kept = []
    for resource in resources:
        kind = resource.get("resourceType")
        if not isinstance(kind, str) or not rs.ctx.can(kind, "r"):
            continue
        subject = (resource.get("subject") or {}).get("reference")
        if kind == "Patient" and resource.get("id") not in patient_ids:
            continue
        if kind != "Patient" and subject not in subjects:
            continue
        kept.append(resource)
    return kept


def _resources(value: Any) -> list[Json] | None:
    """The resources of one prefetch entry (a resource or a searchset Bundle); None when the
    client could not satisfy it (absent or null, CDS Hooks 1.0 §prefetch)."""
    if not isinstance(value, dict):
        return None
    if value.get("resourceType") != "Bundle":
        return [value]
    entries = value.get("entry") or []
    return [
        e["resource"]
        for e in entries
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]


def selected_order_classes(context: Json) -> frozenset[str]:
    """Medication classes of the draft orders the clinician selected (all draft orders when
    ``selections`` is empty)."""
    selections = set(context.get("selections") or [])
    entries = (context.get("draftOrders") or {}).get("entry") or []
    classes: set[str] = set()
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or resource.get("resourceType") != "MedicationRequest":
            continue
        if selections and f"MedicationRequest/{resource.get('id')}" not in selections:
            continue
        concept = resource.get("medicationCodeableConcept") or {}
        codings = concept.get("coding") or []
        atc = [str(c.get("code")) for c in codings if c.get("system") == record_codes.ATC]
        names = [str(n) for n in [concept.get("text"), *(c.get("display") for c in codings)] if n]
        classes |= record_codes.classes_of(atc, names)
    return frozenset(classes)


# -- feedback --------------------------------------------------------------------------------

OUTCOMES = ("accepted", "overridden")


def record_feedback(records: Records, ctx: AccessContext, service_id: str, body: Any) -> Json:
    """Count feedback outcomes per service (https://cds-hooks.hl7.org/1.0/#feedback). Only
    counts are kept: the card uuid and the patient are not stored, and nothing is logged."""
    get_service(service_id)
    items = _feedback_items(body)
    key = f"cds-feedback/{service_id}"
    with records.begin(ctx, "cds-feedback") as rs:
        rs.s.lock(key)
        current = rs.get_job(key)
        counts: Json = orjson.loads(current.detail) if current else {}
        for item in items:
            counts[item["outcome"]] = counts.get(item["outcome"], 0) + 1
            reason = (item.get("overrideReason") or {}).get("code")
            if item["outcome"] == "overridden" and isinstance(reason, str):
                reasons = counts.setdefault("overrideReasons", {})
                reasons[reason] = reasons.get(reason, 0) + 1
        now = records.clock.now_us()
        created = current.created if current else now
        rs.put_job(JobState(key, "cds-feedback", "done", created, now, orjson.dumps(counts)))
    return counts


def _feedback_items(body: Any) -> list[Json]:
    items = body.get("feedback") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise _invalid("feedback", "feedback must be a non-empty list")
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("card"), str):
            raise _invalid(f"feedback[{index}].card", "each feedback needs the card's uuid")
        if item.get("outcome") not in OUTCOMES:
            raise _invalid(f"feedback[{index}].outcome", "outcome must be accepted or overridden")
        reason = item.get("overrideReason")
        if reason is not None and not isinstance(reason, dict):
            raise _invalid(f"feedback[{index}].overrideReason", "overrideReason must be a Coding")
    return items
