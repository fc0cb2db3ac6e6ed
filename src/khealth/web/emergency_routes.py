"""Routes of live status, destination ranking and pre-notification, installed on the
``/api/emergency`` router of :mod:`khealth.web.emergency_api` (kept in their own module so that
the triage routes and these can change independently).

* ``GET /facilities`` — the emergency facilities (from the FHIR record, cached) with status age.
* ``GET /acceptance-codes`` — the MKioskTy numbering table (current 27+1, Y-codes, legacy 11).
* ``PUT /facilities/{id}/status`` — a hospital's snapshot (NEMC field names; see
  ``emergency/status.py``); ``GET .../status``, ``GET .../status/history``.
* ``POST /recommendations`` — triage + ranked facilities with explanations and warnings.
* ``POST /notifications`` — the crew chooses a facility: Encounter + ServiceRequest are written.
* ``GET /facilities/{id}/incoming``, ``GET /facilities/{id}/events`` (server-sent events; a
  browser opens it with a ticket from ``POST /facilities/{id}/events/ticket``, see
  :mod:`khealth.web.stream_tickets`).
* ``POST /notifications/{id}/accept|decline|arrive|start|cancel``; a decline answers the next
  recommendation.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from khealth.access.context import AccessContext, Role
from khealth.access.scopes import parse_scopes
from khealth.core.errors import Forbidden, Issue
from khealth.emergency.destination import Ranking, Recommendation, RoutingNeed
from khealth.emergency.facilities import FacilityDirectory, record_loader
from khealth.emergency.model import TriageResult
from khealth.emergency.notify import DECLINE_REASONS, Choice, PreNotifications
from khealth.emergency.ports import EmergencyStore, Notification, NotificationEvent
from khealth.emergency.service import EmergencyService, speaks_for, status_json, to_datetime
from khealth.emergency.status_codes import BED_FIELDS, EQUIPMENT_FIELDS, acceptance_table
from khealth.emergency.travel import Point
from khealth.emergency.triage import assess
from khealth.web.deps import access_context, services
from khealth.web.emergency_triage_schema import AssessmentIn, triage_out
from khealth.web.stream_tickets import TICKET_SECONDS, stream_caller, stream_tickets

Caller = Annotated[AccessContext, Depends(access_context)]
DIRECTORY_CONTEXT = AccessContext(
    subject="emergency-directory",
    role=Role.SERVICE,
    scopes=parse_scopes("system/HealthcareService.rs system/Organization.rs system/Location.rs"),
)
_NOT_ROUTING = (Role.CITIZEN, Role.GUARDIAN, Role.RESEARCHER, Role.AUDITOR)
_BUILD_LOCK = threading.Lock()
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


@dataclasses.dataclass(frozen=True)
class Emergency:
    service: EmergencyService
    notifications: PreNotifications


def _store_for(store: object) -> EmergencyStore:
    from khealth.store.sql import SqlStore

    if isinstance(store, SqlStore):
        from khealth.store.emergency_sql import SqlEmergencyStore

        return SqlEmergencyStore(store.engine)
    from khealth.store.emergency_memory import MemoryEmergencyStore

    return MemoryEmergencyStore()


def emergency(request: Request) -> Emergency:
    """The app's emergency services, built on first use over the app's store."""
    found: Emergency | None = getattr(request.app.state, "emergency", None)
    if found is not None:
        return found
    with _BUILD_LOCK:
        found = getattr(request.app.state, "emergency", None)
        if found is None:
            svc = services(request)
            store = _store_for(svc.store)
            directory = FacilityDirectory(record_loader(svc.records, DIRECTORY_CONTEXT))
            service = EmergencyService(svc.records, store, directory)
            found = Emergency(service, PreNotifications(service, store))
            request.app.state.emergency = found
    return found


Services = Annotated[Emergency, Depends(emergency)]


def _require_routing_role(ctx: AccessContext) -> None:
    if ctx.role in _NOT_ROUTING:
        raise Forbidden([Issue("forbidden", "routing is for crews, hospitals and operators")])


# -- request and response bodies -------------------------------------------------------------
class Location(BaseModel):
    lat: float = Field(ge=-90, le=90, description="WGS84 latitude of the ambulance")
    lon: float = Field(ge=-180, le=180, description="WGS84 longitude of the ambulance")


class RecommendationRequest(BaseModel):
    assessment: AssessmentIn = Field(description="the triage input (as POST /triage)")
    location: Location
    top: int = Field(5, ge=1, le=30)
    incident_id: str | None = Field(None, max_length=64, description="exclude this incident's decliners")  # fmt: skip
    exclude: list[str] = Field(default_factory=list, max_length=100)


class RecommendationOut(BaseModel):
    facility_id: str
    name: str
    eta_minutes: float = Field(description="estimated driving minutes")
    capabilities: list[str]
    explanation: str = Field(description="plain Korean, for the crew")
    explanation_en: str
    tier: str
    definitive_minutes: float = Field(description="expected minutes to definitive care")
    meets_need: bool
    within_window: bool
    er_beds: int | None
    status: str = Field(description="fresh | stale | none")
    status_age_minutes: float | None
    recent_declines: int


class WarningOut(BaseModel):
    code: str
    ko: str
    en: str


class RecommendationsOut(BaseModel):
    triage: dict[str, Any]
    recommendations: list[RecommendationOut]
    warnings: list[WarningOut]
    considered: int


class ChoiceRequest(RecommendationRequest):
    facility_id: str = Field(max_length=64)
    patient_id: str | None = Field(None, max_length=64, description="the Patient, if known")


class DeclineRequest(BaseModel):
    reason: Literal["no_specialist", "no_bed", "no_equipment", "overcrowded", "no_capability", "other"]  # fmt: skip


def _status_schema() -> dict[str, Any]:
    props: dict[str, Any] = {"hvidate": {"type": "string", "description": "ISO 8601 or YYYYMMDDHHMMSS (KST)"}}  # fmt: skip
    props.update({k: {"type": ["integer", "null"], "description": v} for k, v in BED_FIELDS.items()})  # fmt: skip
    flag = {"enum": ["Y", "N", None]}
    props.update({k: {**flag, "description": v} for k, v in EQUIPMENT_FIELDS.items()})
    props.update({str(r["field"]): {**flag, "description": f"{r['y_code'] or '-'} {r['ko']}"} for r in acceptance_table()})  # fmt: skip
    props["on_call"] = {"type": "object", "additionalProperties": {"type": ["boolean", "null"]},
                        "description": "HIRA department code (01 내과 …) → specialist on call"}  # fmt: skip
    return {"type": "object", "properties": props, "additionalProperties": False}


# -- the crew's side of the triage -------------------------------------------------------------
def _triage_json(result: TriageResult) -> dict[str, Any]:
    out: dict[str, Any] = triage_out(result).model_dump(mode="json")
    return out


def _recommendation(rec: Recommendation) -> dict[str, Any]:
    return {
        "facility_id": rec.facility.id, "name": rec.facility.name,
        "eta_minutes": round(rec.eta_minutes, 1),
        "capabilities": sorted(rec.facility.capabilities),
        "explanation": rec.explanation_ko, "explanation_en": rec.explanation_en,
        "tier": rec.facility.tier, "definitive_minutes": round(rec.definitive_minutes, 1),
        "meets_need": rec.meets_need, "within_window": rec.within_window,
        "er_beds": rec.er_beds, "status": rec.status_state,
        "status_age_minutes": None if rec.status_age_minutes is None else round(rec.status_age_minutes, 1),
        "recent_declines": rec.recent_declines,
    }  # fmt: skip


def _ranking_json(ranking: Ranking) -> dict[str, Any]:
    return {
        "recommendations": [_recommendation(r) for r in ranking.recommendations],
        "warnings": [dataclasses.asdict(w) for w in ranking.warnings],
        "considered": ranking.considered,
    }


def _excluded(em: Emergency, body: RecommendationRequest) -> frozenset[str]:
    declined = set(body.exclude)
    if body.incident_id:
        declined |= {n.facility_id for n in em.service.store.incident_notifications(body.incident_id) if n.state == "declined"}  # fmt: skip
    return frozenset(declined)


def _notification_json(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id, "incident_id": n.incident_id, "facility_id": n.facility_id, "state": n.state,
        "created": to_datetime(n.created).isoformat(), "updated": to_datetime(n.updated).isoformat(),
        "eta_minutes": n.eta_minutes, "ktas_level": n.detail.get("ktas_level"),
        "pathway": n.detail.get("need", {}).get("pathway"),
        "encounter": f"Encounter/{n.encounter_id}",
        "service_request": f"ServiceRequest/{n.service_request_id}",
        "patient": f"Patient/{n.patient_id}",
    }  # fmt: skip


def _event_json(e: NotificationEvent) -> dict[str, Any]:
    return {"seq": e.seq, "notification_id": e.notification_id, "incident_id": e.incident_id,
            "kind": e.kind, "at": to_datetime(e.at).isoformat(), "reason": e.reason}  # fmt: skip


# -- routes ----------------------------------------------------------------------------------
def list_facilities(ctx: Caller, em: Services) -> dict[str, Any]:
    """The emergency facilities (tier, coordinates, capabilities) with their status age."""
    now = em.service.now()
    live = em.service.live_statuses()
    out = []
    for facility in em.service.directory.all():
        status = live.get(facility.id)
        item = facility.to_json()
        item["status"] = None if status is None else status_json(status, now)
        out.append(item)
    return {"facilities": out}


def acceptance_codes(ctx: Caller) -> dict[str, Any]:
    """The MKioskTy table: current numbering (operation 2, used by this API), the Y-codes of
    the acceptance messages (operation 9), and the legacy numbering (operation 5)."""
    return {"numbering": "current (getSrsillDissAceptncPosblInfoInqire, MKioskTy1..28)",
            "items": acceptance_table()}  # fmt: skip


def put_status(facility_id: str, ctx: Caller, em: Services, body: Annotated[Any, Body()]) -> dict[str, Any]:  # fmt: skip
    """Replace the facility's live status with this snapshot (fields left out are unknown);
    the previous snapshots stay in the history."""
    status = em.service.update_status(ctx, facility_id, body)
    return status_json(status, em.service.now())


def get_status(facility_id: str, ctx: Caller, em: Services) -> dict[str, Any]:
    status = em.service.status(facility_id)
    if status is None:
        return {"facility_id": facility_id, "status": None, "stale": True}
    return status_json(status, em.service.now())


def get_history(
    facility_id: str, ctx: Caller, em: Services,
    limit: Annotated[int, Query(ge=1, le=500)] = 50, before: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Snapshots newest first; page with ``before`` = the last ``seq`` seen."""
    now = em.service.now()
    rows = em.service.history(facility_id, limit, before)
    return {"facility_id": facility_id,
            "history": [{"seq": seq, **status_json(s, now)} for seq, s in rows]}  # fmt: skip


