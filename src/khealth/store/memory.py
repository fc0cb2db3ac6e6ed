"""The in-memory reference repository: plain Python over the same index rows.

Every SQL backend must behave exactly like this one (spec and property tests).  Writers
are serialised by one lock; a session applies writes at once and undoes them if the
block fails, so a failed transaction leaves nothing behind.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from khealth.access.break_glass import BreakGlassGrant
from khealth.core.errors import Issue, PreconditionFailed
from khealth.fhir.index import ResourceIndex, unpack_index
from khealth.fhir.search_match import criterion_matches
from khealth.fhir.search_model import Chain, Clause, Criterion, Has, Include, SearchQuery, SortKey
from khealth.fhir.search_sort import SortValue, sort_value
from khealth.records.ports import (
    AuditEntry,
    HistoryPage,
    JobState,
    SearchPage,
    StoredVersion,
    Write,
)

Key = tuple[str, str]


@dataclass(slots=True)
class _Row:
    seq: int  # store sequence of the first version: stable order and paging snapshot
    current: StoredVersion
    index: ResourceIndex | None
    compartments: frozenset[str]


class MemoryStore:
    def __init__(self) -> None:
        self._rows: dict[Key, _Row] = {}
        self._history: dict[Key, list[StoredVersion]] = {}
        self._audit: list[tuple[int, bytes]] = []
        self._audit_patients: list[frozenset[str]] = []  # parallel to _audit (issue 5)
        self._jobs: dict[str, JobState] = {}
        self._grants: list[BreakGlassGrant] = []
        self._seq = 0
        self._lock = threading.RLock()

    @contextmanager
    def session(self) -> Iterator[MemorySession]:
        with self._lock:
            session = MemorySession(self)
            try:
                yield session
            except BaseException:
                session.rollback()
                raise

    def stream(self, resource_types: Sequence[str], since: int | None) -> Iterator[StoredVersion]:
        with self._lock:
            rows = sorted(self._rows.values(), key=lambda r: r.seq)
        for row in rows:
            v = row.current
            if v.deleted or (resource_types and v.resource_type not in resource_types):
                continue
            if since is None or v.last_updated >= since:
                yield v

    def stream_compartment(
        self, resource_types: Sequence[str], patients: Sequence[str] | None, since: int | None
    ) -> Iterator[StoredVersion]:
        wanted = None if patients is None else frozenset(patients)
        with self._lock:
            rows = sorted(self._rows.values(), key=lambda r: r.seq)
        for row in rows:
            v = row.current
            inside = row.compartments if wanted is None else row.compartments & wanted
            if not inside or v.deleted:
                continue
            if resource_types and v.resource_type not in resource_types:
                continue
            if since is None or v.last_updated >= since:
                yield v

    def scan(
        self, resource_type: str, shard: tuple[int, int], page: int
    ) -> Iterator[list[StoredVersion]]:
        k, n = shard
        with self._lock:
            keys = sorted(
                (r.seq, key) for key, r in self._rows.items()
                if r.current.resource_type == resource_type and r.seq % n == k
            )  # fmt: skip
        for start in range(0, len(keys), page):
            with self._lock:
                found = [self._rows[key].current for _, key in keys[start : start + page]]
            if found := [v for v in found if not v.deleted]:
                yield found

    def ping(self) -> None:
        return None

    def close(self) -> None:
        return None


def _sort_of(row: _Row, key: SortKey) -> SortValue:
    assert row.index is not None
    return sort_value(row.index, key, row.current.id, row.current.last_updated)


class MemorySession:
    def __init__(self, store: MemoryStore) -> None:
        self.s = store
        self._undo: list[tuple[Key, _Row | None, int]] = []
        self._audit_mark = len(store._audit)
        self._jobs_before: dict[str, JobState] | None = None  # taken at the first put_job
        self._grants_mark = len(store._grants)

    def rollback(self) -> None:
        for key, previous, history_len in reversed(self._undo):
            if previous is None:
                self.s._rows.pop(key, None)
            else:
                self.s._rows[key] = previous
            del self.s._history[key][history_len:]
        del self.s._audit[self._audit_mark :]
        del self.s._audit_patients[self._audit_mark :]
        if self._jobs_before is not None:
            self.s._jobs = self._jobs_before
        del self.s._grants[self._grants_mark :]

    # -- reads ---------------------------------------------------------------------
    def current(self, resource_type: str, id: str) -> StoredVersion | None:
        row = self.s._rows.get((resource_type, id))
        return row.current if row else None

    def current_many(self, keys: Sequence[Key]) -> dict[Key, StoredVersion]:
        rows = ((key, self.s._rows.get(key)) for key in keys)
        return {key: row.current for key, row in rows if row is not None}

    def version(self, resource_type: str, id: str, version: int) -> StoredVersion | None:
        for v in self.s._history.get((resource_type, id), []):
            if v.version == version:
                return v
        return None

    def compartments_of(self, resource_type: str, id: str) -> frozenset[str]:
        row = self.s._rows.get((resource_type, id))
        return row.compartments if row else frozenset()

    # -- writes --------------------------------------------------------------------
    def put(self, write: Write) -> None:
        v = write.version
        key = (v.resource_type, v.id)
        previous = self.s._rows.get(key)
        found = previous.current.version if previous else None
        if found != write.expected_version:
            raise PreconditionFailed(
                [Issue("conflict", "the resource was changed by another request")]
            )
        history = self.s._history.setdefault(key, [])
        self._undo.append((key, previous, len(history)))
        if previous is None:
            self.s._seq += 1
            seq = self.s._seq
        else:
            seq = previous.seq
        index = unpack_index(write.index) if isinstance(write.index, tuple) else write.index
        self.s._rows[key] = _Row(seq, v, index, write.compartments)
        history.append(v)

    def put_many(self, writes: Sequence[Write]) -> None:
        for w in writes:
            self.put(w)

    def lock(self, key: str) -> None:
        return None  # the store lock already serialises sessions

    def lock_many(self, keys: Sequence[str]) -> None:
        return None

    def audit(self, event: bytes, recorded: int, patients: Sequence[str] = ()) -> None:
        self.s._audit.append((recorded, event))
        self.s._audit_patients.append(frozenset(patients))

    def patients_of(self, keys: Sequence[Key]) -> frozenset[str]:
        rows = (self.s._rows.get(key) for key in keys)
        return frozenset(p for row in rows if row is not None for p in row.compartments)

    def access_log(
        self, patients: Sequence[str], before: int | None, count: int
    ) -> list[AuditEntry]:
        wanted = frozenset(patients)
        found: list[AuditEntry] = []
        top = len(self.s._audit) if before is None else min(before - 1, len(self.s._audit))
        for seq in range(top, 0, -1):  # seq is the 1-based position, as in SQL
            if self.s._audit_patients[seq - 1] & wanted:
                recorded, event = self.s._audit[seq - 1]
                found.append(AuditEntry(seq, recorded, event))
                if len(found) >= count:
                    break
        return found

    def get_job(self, id: str) -> JobState | None:
        return self.s._jobs.get(id)

    def put_job(self, job: JobState) -> None:
        if self._jobs_before is None:
            self._jobs_before = dict(self.s._jobs)
        self.s._jobs[job.id] = job

    def grants_for(self, subject: str, patients: Sequence[str]) -> list[BreakGlassGrant]:
        wanted = frozenset(patients)
        return [g for g in self.s._grants if g.subject == subject and g.patient in wanted]

    def put_grant(self, grant: BreakGlassGrant) -> None:
        self.s._grants.append(grant)

    # -- search --------------------------------------------------------------------
    def _live(self, resource_type: str | None) -> list[_Row]:
        return [
            r
            for r in self.s._rows.values()
            if not r.current.deleted
            and r.index is not None
            and (resource_type is None or r.current.resource_type == resource_type)
        ]

    def _matches(self, row: _Row, clause: Clause) -> bool:
        assert row.index is not None
        v = row.current
        if isinstance(clause, Criterion):
            return criterion_matches(row.index, clause, v.id, v.last_updated)
        if isinstance(clause, Chain):
            targets = {
                (clause.target_type, r.target_id)
                for r in row.index.references
                if r.param == clause.reference_param
                and r.target_type == clause.target_type
                and r.target_id is not None
            }
            rows = (self.s._rows.get(k) for k in targets)
            return any(
                self._matches(t, clause.criterion)
                for t in rows
                if t is not None and not t.current.deleted and t.index is not None
            )
        return self._has(row, clause)

    def _has(self, row: _Row, clause: Has) -> bool:
        me = (row.current.resource_type, row.current.id)
        for source in self._live(clause.source_type):
            assert source.index is not None
            points = any(
                r.param == clause.reference_param and (r.target_type, r.target_id) == me
                for r in source.index.references
            )
            if points and self._matches(source, clause.criterion):
                return True
        return False

    def find_tokens(
        self, resource_type: str, param: str, pairs: Sequence[tuple[str, str]]
    ) -> list[tuple[str, str, StoredVersion]]:
        wanted = set(pairs)
        found: list[tuple[str, str, StoredVersion]] = []
        for row in self._live(resource_type):
            assert row.index is not None
            for token in row.index.tokens:
                system, code = token.system, token.code
                if token.param == param and system and code and (system, code) in wanted:
                    found.append((system, code, row.current))
        return found

    def search(self, query: SearchQuery, compartment: str | None = None) -> SearchPage:
        snapshot = query.snapshot if query.snapshot is not None else self.s._seq
        candidates = [
            r
            for r in self._live(query.resource_type)
            if r.seq <= snapshot
            and (not query.types or r.current.resource_type in query.types)
            and (compartment is None or compartment in r.compartments)
        ]
        found = [r for r in candidates if all(self._matches(r, c) for c in query.clauses)]
        found.sort(key=lambda r: r.seq)
        for key in reversed(query.sort):
            keyed = [(_sort_of(r, key), r) for r in found]
            present = [(v[1], r) for v, r in keyed if v[0] == 0]
            absent = [r for v, r in keyed if v[0] == 1]
            present.sort(key=lambda pair: pair[0], reverse=key.descending)
            found = [r for _, r in present] + absent
        page = found[query.offset : query.offset + query.count]
        return SearchPage([r.current for r in page], len(found), snapshot)

    def includes(
        self, matches: Sequence[StoredVersion], include: Include, compartment: str | None
    ) -> list[StoredVersion]:
        out: dict[Key, StoredVersion] = {}
        if include.reverse:
            keys = {(m.resource_type, m.id) for m in matches}
            for source in self._live(include.source_type):
                assert source.index is not None
                if any(
                    (include.param in ("*", r.param)) and (r.target_type, r.target_id) in keys
                    for r in source.index.references
                ):
                    out[(source.current.resource_type, source.current.id)] = source.current
        else:
            for m in matches:
                row = self.s._rows.get((m.resource_type, m.id))
                if row is None or row.index is None or m.resource_type != include.source_type:
                    continue
                for r in row.index.references:
                    if include.param not in ("*", r.param) or r.target_id is None:
                        continue
                    if include.target_type and r.target_type != include.target_type:
                        continue
                    t = self.s._rows.get((r.target_type or "", r.target_id))
                    if t is not None and not t.current.deleted:
                        out[(t.current.resource_type, t.current.id)] = t.current
        return [
            v
            for k, v in out.items()
            if compartment is None or compartment in self.s._rows[k].compartments
        ]

    def compartment(
        self, patient_id: str, types: Sequence[str], since: int | None
    ) -> list[StoredVersion]:
        rows = sorted(
            (r for r in self._live(None) if patient_id in r.compartments), key=lambda r: r.seq
        )
        return [
            r.current
            for r in rows
            if (not types or r.current.resource_type in types)
            and (since is None or r.current.last_updated >= since)
        ]

    def history(
        self, resource_type: str | None, id: str | None, since: int | None, count: int, offset: int
    ) -> HistoryPage:
        versions = [
            v
            for (t, i), vs in self.s._history.items()
            if (resource_type is None or t == resource_type) and (id is None or i == id)
            for v in vs
            if since is None or v.last_updated >= since
        ]
        versions.sort(key=lambda v: (v.last_updated, v.version), reverse=True)
        return HistoryPage(versions[offset : offset + count], len(versions))
