"""Pre-notification: the crew chooses a facility, the ER sees the patient coming and accepts or
declines with a reason; a decline re-routes at once.

Each step is written twice, on purpose: as FHIR (through the record service, with the caller's
AccessContext — the one door) and as a time-stamped row of the workflow table (for the board's
event stream and the refusal history ranking reads).

FHIR resources (R4):

* ``Encounter`` — ``class`` EMER (v3 ActCode), ``status`` planned → cancelled (declined) or
  arrived → in-progress; ``statusHistory`` keeps each status with its period, and the resource
  history keeps every version. ``serviceProvider`` and ``location`` name the facility.
* ``ServiceRequest`` — the notification itself: ``status`` active → revoked (declined) or
  completed (arrived); ``priority`` from the KTAS level; ``occurrenceDateTime`` the ETA;
  ``note`` the triage and vitals for the ER; ``reasonCode`` the suspected pathway.
* ``Patient`` — when the crew cannot name the patient, a placeholder (tagged
  ``unidentified-emergency``) that registration merges later, as EDs do with unknown patients.

State machine: pending → accepted | declined | cancelled; accepted → arrived → in-progress.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from khealth.access import policy
from khealth.access.context import AccessContext
from khealth.core.errors import Conflict, InvalidResource, Issue, NotFound
from khealth.emergency.destination import Ranking, RoutingNeed
from khealth.emergency.model import Assessment, Capability, Pathway, TriageResult
from khealth.emergency.ports import EmergencyStore, Notification, NotificationEvent
from khealth.emergency.service import EmergencyService, require_speaks_for, to_datetime, to_us
from khealth.emergency.travel import Point
from khealth.records.clock import format_instant
from khealth.records.service import RecordSession, load_json

WORKFLOW_SYSTEM = "https://khealth.example.org/fhir/CodeSystem/emergency-workflow"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
DECLINE_REASONS: dict[str, tuple[str, str]] = {
    "no_specialist": ("전문의 부재", "no specialist available"),
    "no_bed": ("병상 부족", "no bed"),
    "no_equipment": ("장비 사용 불가", "equipment unavailable"),
    "overcrowded": ("응급실 과밀", "ER overcrowded"),
    "no_capability": ("해당 진료 불가", "cannot treat this condition"),
    "other": ("기타", "other"),
}
ACTIVE_STATES = ("pending", "accepted")
_ENCOUNTER_STATUS = {"declined": "cancelled", "cancelled": "cancelled", "arrived": "arrived",
                     "in-progress": "in-progress"}  # fmt: skip
_REQUEST_STATUS = {"declined": "revoked", "cancelled": "revoked", "arrived": "completed"}


@dataclass(frozen=True, slots=True)
class Choice:
    """What the crew sends when it chooses a facility."""

    facility_id: str
    assessment: Assessment
    triage: TriageResult
    location: Point
    incident_id: str | None = None
    patient_id: str | None = None


class PreNotifications:
    def __init__(self, service: EmergencyService, store: EmergencyStore) -> None:
        self.service = service
        self.store = store
        self.records = service.records

    # -- the crew ----------------------------------------------------------------------
    def notify(self, ctx: AccessContext, choice: Choice) -> Notification:
        facility = self.service.facility(choice.facility_id)
        now = self.service.now()
        eta = self.service.travel.minutes(choice.location, [Point(facility.latitude, facility.longitude)], now)[0]  # fmt: skip
        need = RoutingNeed.of(choice.triage, choice.triage.assessed_at or now)
        incident = choice.incident_id or str(uuid.uuid4())
        with self.records.begin(ctx, "emergency-notify") as rs:
            patient_id = choice.patient_id or _placeholder_patient(rs, choice.assessment)
            encounter = rs.create(_encounter(facility.id, facility.location_id, patient_id, choice.triage, now))  # fmt: skip
            request = rs.create(
                _service_request(facility.id, patient_id, encounter.stored.id, choice, now, eta)
            )
        created = to_us(now)
        notification = Notification(
            str(uuid.uuid4()), incident, facility.id, "pending", created, created,
            encounter.stored.id, request.stored.id, patient_id, round(eta, 1),
            {"need": _need_json(need), "location": {"lat": choice.location.latitude,
             "lon": choice.location.longitude}, "ktas_level": choice.triage.ktas_level},
        )  # fmt: skip
        self.store.add_notification(notification, _event(notification, "notified", created))
        return notification

    def cancel(self, ctx: AccessContext, id: str) -> Notification:
        """The crew withdraws a pending notification (e.g. diverted, or patient deceased)."""
        return self._move(ctx, id, ("pending", "accepted"), "cancelled", None, crew=True)

    # -- the ER ------------------------------------------------------------------------
    def get(self, id: str) -> Notification:
        found = self.store.get_notification(id)
        if found is None:
            raise NotFound([Issue("not-found", "no notification has that id")])
        return found

    def incoming(self, ctx: AccessContext, facility_id: str) -> list[tuple[Notification, dict[str, Any]]]:  # fmt: skip
        """Pending and accepted notifications, each with its ServiceRequest read through the
        record service with the caller's context (audited)."""
        self.service.facility(facility_id)
        require_speaks_for(ctx, facility_id)
        found = self.store.notifications(facility_id, ACTIVE_STATES)
        if not found:
            return []
        with self.records.begin(ctx, "emergency-incoming") as rs:
            return [(n, load_json(rs.read("ServiceRequest", n.service_request_id).content)) for n in found]  # fmt: skip

    def events(self, ctx: AccessContext, facility_id: str, after: int, limit: int = 100) -> list[NotificationEvent]:  # fmt: skip
        self.service.facility(facility_id)
        require_speaks_for(ctx, facility_id)
        return self.store.events(facility_id, after, limit)

    def accept(self, ctx: AccessContext, id: str) -> Notification:
        return self._move(ctx, id, ("pending",), "accepted", None)

    def decline(self, ctx: AccessContext, id: str, reason: str) -> tuple[Notification, Ranking]:
        """Record the refusal and answer the next recommendation at once: the same need from
        the same place, minus every facility that declined this incident."""
        if reason not in DECLINE_REASONS:
            raise InvalidResource([Issue("invalid", "unknown decline reason", ("reason",))])
        declined = self._move(ctx, id, ("pending",), "declined", reason)
        return declined, self.reroute(declined)

    def arrive(self, ctx: AccessContext, id: str) -> Notification:
        return self._move(ctx, id, ("accepted",), "arrived", None)

    def start(self, ctx: AccessContext, id: str) -> Notification:
        return self._move(ctx, id, ("arrived",), "in-progress", None)

    def reroute(self, notification: Notification) -> Ranking:
        detail = notification.detail
        refused = frozenset(
            n.facility_id for n in self.store.incident_notifications(notification.incident_id)
            if n.state in ("declined",)
        )  # fmt: skip
        location = Point(float(detail["location"]["lat"]), float(detail["location"]["lon"]))
        return self.service.recommend(_need_of(detail["need"]), location, exclude=refused)

    # -- the shared step ---------------------------------------------------------------
    def _move(
        self, ctx: AccessContext, id: str, expected: tuple[str, ...], new: str, reason: str | None,
        crew: bool = False,
    ) -> Notification:  # fmt: skip
        """Claim the transition in the workflow table first (exactly one of two concurrent
        answers wins), then write the FHIR resources; if those fail, put the state back.
        The two are separate transactions: on SQLite a record session holds the write lock,
        so the workflow table cannot be written inside it."""
        current = self.get(id)
        if not crew:
            require_speaks_for(ctx, current.facility_id)
        if current.state not in expected:
            raise Conflict([Issue("conflict", f"the notification is {current.state}, not {' or '.join(expected)}")])  # fmt: skip
        with self.records.begin(ctx, f"emergency-{new}"):  # a denial here is audited
            for resource_type in ("Encounter", "ServiceRequest"):
                policy.require(ctx, resource_type, "update")
        now_us = self.records.clock.now_us()
        moved = self.store.transition(id, current.state, new, _event(current, new, now_us, reason))  # fmt: skip
        if moved is None:
            raise Conflict([Issue("conflict", "the notification was answered meanwhile")])
        try:
            with self.records.begin(ctx, f"emergency-{new}") as rs:
                _update_fhir(rs, current, new, reason, now_us)
        except Exception:
            back = _event(current, "reverted", self.records.clock.now_us())
            self.store.transition(id, new, current.state, back)
            raise
        return moved


