"""What the emergency domain needs from storage (implemented in ``khealth.store.emergency_sql``
and its in-memory twin ``khealth.store.emergency_memory``).

These tables hold what is not clinical record (architecture rule 1): capacity snapshots, and the
pre-notification workflow's states and time stamps. The clinical content of a pre-notification
(triage, vitals) lives in the FHIR Encounter and ServiceRequest; a notification row keeps only
what routing needs to re-rank after a decline (pathway, capabilities, window, location).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class StatusRecord:
    """One stored snapshot: ``content`` is the status's wire JSON (see ``status.py``)."""

    seq: int  # store order; 0 before it is stored
    facility_id: str
    observed: int  # µs since the epoch (hvidate)
    recorded: int  # µs since the epoch
    content: bytes


@dataclass(frozen=True, slots=True)
class Notification:
    """One pre-notification of one facility for one incident. ``state``: pending → accepted |
    declined | cancelled; accepted → arrived → in-progress."""

    id: str
    incident_id: str
    facility_id: str
    state: str
    created: int  # µs
    updated: int  # µs
    encounter_id: str
    service_request_id: str
    patient_id: str
    eta_minutes: float
    detail: Mapping[str, Any]  # routing context: need, location; no clinical values


@dataclass(frozen=True, slots=True)
class NotificationEvent:
    """One time-stamped step (notified, accepted, declined, arrived, in-progress, cancelled)."""

    seq: int  # store order; 0 before it is stored
    notification_id: str
    incident_id: str
    facility_id: str
    kind: str
    at: int  # µs
    reason: str | None = None  # decline reason code


class EmergencyStore(Protocol):
    def add_status(self, record: StatusRecord) -> StatusRecord: ...

    def latest_statuses(self, facility_ids: Sequence[str] | None = None) -> dict[str, StatusRecord]:
        """The newest snapshot (by ``observed``, then ``seq``) of each facility."""
        ...

    def status_history(self, facility_id: str, limit: int, before_seq: int | None) -> list[StatusRecord]:  # fmt: skip
        """Snapshots of one facility, newest first."""
        ...

    def add_notification(self, notification: Notification, event: NotificationEvent) -> None: ...

    def get_notification(self, id: str) -> Notification | None: ...

    def transition(self, id: str, expected_state: str, new_state: str, event: NotificationEvent) -> Notification | None:  # fmt: skip
        """Move ``id`` from ``expected_state`` to ``new_state`` and record ``event``, atomically;
        None (and nothing written) when the notification is no longer in ``expected_state``."""
        ...

    def notifications(self, facility_id: str, states: Sequence[str]) -> list[Notification]: ...

    def incident_notifications(self, incident_id: str) -> list[Notification]: ...

    def events(self, facility_id: str, after_seq: int, limit: int) -> list[NotificationEvent]: ...

    def declines_since(self, since: int) -> dict[str, int]:
        """Declines per facility recorded at or after ``since`` (µs)."""
        ...
