"""The HL7 v2 feed ledger on SQLite / PostgreSQL (``FeedLedger`` of
``khealth.ingest.hl7v2.ports``).

``seen`` and ``record`` run on the record session's own connection, inside its
transaction; dead letters and health queries are short transactions of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, case, event, func, insert, select, tuple_, update

from khealth.ingest.hl7v2.model import DeadLetter, FacilityStats, ProcessedMessage
from khealth.ingest.hl7v2.ports import FeedLedger
from khealth.ingest.hl7v2.service import Hl7Feed
from khealth.records.ports import StoreSession
from khealth.records.service import Records
from khealth.store.schema import hl7_dead_letter, hl7_message
from khealth.store.sql import SqlSession, SqlStore

_SEEN = select(hl7_message.c.facility, hl7_message.c.control_id).where(
    tuple_(hl7_message.c.facility, hl7_message.c.control_id).in_(bindparam("keys", expanding=True))
)
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US


def _connection(session: StoreSession) -> Any:
    assert isinstance(session, SqlSession), "the SQL feed ledger needs an SQL store session"
    return session.conn


def _letter(row: Any) -> DeadLetter:
    return DeadLetter(row.id, row.received, row.facility, row.message_type, row.control_id,
                      row.ack_code, row.error, bytes(row.sealed), row.state, row.updated)  # fmt: skip


class SqlFeedLedger:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def seen(self, session: StoreSession, facility: str, control_id: str) -> bool:
        m = hl7_message.c
        found = (
            _connection(session)
            .execute(select(m.control_id).where(m.facility == facility, m.control_id == control_id))
            .first()
        )
        return found is not None

    def record(self, session: StoreSession, message: ProcessedMessage) -> None:
        self.record_many(session, [message])

    def seen_many(
        self, session: StoreSession, keys: Sequence[tuple[str, str]]
    ) -> set[tuple[str, str]]:
        if not keys:
            return set()
        rows = _connection(session).execute(_SEEN, {"keys": sorted(set(keys))})
        return {(row.facility, row.control_id) for row in rows}

    def record_many(self, session: StoreSession, messages: Sequence[ProcessedMessage]) -> None:
        if not messages:
            return
        _connection(session).execute(insert(hl7_message), [{
            "facility": message.facility, "control_id": message.control_id,
            "message_type": message.message_type, "received": message.received,
            "message_time": message.message_time, "sha256": message.sha256,
        } for message in messages])  # fmt: skip

    def add_dead_letter(self, letter: DeadLetter) -> int:
        values = {
            "received": letter.received, "facility": letter.facility,
            "message_type": letter.message_type[:16], "control_id": letter.control_id,
            "ack_code": letter.ack_code, "error": letter.error, "sealed": letter.sealed,
            "state": letter.state, "updated": letter.updated,
        }  # fmt: skip
        with self.engine.begin() as conn:
            stmt = insert(hl7_dead_letter).values(values).returning(hl7_dead_letter.c.id)
            return int(conn.execute(stmt).scalar_one())

    def dead_letters(self, limit: int, include_replayed: bool) -> list[DeadLetter]:
        d = hl7_dead_letter.c
        stmt = select(hl7_dead_letter).order_by(d.id.desc()).limit(limit)
        if not include_replayed:
            stmt = stmt.where(d.state != "replayed")
        with self.engine.connect() as conn:
            return [_letter(row) for row in conn.execute(stmt)]

    def dead_letter(self, id: int) -> DeadLetter | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(hl7_dead_letter).where(hl7_dead_letter.c.id == id)).first()
        return _letter(row) if row else None

    def update_dead_letter(self, id: int, state: str, error: str, updated: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(hl7_dead_letter).where(hl7_dead_letter.c.id == id)
                         .values(state=state, error=error, updated=updated))  # fmt: skip

    def facility_stats(self, now: int) -> list[FacilityStats]:
        hour, day = now - HOUR_US, now - DAY_US
        m, d = hl7_message.c, hl7_dead_letter.c
        lag = m.received - m.message_time
        accepted = select(
            m.facility, func.max(m.received).label("last"),
            func.sum(case((m.received >= hour, 1), else_=0)).label("hour"),
            func.sum(case((m.received >= day, 1), else_=0)).label("day"),
            func.avg(case((m.received >= day, lag), else_=None)).label("lag_avg"),
            func.max(case((m.received >= day, lag), else_=None)).label("lag_max"),
        ).group_by(m.facility)  # fmt: skip
        errors = select(
            d.facility, func.max(d.received).label("last"),
            func.sum(case((d.received >= hour, 1), else_=0)).label("hour"),
            func.sum(case((d.received >= day, 1), else_=0)).label("day"),
        ).group_by(d.facility)  # fmt: skip
        with self.engine.connect() as conn:
            good = {r.facility: r for r in conn.execute(accepted)}
            bad = {r.facility: r for r in conn.execute(errors)}
        return [_stats(f, good.get(f), bad.get(f)) for f in sorted(set(good) | set(bad))]


def _stats(facility: str, good: Any, bad: Any) -> FacilityStats:
    lasts = [r.last for r in (good, bad) if r is not None and r.last is not None]
    lag_avg = good.lag_avg if good is not None else None
    lag_max = good.lag_max if good is not None else None
    return FacilityStats(
        facility=facility,
        last_received=max(lasts) if lasts else None,
        accepted_hour=int(good.hour or 0) if good is not None else 0,
        accepted_day=int(good.day or 0) if good is not None else 0,
        errors_hour=int(bad.hour or 0) if bad is not None else 0,
        errors_day=int(bad.day or 0) if bad is not None else 0,
        lag_avg_ms_day=float(lag_avg) / 1000 if lag_avg is not None else None,
        lag_max_ms_day=float(lag_max) / 1000 if lag_max is not None else None,
    )


def feed_ledger_for(store: object) -> FeedLedger:
    """The ledger over a store: SQL tables for an SQL store, else the in-memory twin."""
    if isinstance(store, SqlStore):
        return SqlFeedLedger(store.engine)
    from khealth.store.feeds_memory import memory_ledger_for

    return memory_ledger_for(store)


def open_feed(store: object, records: Records, data_dir: Path) -> Hl7Feed:
    """The HL7 v2 feed over a store, with the resident-number key and the dead-letter
    sealing key from the data directory (created on first use, mode 600)."""
    from khealth.access.rrn import load_or_create_rrn_key
    from khealth.ingest.hl7v2.sealing import load_or_create_sealer

    return Hl7Feed(records, feed_ledger_for(store), load_or_create_rrn_key(data_dir),
                   load_or_create_sealer(data_dir), records.clock)  # fmt: skip


def synchronous_full(store: object) -> None:
    """On SQLite, make this store's commits survive power loss, not only a process crash
    (``synchronous=FULL``): an HL7 AA promises durability.  Group commit keeps it cheap."""
    if isinstance(store, SqlStore) and store.engine.dialect.name == "sqlite":

        @event.listens_for(store.engine, "connect")
        def _full(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        store.engine.dispose()  # connections made before this get the pragma on reconnect
