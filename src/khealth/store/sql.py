"""The SQL repository (SQLite and PostgreSQL through SQLAlchemy Core).

Writes put the current version, the history version, the index rows and the compartment
rows in one transaction.  Optimistic concurrency: the current row is updated only where
its version is still the expected one, so of two writers with the same If-Match exactly
one succeeds and the other gets 412.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    false,
    func,
    insert,
    or_,
    select,
    text,
    true,
    update,
)

from khealth.access.break_glass import BreakGlassGrant
from khealth.fhir.search_model import Include, SearchQuery
from khealth.records.ports import (
    AuditEntry,
    HistoryPage,
    JobState,
    SearchPage,
    StoredVersion,
    Write,
)
from khealth.store import audit_log
from khealth.store.engine import make_engine
from khealth.store.schema import (
    break_glass_grant,
    compartment,
    job,
    resource,
    resource_version,
    sp_reference,
    sp_token,
)
from khealth.store.sql_search import SearchCompiler, apply_sort
from khealth.store.sql_writes import SqlWriter

_CURRENT = (
    resource.c.pk,
    resource.c.type,
    resource.c.id,
    resource.c.version,
    resource.c.last_updated,
    resource.c.deleted,
    resource.c.content,
)

#: read by id, with the resource's compartments in the same round trip (one row per
#: patient; a resource in no compartment gives one row with a NULL patient)
_CURRENT_WITH_PATIENTS = (
    select(*_CURRENT, compartment.c.patient_id)
    .select_from(resource)
    .outerjoin(compartment, compartment.c.res_pk == resource.c.pk)
    .where(resource.c.type == bindparam("t"), resource.c.id == bindparam("i"))
)


#: current resources by the codes of one system in a token parameter
_BY_TOKEN = (
    select(sp_token.c.system, sp_token.c.code, *_CURRENT)
    .join(resource, resource.c.pk == sp_token.c.res_pk)
    .where(
        sp_token.c.type == bindparam("t"),
        sp_token.c.param == bindparam("p"),
        sp_token.c.system == bindparam("s"),
        sp_token.c.code.in_(bindparam("codes", expanding=True)),
        resource.c.deleted == false(),
    )
)
#: advisory locks on many keys in one statement, taken in the order of the array
_LOCK_MANY = (
    "SELECT pg_advisory_xact_lock(hashtext(k)) "
    "FROM unnest(CAST(%(keys)s AS text[])) WITH ORDINALITY AS t(k, n) ORDER BY n"
)


#: ``SqlStore.scan``: the keys of a type (SQLite, PostgreSQL), then one page of rows by key
_SCAN_KEYS = ("SELECT pk FROM resource WHERE type = ?", "SELECT pk FROM resource WHERE type = %s")
_SCAN_COLUMNS = "SELECT type, id, version, last_updated, deleted, content FROM resource"
_SCAN_ROWS_SQLITE = _SCAN_COLUMNS + " WHERE pk IN ({}) AND deleted = 0 ORDER BY pk"
_SCAN_ROWS_PG = _SCAN_COLUMNS + " WHERE pk = ANY(%s) AND deleted = false ORDER BY pk"


def _version(row: Any, method: str = "PUT") -> StoredVersion:
    return StoredVersion(
        row.type,
        row.id,
        row.version,
        row.last_updated,
        bool(row.deleted),
        bytes(row.content),
        method,
    )


class SqlStore:
    def __init__(self, url: str, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or make_engine(url)
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self.sealing: audit_log.Sealing | None = None  # set by store.audit_log.seal_audit_log

    @contextmanager
    def session(self) -> Iterator[SqlSession]:
        with self.engine.begin() as conn:
            yield SqlSession(conn, self.is_postgres, self.sealing)

    def stream(self, resource_types: Sequence[str], since: int | None) -> Iterator[StoredVersion]:
        last = 0
        while True:
            stmt = select(*_CURRENT).where(resource.c.pk > last, resource.c.deleted == false())
            if resource_types:
                stmt = stmt.where(resource.c.type.in_(resource_types))
            if since is not None:
                stmt = stmt.where(resource.c.last_updated >= since)
            with self.engine.connect() as conn:
                rows = conn.execute(stmt.order_by(resource.c.pk).limit(1000)).all()
            if not rows:
                return
            for row in rows:
                yield _version(row)
            last = rows[-1].pk

    def stream_compartment(
        self, resource_types: Sequence[str], patients: Sequence[str] | None, since: int | None
    ) -> Iterator[StoredVersion]:
        """Pages of 1,000 by primary key, each in its own short read: an export never
        holds a transaction (on SQLite, the write lock) while it writes files."""
        members = select(compartment.c.res_pk)
        if patients is not None:
            members = members.where(compartment.c.patient_id.in_(list(patients)))
        last = 0
        while True:
            stmt = select(*_CURRENT).where(
                resource.c.pk > last, resource.c.deleted == false(), resource.c.pk.in_(members)
            )
            if resource_types:
                stmt = stmt.where(resource.c.type.in_(resource_types))
            if since is not None:
                stmt = stmt.where(resource.c.last_updated >= since)
            with self.engine.connect() as conn:
                rows = conn.execute(stmt.order_by(resource.c.pk).limit(1000)).all()
            if not rows:
                return
            yield from (_version(row) for row in rows)
            last = rows[-1].pk

    def scan(
        self, resource_type: str, shard: tuple[int, int], page: int
    ) -> Iterator[list[StoredVersion]]:
        """The type's primary keys first (one read of an index), then the rows by key in
        key order: storage order, so a cold cache reads the table front to back.  In id
        order every row was a random page read (210 µs a row on a cold 11 GB SQLite file
        holding 1.4 million Patients, against 14 µs in storage order).  Plain driver reads:
        at a million rows SQLAlchemy's row processing doubled the cost of a page."""
        k, n = shard
        keys = sorted(pk for (pk,) in self._driver_rows(_SCAN_KEYS[self.is_postgres], (resource_type,)) if pk % n == k)  # fmt: skip
        for start in range(0, len(keys), page):
            chunk = keys[start : start + page]
            if self.is_postgres:
                rows = self._driver_rows(_SCAN_ROWS_PG, (chunk,))
            else:
                sql = _SCAN_ROWS_SQLITE.format(", ".join("?" * len(chunk)))
                rows = self._driver_rows(sql, tuple(chunk))
            if rows:
                yield [
                    StoredVersion(t, i, v, u, bool(d), c if type(c) is bytes else bytes(c))
                    for t, i, v, u, d, c in rows
                ]

    def _driver_rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """A read straight on the driver's cursor: plain tuples, and on SQLite no BEGIN
        IMMEDIATE (the statement is its own read transaction and takes no write lock)."""
        with self.engine.connect() as conn:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(sql, params)
                rows: list[tuple[Any, ...]] = cursor.fetchall()
            finally:
                cursor.close()
        return rows

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def optimize(self) -> None:
        """Refresh the planner's statistics after a bulk load.  Without them SQLite
        joins every reference before filtering a chained search (over 60 s on a
        million resources; 0.15 s after ANALYZE, docs/benchmarks.md)."""
        with self.engine.begin() as conn:
            if not self.is_postgres:
                conn.execute(text("PRAGMA analysis_limit=2000"))
            conn.execute(text("ANALYZE"))

    def close(self) -> None:
        self.engine.dispose()


