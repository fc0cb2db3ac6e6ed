"""The emergency domain's tables on SQLite / PostgreSQL (``EmergencyStore`` of
``khealth.emergency.ports``): live-status snapshots, pre-notifications and their events.

Each method is one short transaction of its own: these rows are not resources, so they do not
ride in a record session. A state change is a conditional UPDATE (``WHERE state = expected``),
so of two hospital users answering the same notification exactly one wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Engine, func, insert, select, update

from khealth.emergency.ports import Notification, NotificationEvent, StatusRecord
from khealth.store.schema import er_notification, er_notification_event, er_status


def _status(row: Any) -> StatusRecord:
    return StatusRecord(row.seq, row.facility_id, row.observed, row.recorded, bytes(row.content))


def _notification(row: Any) -> Notification:
    return Notification(
        row.id, row.incident_id, row.facility_id, row.state, row.created, row.updated,
        row.encounter_id, row.service_request_id, row.patient_id, row.eta_minutes,
        orjson.loads(row.detail),
    )  # fmt: skip


def _event(row: Any) -> NotificationEvent:
    return NotificationEvent(
        row.seq, row.notification_id, row.incident_id, row.facility_id, row.kind, row.at, row.reason
    )


def _event_values(event: NotificationEvent) -> dict[str, Any]:
    return {
        "notification_id": event.notification_id, "incident_id": event.incident_id,
        "facility_id": event.facility_id, "kind": event.kind, "at": event.at,
        "reason": event.reason,
    }  # fmt: skip


class SqlEmergencyStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- live status -------------------------------------------------------------------
    def add_status(self, record: StatusRecord) -> StatusRecord:
        values = {
            "facility_id": record.facility_id, "observed": record.observed,
            "recorded": record.recorded, "content": record.content,
        }  # fmt: skip
        with self.engine.begin() as conn:
            seq = conn.execute(insert(er_status).values(values).returning(er_status.c.seq)).scalar_one()  # fmt: skip
        return StatusRecord(seq, record.facility_id, record.observed, record.recorded, record.content)  # fmt: skip

    def latest_statuses(self, facility_ids: Sequence[str] | None = None) -> dict[str, StatusRecord]:
        newest = select(
            er_status.c.facility_id.label("fid"), func.max(er_status.c.observed).label("observed")
        ).group_by(er_status.c.facility_id)
        if facility_ids is not None:
            newest = newest.where(er_status.c.facility_id.in_(list(facility_ids)))
        latest = newest.subquery()
        stmt = (
            select(er_status)
            .join(
                latest,
                (er_status.c.facility_id == latest.c.fid)
                & (er_status.c.observed == latest.c.observed),
            )
            .order_by(er_status.c.seq)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return {row.facility_id: _status(row) for row in rows}  # a tie: the later seq wins

    def status_history(self, facility_id: str, limit: int, before_seq: int | None) -> list[StatusRecord]:  # fmt: skip
        stmt = select(er_status).where(er_status.c.facility_id == facility_id)
        if before_seq is not None:
            stmt = stmt.where(er_status.c.seq < before_seq)
        stmt = stmt.order_by(er_status.c.seq.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_status(row) for row in conn.execute(stmt)]

    # -- pre-notifications -------------------------------------------------------------
    def add_notification(self, notification: Notification, event: NotificationEvent) -> None:
        n = notification
        values = {
            "id": n.id, "incident_id": n.incident_id, "facility_id": n.facility_id,
            "state": n.state, "created": n.created, "updated": n.updated,
            "encounter_id": n.encounter_id, "service_request_id": n.service_request_id,
            "patient_id": n.patient_id, "eta_minutes": n.eta_minutes,
            "detail": orjson.dumps(dict(n.detail)),
        }  # fmt: skip
        with self.engine.begin() as conn:
            conn.execute(insert(er_notification).values(values))
            conn.execute(insert(er_notification_event).values(_event_values(event)))

    def get_notification(self, id: str) -> Notification | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(er_notification).where(er_notification.c.id == id)).first()
        return _notification(row) if row is not None else None

    def transition(self, id: str, expected_state: str, new_state: str, event: NotificationEvent) -> Notification | None:  # fmt: skip
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(er_notification)
                .where(er_notification.c.id == id, er_notification.c.state == expected_state)
                .values(state=new_state, updated=event.at)
            ).rowcount
            if changed != 1:
                return None
            conn.execute(insert(er_notification_event).values(_event_values(event)))
            row = conn.execute(select(er_notification).where(er_notification.c.id == id)).one()
        return _notification(row)

    def notifications(self, facility_id: str, states: Sequence[str]) -> list[Notification]:
        stmt = (
            select(er_notification)
            .where(
                er_notification.c.facility_id == facility_id,
                er_notification.c.state.in_(list(states)),
            )
            .order_by(er_notification.c.created, er_notification.c.id)
        )
        with self.engine.connect() as conn:
            return [_notification(row) for row in conn.execute(stmt)]

    def incident_notifications(self, incident_id: str) -> list[Notification]:
        stmt = (
            select(er_notification)
            .where(er_notification.c.incident_id == incident_id)
            .order_by(er_notification.c.created, er_notification.c.id)
        )
        with self.engine.connect() as conn:
            return [_notification(row) for row in conn.execute(stmt)]

    def events(self, facility_id: str, after_seq: int, limit: int) -> list[NotificationEvent]:
        stmt = (
            select(er_notification_event)
            .where(
                er_notification_event.c.facility_id == facility_id,
                er_notification_event.c.seq > after_seq,
            )
            .order_by(er_notification_event.c.seq)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_event(row) for row in conn.execute(stmt)]

    def declines_since(self, since: int) -> dict[str, int]:
        stmt = (
            select(er_notification_event.c.facility_id, func.count())
            .where(er_notification_event.c.kind == "declined", er_notification_event.c.at >= since)
            .group_by(er_notification_event.c.facility_id)
        )
        with self.engine.connect() as conn:
            return {fid: int(n) for fid, n in conn.execute(stmt)}