def recommend(body: RecommendationRequest, ctx: Caller, em: Services) -> dict[str, Any]:
    """Triage the assessment and rank the facilities for it, best first."""
    _require_routing_role(ctx)
    now = em.service.now()
    triage = assess(body.assessment.to_domain(), now)
    need = RoutingNeed.of(triage, now)
    origin = Point(body.location.lat, body.location.lon)
    ranking = em.service.recommend(need, origin, exclude=_excluded(em, body), top=body.top)
    return {"triage": _triage_json(triage), **_ranking_json(ranking)}


def choose(body: ChoiceRequest, ctx: Caller, em: Services) -> dict[str, Any]:
    """The crew chooses a facility: an Encounter (planned, EMER) and a ServiceRequest (triage,
    vitals, ETA) are written with the crew's context, and the ER is notified."""
    _require_routing_role(ctx)
    now = em.service.now()
    assessment = body.assessment.to_domain()
    triage = assess(assessment, now)
    choice = Choice(body.facility_id, assessment, triage, Point(body.location.lat, body.location.lon),
                    body.incident_id, body.patient_id)  # fmt: skip
    notification = em.notifications.notify(ctx, choice)
    return {"notification": _notification_json(notification), "triage": _triage_json(triage)}


def get_notification(notification_id: str, ctx: Caller, em: Services) -> dict[str, Any]:
    found = em.notifications.get(notification_id)
    if not (ctx.role == Role.EMS or speaks_for(ctx, found.facility_id)):
        raise Forbidden([Issue("forbidden", "not your notification")])
    return {"notification": _notification_json(found)}


