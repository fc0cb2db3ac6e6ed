"""The in-memory twin of the HL7 v2 feed ledger, for tests over the memory store.

Applied control ids ride in the memory session's job table (``put_job``), which that
session undoes on rollback: the same all-or-nothing as the SQL ledger's row.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import replace

import orjson

from khealth.ingest.hl7v2.model import DeadLetter, FacilityStats, ProcessedMessage
from khealth.records.ports import JobState, StoreSession
from khealth.store.memory import MemoryStore

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
_KIND = "hl7v2-message"


def _job_id(facility: str, control_id: str) -> str:
    return f"hl7v2:{facility}\x1f{control_id}"


class MemoryFeedLedger:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self._letters: dict[int, DeadLetter] = {}
        self._lock = threading.Lock()

    def seen(self, session: StoreSession, facility: str, control_id: str) -> bool:
        return session.get_job(_job_id(facility, control_id)) is not None

    def record(self, session: StoreSession, message: ProcessedMessage) -> None:
        detail = orjson.dumps({"facility": message.facility, "type": message.message_type,
                               "message_time": message.message_time})  # fmt: skip
        session.put_job(JobState(_job_id(message.facility, message.control_id), _KIND, "done",
                                 message.received, message.received, detail))  # fmt: skip

    def seen_many(
        self, session: StoreSession, keys: Sequence[tuple[str, str]]
    ) -> set[tuple[str, str]]:
        return {key for key in keys if self.seen(session, *key)}

    def record_many(self, session: StoreSession, messages: Sequence[ProcessedMessage]) -> None:
        for message in messages:
            self.record(session, message)

    def add_dead_letter(self, letter: DeadLetter) -> int:
        with self._lock:
            id = len(self._letters) + 1
            self._letters[id] = replace(letter, id=id)
        return id

    def dead_letters(self, limit: int, include_replayed: bool) -> list[DeadLetter]:
        with self._lock:
            letters = sorted(self._letters.values(), key=lambda d: -d.id)
        return [d for d in letters if include_replayed or d.state != "replayed"][:limit]

    def dead_letter(self, id: int) -> DeadLetter | None:
        return self._letters.get(id)

    def update_dead_letter(self, id: int, state: str, error: str, updated: int) -> None:
        with self._lock:
            self._letters[id] = replace(self._letters[id], state=state, error=error,
                                        updated=updated)  # fmt: skip

    def facility_stats(self, now: int) -> list[FacilityStats]:
        with self.store.session() as session:
            jobs = [j for j in session.s._jobs.values() if j.kind == _KIND]
        accepted: dict[str, list[tuple[int, int | None]]] = {}
        for job in jobs:
            detail = orjson.loads(job.detail)
            accepted.setdefault(detail["facility"], []).append(
                (job.created, detail["message_time"])
            )
        errors: dict[str, list[int]] = {}
        for letter in self._letters.values():
            errors.setdefault(letter.facility, []).append(letter.received)
        return [_stats(f, accepted.get(f, []), errors.get(f, []), now)
                for f in sorted(set(accepted) | set(errors))]  # fmt: skip


def _stats(
    facility: str, good: list[tuple[int, int | None]], bad: list[int], now: int
) -> FacilityStats:
    day = [(r, t) for r, t in good if r >= now - DAY_US]
    lags = [(r - t) / 1000 for r, t in day if t is not None]
    received = [r for r, _ in good] + bad
    return FacilityStats(
        facility=facility,
        last_received=max(received) if received else None,
        accepted_hour=sum(1 for r, _ in good if r >= now - HOUR_US),
        accepted_day=len(day),
        errors_hour=sum(1 for r in bad if r >= now - HOUR_US),
        errors_day=sum(1 for r in bad if r >= now - DAY_US),
        lag_avg_ms_day=sum(lags) / len(lags) if lags else None,
        lag_max_ms_day=max(lags) if lags else None,
    )


_LEDGERS_LOCK = threading.Lock()
_LEDGERS: weakref.WeakKeyDictionary[MemoryStore, MemoryFeedLedger] = weakref.WeakKeyDictionary()


def memory_ledger_for(store: object) -> MemoryFeedLedger:
    """One ledger per memory store, so the web API sees what the feed wrote."""
    assert isinstance(store, MemoryStore)
    with _LEDGERS_LOCK:
        found = _LEDGERS.get(store)
        if found is None:
            found = _LEDGERS[store] = MemoryFeedLedger(store)
    return found