def _event(n: Notification, kind: str, at: int, reason: str | None = None) -> NotificationEvent:
    return NotificationEvent(0, n.id, n.incident_id, n.facility_id, kind, at, reason)


def _need_json(need: RoutingNeed) -> dict[str, Any]:
    return {"pathway": need.pathway.value if need.pathway else None,
            "needs": sorted(need.needs), "window_minutes": need.window_minutes,
            "at": need.at.isoformat()}  # fmt: skip


def _need_of(data: dict[str, Any]) -> RoutingNeed:
    pathway = Pathway(data["pathway"]) if data.get("pathway") else None
    return RoutingNeed(
        pathway, frozenset(Capability(c) for c in data["needs"]), data.get("window_minutes"),
        dt.datetime.fromisoformat(data["at"]),
    )  # fmt: skip


def _placeholder_patient(rs: RecordSession, assessment: Assessment) -> str:
    patient = {
        "resourceType": "Patient",
        "meta": {"tag": [{"system": WORKFLOW_SYSTEM, "code": "unidentified-emergency",
                          "display": "신원 미상 응급환자"}]},
        "active": True,
        "gender": assessment.sex or "unknown",
    }  # fmt: skip
    return rs.create(patient).stored.id


def _priority(ktas: int) -> str:
    return "stat" if ktas <= 2 else ("urgent" if ktas == 3 else "routine")