class SqlSession:
    def __init__(
        self, conn: Connection, is_postgres: bool, sealing: audit_log.Sealing | None = None
    ) -> None:
        self.conn = conn
        self.is_postgres = is_postgres
        self.sealing = sealing  # signs audit checkpoints (issue 5)
        self.compiler = SearchCompiler()
        self.writer = SqlWriter(conn, is_postgres)
        # the compartments of what this transaction read, so that the consent check and
        # the audit's patient index need no second query (dropped when written)
        self._patients: dict[tuple[str, str], frozenset[str]] = {}

    # -- reads -----------------------------------------------------------------------
    def current(self, resource_type: str, id: str) -> StoredVersion | None:
        rows = self.conn.execute(_CURRENT_WITH_PATIENTS, {"t": resource_type, "i": id}).all()
        if not rows:
            return None
        self._patients[(resource_type, id)] = frozenset(
            r.patient_id for r in rows if r.patient_id is not None
        )
        return _version(rows[0])

    def current_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredVersion]:
        """One SELECT per call: ``type = t AND id IN (...)`` for each type, OR-ed, so the
        unique (type, id) index answers it."""
        by_type: dict[str, set[str]] = {}
        for resource_type, id in keys:
            by_type.setdefault(resource_type, set()).add(id)
        if not by_type:
            return {}
        if self.is_postgres:
            return self._current_many_postgres(by_type)
        where = or_(
            *(
                and_(resource.c.type == t, resource.c.id.in_(sorted(ids)))
                for t, ids in by_type.items()
            )
        )
        rows = self.conn.execute(select(*_CURRENT).where(where)).all()
        return {(row.type, row.id): _version(row) for row in rows}

    def _current_many_postgres(
        self, by_type: dict[str, set[str]]
    ) -> dict[tuple[str, str], StoredVersion]:
        """Never a prepared statement: psycopg prepares a statement run five times, and
        PostgreSQL may then keep a generic plan made while the table was small (a
        sequential scan) for good; with no ANALYZE during a bulk import (autovacuum off
        or behind) every batch of a large import scanned the whole table.  Planned each
        time with its own values, this is one probe of the (type, id) index per key."""
        where = " OR ".join("(type = %s AND id = ANY(%s))" for _ in by_type)
        params: list[Any] = [x for t, ids in by_type.items() for x in (t, sorted(ids))]
        cursor: Any = self.conn.connection.cursor()  # psycopg: execute(prepare=False)
        cursor.execute(
            f"SELECT type, id, version, last_updated, deleted, content FROM resource WHERE {where}",  # noqa: S608  # nosec B608  (placeholders only)
            params,
            prepare=False,
        )
        return {
            (t, i): StoredVersion(t, i, v, updated, bool(deleted), bytes(content))
            for t, i, v, updated, deleted, content in cursor.fetchall()
        }

    def version(self, resource_type: str, id: str, version: int) -> StoredVersion | None:
        v = resource_version.c
        row = self.conn.execute(
            select(v.type, v.id, v.version, v.last_updated, v.deleted, v.content, v.method).where(
                v.type == resource_type, v.id == id, v.version == version
            )
        ).first()
        return _version(row, row.method) if row else None

    def compartments_of(self, resource_type: str, id: str) -> frozenset[str]:
        known = self._patients.get((resource_type, id))
        if known is not None:
            return known
        rows = self.conn.execute(
            select(compartment.c.patient_id)
            .join(resource, resource.c.pk == compartment.c.res_pk)
            .where(resource.c.type == resource_type, resource.c.id == id)
        ).scalars()
        return frozenset(rows)

    # -- writes ----------------------------------------------------------------------
    def lock(self, key: str) -> None:
        if self.is_postgres:
            self.conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})

    def lock_many(self, keys: Sequence[str]) -> None:
        """SQLite's writers are serialised by BEGIN IMMEDIATE already."""
        if self.is_postgres and keys:
            self.conn.exec_driver_sql(_LOCK_MANY, {"keys": list(keys)})

    def audit(self, event: bytes, recorded: int, patients: Sequence[str] = ()) -> None:
        audit_log.append(self.conn, self.is_postgres, event, recorded, patients, self.sealing)

    def patients_of(self, keys: Sequence[tuple[str, str]]) -> frozenset[str]:
        by_type: dict[str, set[str]] = {}
        known: set[str] = set()
        for key in keys:
            if (cached := self._patients.get(key)) is not None:
                known |= cached
            else:
                by_type.setdefault(key[0], set()).add(key[1])
        if not by_type:
            return frozenset(known)
        where = or_(*(and_(resource.c.type == t, resource.c.id.in_(sorted(ids)))
                      for t, ids in by_type.items()))  # fmt: skip
        found = self.conn.execute(
            select(compartment.c.patient_id)
            .distinct()
            .join(resource, resource.c.pk == compartment.c.res_pk)
            .where(where)
        ).scalars()
        return frozenset(found) | known

    def access_log(
        self, patients: Sequence[str], before: int | None, count: int
    ) -> list[AuditEntry]:
        return audit_log.access_log(self.conn, patients, before, count)

    def get_job(self, id: str) -> JobState | None:
        row = self.conn.execute(select(job).where(job.c.id == id)).first()
        if row is None:
            return None
        return JobState(row.id, row.kind, row.state, row.created, row.updated, bytes(row.detail))

    def put_job(self, state: JobState) -> None:
        values = {
            "kind": state.kind,
            "state": state.state,
            "created": state.created,
            "updated": state.updated,
            "detail": state.detail,
        }
        changed = self.conn.execute(update(job).where(job.c.id == state.id).values(**values))
        if changed.rowcount == 0:
            self.conn.execute(insert(job).values(id=state.id, **values))

    def grants_for(self, subject: str, patients: Sequence[str]) -> list[BreakGlassGrant]:
        g = break_glass_grant.c
        rows = self.conn.execute(
            select(break_glass_grant).where(g.subject == subject, g.patient_id.in_(list(patients)))
        ).all()
        return [
            BreakGlassGrant(r.id, r.subject, r.role, r.patient_id, r.reason_code, r.reason_text,
                            r.created, r.expires)
            for r in rows
        ]  # fmt: skip

    def put_grant(self, grant: BreakGlassGrant) -> None:
        self.conn.execute(
            insert(break_glass_grant).values(
                id=grant.id, subject=grant.subject, role=grant.role, patient_id=grant.patient,
                reason_code=grant.reason_code, reason_text=grant.reason_text,
                created=grant.created, expires=grant.expires,
            )
        )  # fmt: skip

    def put(self, write: Write) -> None:
        self.put_many([write])

    def put_many(self, writes: Sequence[Write]) -> None:
        for w in writes:
            self._patients.pop((w.version.resource_type, w.version.id), None)
        self.writer.put_many(writes)

    # -- search ----------------------------------------------------------------------
    def find_tokens(
        self, resource_type: str, param: str, pairs: Sequence[tuple[str, str]]
    ) -> list[tuple[str, str, StoredVersion]]:
        """One prebuilt statement per system (``system = s AND code IN (...)``)."""
        codes: dict[str, set[str]] = {}
        for system, code in pairs:
            codes.setdefault(system, set()).add(code)
        found: list[tuple[str, str, StoredVersion]] = []
        for system, wanted in codes.items():
            values = {"t": resource_type, "p": param, "s": system, "codes": sorted(wanted)}
            for row in self.conn.execute(_BY_TOKEN, values):
                found.append((row.system, row.code, _version(row)))
        return found

    def search(self, query: SearchQuery, compartment_id: str | None = None) -> SearchPage:
        r = resource
        snapshot = query.snapshot
        if snapshot is None:
            snapshot = int(
                self.conn.execute(select(func.coalesce(func.max(r.c.pk), 0))).scalar_one()
            )
        where = [r.c.deleted == false(), r.c.pk <= snapshot]
        if query.resource_type is not None:
            where.append(r.c.type == query.resource_type)
        elif query.types:
            where.append(r.c.type.in_(query.types))
        if compartment_id is not None:
            where.append(
                r.c.pk.in_(
                    select(compartment.c.res_pk).where(compartment.c.patient_id == compartment_id)
                )
            )
        clauses = [self.compiler.clause(c, r, query.resource_type) for c in query.clauses]
        total = None
        if query.total.value != "none" or query.count == 0:
            total = int(
                self.conn.execute(
                    select(func.count()).select_from(r).where(*where, *clauses)
                ).scalar_one()
            )
        matches: list[StoredVersion] = []
        if query.count > 0:
            stmt = self._page(query, where, clauses)
            rows = self.conn.execute(stmt.limit(query.count).offset(query.offset)).all()
            matches = [_version(row) for row in rows]
        return SearchPage(matches, total, snapshot)

    def _page(self, query: SearchQuery, where: list[Any], clauses: list[Any]) -> Any:
        """The page's statement.  On PostgreSQL, in key order (no ``_sort``), a search
        with a positive criterion walks that criterion's index in key order, joined to the
        resource, and stops at the page's end: with ``pk IN (subquery) ORDER BY pk`` the
        planner walked the whole resource table in key order instead, filtering by type
        (a type's rows are not spread evenly over the keys; a token search at 1 M
        resources took 230 ms, this way 1.5 ms).  SQLite plans the plain form well (its
        token search stays at ~10 ms; this form, which it materialises, took 70 ms)."""
        r = resource
        drivers = query.clauses if self.is_postgres and not query.sort else ()
        for i, clause in enumerate(drivers):
            keys = self.compiler.matching_keys(clause, query.resource_type)
            if keys is not None:
                found = keys.distinct().subquery()
                others = clauses[:i] + clauses[i + 1 :]
                return (
                    select(*_CURRENT)
                    .select_from(found.join(r, r.c.pk == found.c.res_pk))
                    .where(*where, *others)
                    .order_by(r.c.pk)
                )
        return apply_sort(select(*_CURRENT).where(*where, *clauses), query.sort, r)

    def includes(
        self, matches: Sequence[StoredVersion], include: Include, compartment_id: str | None
    ) -> list[StoredVersion]:
        if not matches:
            return []
        ref = sp_reference
        param_ok = true_if_any(include.param, ref.c.param)
        if include.reverse:
            keys = {(m.resource_type, m.id) for m in matches}
            src: Any = resource
            stmt = (
                select(*_CURRENT, ref.c.target_type, ref.c.target_id)
                .join(ref, ref.c.res_pk == src.c.pk)
                .where(
                    src.c.type == include.source_type,
                    src.c.deleted == false(),
                    param_ok,
                    ref.c.target_id.in_({m.id for m in matches}),
                    ref.c.target_type.in_({m.resource_type for m in matches}),
                )
            )
            stmt = self._in_compartment(stmt, src, compartment_id)
            rows = self.conn.execute(stmt.order_by(src.c.pk)).all()
            found = {
                (row.type, row.id): row for row in rows if (row.target_type, row.target_id) in keys
            }
            return [_version(row) for row in found.values()]
        sources = [m.id for m in matches if m.resource_type == include.source_type]
        if not sources:
            return []
        src = resource.alias()
        tgt = resource
        conditions = [
            src.c.type == include.source_type,
            src.c.id.in_(sources),
            ref.c.res_pk == src.c.pk,
            param_ok,
            tgt.c.type == ref.c.target_type,
            tgt.c.id == ref.c.target_id,
            tgt.c.deleted == false(),
        ]
        if include.target_type:
            conditions.append(ref.c.target_type == include.target_type)
        stmt = (
            select(*_CURRENT)
            .select_from(src)
            .join(ref, ref.c.res_pk == src.c.pk)
            .join(tgt, and_(tgt.c.type == ref.c.target_type, tgt.c.id == ref.c.target_id))
            .where(*conditions)
        )
        stmt = self._in_compartment(stmt, tgt, compartment_id)
        rows = self.conn.execute(stmt.order_by(tgt.c.pk)).all()
        unique = {(row.type, row.id): row for row in rows}
        return [_version(row) for row in unique.values()]

    def _in_compartment(self, stmt: Any, table: Any, compartment_id: str | None) -> Any:
        if compartment_id is None:
            return stmt
        return stmt.where(
            table.c.pk.in_(
                select(compartment.c.res_pk).where(compartment.c.patient_id == compartment_id)
            )
        )

    def compartment(
        self, patient_id: str, types: Sequence[str], since: int | None
    ) -> list[StoredVersion]:
        r = resource
        stmt = (
            select(*_CURRENT)
            .join(compartment, compartment.c.res_pk == r.c.pk)
            .where(compartment.c.patient_id == patient_id, r.c.deleted == false())
        )
        if types:
            stmt = stmt.where(r.c.type.in_(types))
        if since is not None:
            stmt = stmt.where(r.c.last_updated >= since)
        return [_version(row) for row in self.conn.execute(stmt.order_by(r.c.pk)).all()]

    def history(
        self, resource_type: str | None, id: str | None, since: int | None, count: int, offset: int
    ) -> HistoryPage:
        v = resource_version.c
        where = []
        if resource_type is not None:
            where.append(v.type == resource_type)
        if id is not None:
            where.append(v.id == id)
        if since is not None:
            where.append(v.last_updated >= since)
        total = int(
            self.conn.execute(
                select(func.count()).select_from(resource_version).where(*where)
            ).scalar_one()
        )
        rows = self.conn.execute(
            select(v.type, v.id, v.version, v.last_updated, v.deleted, v.content, v.method)
            .where(*where)
            .order_by(v.last_updated.desc(), v.version.desc())
            .limit(count)
            .offset(offset)
        ).all()
        return HistoryPage([_version(row, row.method) for row in rows], total)


def true_if_any(param: str, column: Any) -> Any:
    return true() if param == "*" else column == param
