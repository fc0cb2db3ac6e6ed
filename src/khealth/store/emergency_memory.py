"""The in-memory twin of :mod:`khealth.store.emergency_sql` (tests, the memory backend):
the same ``EmergencyStore`` behaviour over lists and one lock."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace

from khealth.emergency.ports import Notification, NotificationEvent, StatusRecord


class MemoryEmergencyStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._statuses: list[StatusRecord] = []
        self._notifications: dict[str, Notification] = {}
        self._events: list[NotificationEvent] = []

    def add_status(self, record: StatusRecord) -> StatusRecord:
        with self._lock:
            stored = replace(record, seq=len(self._statuses) + 1)
            self._statuses.append(stored)
        return stored

    def latest_statuses(self, facility_ids: Sequence[str] | None = None) -> dict[str, StatusRecord]:
        wanted = set(facility_ids) if facility_ids is not None else None
        out: dict[str, StatusRecord] = {}
        with self._lock:
            for record in self._statuses:
                if wanted is not None and record.facility_id not in wanted:
                    continue
                known = out.get(record.facility_id)
                if known is None or record.observed >= known.observed:
                    out[record.facility_id] = record
        return out

    def status_history(self, facility_id: str, limit: int, before_seq: int | None) -> list[StatusRecord]:  # fmt: skip
        with self._lock:
            rows = [
                r for r in reversed(self._statuses)
                if r.facility_id == facility_id and (before_seq is None or r.seq < before_seq)
            ]  # fmt: skip
        return rows[:limit]

    def _add_event(self, event: NotificationEvent) -> None:
        self._events.append(replace(event, seq=len(self._events) + 1))

    def add_notification(self, notification: Notification, event: NotificationEvent) -> None:
        with self._lock:
            if notification.id in self._notifications:
                raise ValueError("duplicate notification id")
            self._notifications[notification.id] = notification
            self._add_event(event)

    def get_notification(self, id: str) -> Notification | None:
        with self._lock:
            return self._notifications.get(id)

    def transition(self, id: str, expected_state: str, new_state: str, event: NotificationEvent) -> Notification | None:  # fmt: skip
        with self._lock:
            current = self._notifications.get(id)
            if current is None or current.state != expected_state:
                return None
            changed = replace(current, state=new_state, updated=event.at)
            self._notifications[id] = changed
            self._add_event(event)
        return changed

    def notifications(self, facility_id: str, states: Sequence[str]) -> list[Notification]:
        with self._lock:
            found = [
                n for n in self._notifications.values()
                if n.facility_id == facility_id and n.state in states
            ]  # fmt: skip
        return sorted(found, key=lambda n: (n.created, n.id))

    def incident_notifications(self, incident_id: str) -> list[Notification]:
        with self._lock:
            found = [n for n in self._notifications.values() if n.incident_id == incident_id]
        return sorted(found, key=lambda n: (n.created, n.id))

    def events(self, facility_id: str, after_seq: int, limit: int) -> list[NotificationEvent]:
        with self._lock:
            found = [e for e in self._events if e.facility_id == facility_id and e.seq > after_seq]
        return found[:limit]

    def declines_since(self, since: int) -> dict[str, int]:
        out: dict[str, int] = {}
        with self._lock:
            for e in self._events:
                if e.kind == "declined" and e.at >= since:
                    out[e.facility_id] = out.get(e.facility_id, 0) + 1
        return out