def _encounter(facility_id: str, location_id: str | None, patient_id: str, triage: TriageResult, now: dt.datetime) -> dict[str, Any]:  # fmt: skip
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "status": "planned",
        "statusHistory": [{"status": "planned", "period": {"start": now.isoformat()}}],
        "class": {"system": ACT_CODE, "code": "EMER", "display": "emergency"},
        "priority": {
            "coding": [{"system": ACT_CODE, "code": "EM" if triage.ktas_level <= 2 else "UR"}]
        },
        "subject": {"reference": f"Patient/{patient_id}"},
        "serviceProvider": {"reference": f"Organization/{facility_id}"},
    }
    if triage.pathway is not None:
        encounter["reasonCode"] = [{"text": triage.pathway.value}]
    if location_id:
        encounter["location"] = [{"location": {"reference": f"Location/{location_id}"}, "status": "planned"}]  # fmt: skip
    return encounter


def _service_request(facility_id: str, patient_id: str, encounter_id: str, choice: Choice, now: dt.datetime, eta: float) -> dict[str, Any]:  # fmt: skip
    triage = choice.triage
    request: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [{"coding": [{"system": WORKFLOW_SYSTEM, "code": "pre-notification"}]}],
        "code": {"coding": [{"system": WORKFLOW_SYSTEM, "code": "er-pre-notification",
                             "display": "응급실 사전 통보 (pre-hospital notification)"}]},
        "priority": _priority(triage.ktas_level),
        "subject": {"reference": f"Patient/{patient_id}"},
        "encounter": {"reference": f"Encounter/{encounter_id}"},
        "occurrenceDateTime": (now + dt.timedelta(minutes=eta)).isoformat(),
        "authoredOn": now.isoformat(),
        "requester": {"display": "119 구급대 (EMS crew)"},
        "performer": [{"reference": f"Organization/{facility_id}"}],
        "note": [{"time": now.isoformat(), "text": triage_note(choice.assessment, triage)}],
    }  # fmt: skip
    if triage.pathway is not None:
        request["reasonCode"] = [{"text": triage.pathway.value}]
    return request


_VITALS = (
    ("systolic_bp", "SBP", "mmHg"), ("heart_rate", "HR", "/min"), ("respiratory_rate", "RR", "/min"),
    ("spo2", "SpO2", "%"), ("temperature", "T", "°C"), ("gcs", "GCS", ""),
    ("consciousness", "AVPU", ""), ("glucose", "BST", "mg/dL"), ("pain", "NRS", ""),
)  # fmt: skip


def triage_note(assessment: Assessment, triage: TriageResult) -> str:
    """The ER's summary: level, pathway, scores, vitals (clinical content: FHIR only, never logs)."""
    parts = [f"Pre-KTAS {triage.ktas_level}"]
    if triage.pathway is not None:
        parts.append(f"의심 경로 {triage.pathway.value}")
    if triage.news2 is not None:
        parts.append(f"NEWS2 {triage.news2.score} ({triage.news2.band})")
    if triage.shock_index is not None:
        parts.append(f"SI {triage.shock_index}")
    if assessment.age is not None:
        parts.append(f"{assessment.age:g}세 {assessment.sex or ''}".strip())
    if assessment.chief_complaint:
        parts.append(f"주증상 {assessment.chief_complaint}")
    vitals = [f"{label} {getattr(assessment, name)}{unit}" for name, label, unit in _VITALS
              if getattr(assessment, name) is not None]  # fmt: skip
    if vitals:
        parts.append(", ".join(vitals))
    return " / ".join(parts)


def _update_fhir(rs: RecordSession, n: Notification, new: str, reason: str | None, now_us: int) -> None:  # fmt: skip
    when = format_instant(now_us)
    encounter_status = _ENCOUNTER_STATUS.get(new)
    if encounter_status is not None:
        encounter = load_json(rs.read("Encounter", n.encounter_id).content)
        rs.update("Encounter", n.encounter_id, _with_status(encounter, encounter_status, when))
    request = load_json(rs.read("ServiceRequest", n.service_request_id).content)
    request["status"] = _REQUEST_STATUS.get(new, request["status"])
    text = {"accepted": "수용 승인 (accepted)", "declined": "수용 거절 (declined)"}.get(new, new)
    if reason is not None:
        ko, en = DECLINE_REASONS[reason]
        text += f": {ko} ({en})"
    request["note"] = [*request.get("note", []), {"time": when, "text": text}]
    rs.update("ServiceRequest", n.service_request_id, request)


def _with_status(encounter: dict[str, Any], status: str, when: str) -> dict[str, Any]:
    history = [dict(h) for h in encounter.get("statusHistory", [])]
    if history and "end" not in history[-1].get("period", {}):
        history[-1]["period"] = {**history[-1]["period"], "end": when}
    history.append({"status": status, "period": {"start": when}})
    updated = {**encounter, "status": status, "statusHistory": history}
    if status in ("arrived", "in-progress") and "period" not in encounter:
        updated["period"] = {"start": when}
    if "location" in updated and status in ("arrived", "in-progress", "cancelled"):
        loc_status = "completed" if status == "cancelled" else "active"
        updated["location"] = [{**loc, "status": loc_status} for loc in updated["location"]]
    updated.pop("meta", None)
    return updated


__all__ = ["DECLINE_REASONS", "Choice", "PreNotifications", "to_datetime", "triage_note"]