def incoming(facility_id: str, ctx: Caller, em: Services) -> dict[str, Any]:
    """Patients on their way (pending or accepted), with each ServiceRequest (triage, vitals)."""
    found = em.notifications.incoming(ctx, facility_id)
    return {"facility_id": facility_id,
            "incoming": [{**_notification_json(n), "service_request_resource": sr} for n, sr in found]}  # fmt: skip


def accept(notification_id: str, ctx: Caller, em: Services) -> dict[str, Any]:
    return {"notification": _notification_json(em.notifications.accept(ctx, notification_id))}


def decline(notification_id: str, body: DeclineRequest, ctx: Caller, em: Services) -> dict[str, Any]:  # fmt: skip
    """Record the refusal with its reason and answer the next recommendation at once (this
    incident's decliners excluded)."""
    declined, ranking = em.notifications.decline(ctx, notification_id, body.reason)
    return {"notification": _notification_json(declined), **_ranking_json(ranking)}


def arrive(notification_id: str, ctx: Caller, em: Services) -> dict[str, Any]:
    return {"notification": _notification_json(em.notifications.arrive(ctx, notification_id))}


def start(notification_id: str, ctx: Caller, em: Services) -> dict[str, Any]:
    return {"notification": _notification_json(em.notifications.start(ctx, notification_id))}


def cancel(notification_id: str, ctx: Caller, em: Services) -> dict[str, Any]:
    if ctx.role != Role.EMS and not any(s.context == "system" for s in ctx.scopes):
        raise Forbidden([Issue("forbidden", "only the crew may cancel")])
    return {"notification": _notification_json(em.notifications.cancel(ctx, notification_id))}


HEARTBEAT_SECONDS = 15.0
POLL_SECONDS = 1.0
STREAM_SECONDS = 600.0  # a stream then ends; the client resumes with Last-Event-ID or a new ticket


async def events_ticket(facility_id: str, request: Request, ctx: Caller, em: Services) -> dict[str, Any]:  # fmt: skip
    """A one-use ticket (60 s) that opens this facility's event stream for this caller: a
    browser's EventSource cannot send the Authorization header, and the bearer token never goes
    in a URL. The facility and role rule of the stream is checked now and again on opening."""
    await run_in_threadpool(em.notifications.events, ctx, facility_id, 0, 1)  # 404 / 403 first
    ticket = stream_tickets(request).issue(ctx, facility_id)
    return {"ticket": ticket, "expires_in": TICKET_SECONDS,
            "events_url": f"/api/emergency/facilities/{facility_id}/events?ticket={ticket}"}  # fmt: skip


async def events(
    facility_id: str, request: Request, ctx: Annotated[AccessContext, Depends(stream_caller)], em: Services,
    after: Annotated[int | None, Query(ge=0)] = None, follow: bool = True,
) -> StreamingResponse:  # fmt: skip
    """Server-sent events of the facility's pre-notifications (``notified``, ``accepted``,
    ``declined``, ``arrived``, ``in-progress``, ``cancelled``), each with its ``id`` = seq so a
    reconnecting EventSource resumes (``Last-Event-ID``). ``follow=false`` sends the backlog and
    ends (for catching up and tests). No clinical content: the board reads ``/incoming``.
    Authorised by a bearer token or a ``ticket`` (browsers); a stream ends after
    ``STREAM_SECONDS`` so that access stops soon after the credential does."""
    start_after = after if after is not None else int(request.headers.get("last-event-id") or 0)
    await run_in_threadpool(em.notifications.events, ctx, facility_id, 0, 1)  # 404 / 403 first

    deadline = time.monotonic() + STREAM_SECONDS

    async def stream() -> AsyncIterator[bytes]:
        last, idle = start_after, 0.0
        while time.monotonic() < deadline:
            batch = await run_in_threadpool(em.notifications.events, ctx, facility_id, last)
            for event in batch:
                last = event.seq
                yield b"id: %d\nevent: %s\ndata: %s\n\n" % (event.seq, event.kind.encode(), orjson.dumps(_event_json(event)))  # fmt: skip
            if not follow or await request.is_disconnected():
                return
            idle = 0.0 if batch else idle + POLL_SECONDS
            if idle >= HEARTBEAT_SECONDS:
                idle = 0.0
                yield b": keep-alive\n\n"
            await asyncio.sleep(POLL_SECONDS)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


def install(router: APIRouter) -> None:
    """Add these routes to the /api/emergency router."""
    errors: dict[int | str, dict[str, Any]] = {403: {"description": "not this caller's facility or role", **PROBLEM},
              404: {"description": "unknown facility or notification", **PROBLEM},
              422: {"description": "bad fields, named in errors[].pointer", **PROBLEM}}  # fmt: skip
    conflict: dict[int | str, dict[str, Any]] = {
        409: {"description": "the notification is not in a state for this", **PROBLEM}
    }
    add = router.add_api_route
    add("/facilities", list_facilities, methods=["GET"], summary="Emergency facilities")
    add("/acceptance-codes", acceptance_codes, methods=["GET"], summary="MKioskTy numbering table")  # fmt: skip
    add("/facilities/{facility_id}/status", put_status, methods=["PUT"], responses=errors,
        summary="Report live status (NEMC fields)",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _status_schema()}}}})  # fmt: skip
    add("/facilities/{facility_id}/status", get_status, methods=["GET"], responses=errors, summary="Live status")  # fmt: skip
    add("/facilities/{facility_id}/status/history", get_history, methods=["GET"], responses=errors, summary="Status history")  # fmt: skip
    add("/recommendations", recommend, methods=["POST"], responses=errors, response_model=RecommendationsOut, summary="Rank destinations")  # fmt: skip
    add("/notifications", choose, methods=["POST"], responses=errors, status_code=201, summary="Choose a facility: pre-notify it")  # fmt: skip
    add("/notifications/{notification_id}", get_notification, methods=["GET"], responses=errors, summary="One pre-notification")  # fmt: skip
    add("/facilities/{facility_id}/incoming", incoming, methods=["GET"], responses=errors, summary="Incoming patients")  # fmt: skip
    add("/facilities/{facility_id}/events", events, methods=["GET"], responses=errors, summary="Pre-notification events (SSE)",
        response_class=StreamingResponse)  # fmt: skip
    add("/facilities/{facility_id}/events/ticket", events_ticket, methods=["POST"], responses=errors,
        summary="A 60-second, one-use ticket that opens the event stream (for EventSource)")  # fmt: skip
    for name, handler in (("accept", accept), ("decline", decline), ("arrive", arrive), ("start", start), ("cancel", cancel)):  # fmt: skip
        add(f"/notifications/{{notification_id}}/{name}", handler, methods=["POST"],
            responses={**errors, **conflict}, summary=f"{name.capitalize()} a pre-notification")  # fmt: skip


__all__ = ["DECLINE_REASONS", "install"]
