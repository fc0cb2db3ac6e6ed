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
    Table,
    and_,
    bindparam,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError

from khealth.access.break_glass import BreakGlassGrant
from khealth.core.errors import Issue, PreconditionFailed
from khealth.fhir.index import PackedIndex, ResourceIndex, pack_index
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
    INDEX_TABLES,
    break_glass_grant,
    compartment,
    job,
    resource,
    resource_version,
    sp_reference,
    sp_token,
)
from khealth.store.sql_search import SearchCompiler, apply_sort

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


#: a new current version, only over the version it replaces (optimistic concurrency)
_UPDATE_CURRENT = (
    update(resource)
    .where(
        resource.c.type == bindparam("t"),
        resource.c.id == bindparam("i"),
        resource.c.version == bindparam("expected"),
    )
    .values(
        version=bindparam("v"),
        last_updated=bindparam("u"),
        deleted=bindparam("d"),
        content=bindparam("c"),
    )
    .returning(resource.c.pk)
)
_CLEAR_INDEX = tuple(
    delete(table).where(table.c.res_pk.in_(bindparam("pks", expanding=True)))
    for table in (*INDEX_TABLES.values(), compartment)
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
_CURRENT_COLUMNS = ("pk", "type", "id", "version", "last_updated", "deleted", "content")
_HISTORY_COLUMNS = ("type", "id", "version", "last_updated", "deleted", "method", "content")


def _unique_violation() -> tuple[type[Exception], ...]:
    """The driver's own error for a duplicate key: COPY goes around SQLAlchemy."""
    try:
        from psycopg.errors import UniqueViolation
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return ()
    return (UniqueViolation,)


_DUPLICATE_KEY: tuple[type[Exception], ...] = (IntegrityError, *_unique_violation())


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


#: the columns of each index table after (res_pk, type): a packed value's fields, in order
#: (khealth.fhir.index.pack_index), except composites, flattened by _composite_row
INDEX_COLUMNS: dict[str, tuple[str, ...]] = {
    "token": ("param", "system", "code", "text"),
    "string": ("param", "value", "exact"),
    "date": ("param", "low", "high"),
    "number": ("param", "value", "low", "high"),
    "quantity": ("param", "value", "low", "high", "system", "code", "unit"),
    "uri": ("param", "value"),
    "reference": ("param", "target_type", "target_id", "url", "identifier_system",
                  "identifier_value"),
    "composite": ("param", *(f"c{n}_{key}" for n in (1, 2, 3)
                             for key in ("system", "code", "value", "low", "high", "text"))),
}  # fmt: skip
_QUANTITY = 4  # position of the quantity values in a packed index
_COMPOSITE = 7
_PLAIN_KINDS = (0, 1, 2, 3, 5, 6)  # written as they come


def add_index_rows(
    tables: list[list[tuple[Any, ...]]],
    pk: int,
    resource_type: str,
    index: ResourceIndex | PackedIndex,
) -> None:
    """Append one version's rows to each index table's list (``INDEX_COLUMNS`` order)."""
    packed = index if isinstance(index, tuple) else pack_index(index)
    key = (pk, resource_type)
    for kind in _PLAIN_KINDS:
        if values := packed[kind]:
            tables[kind].extend([key + v for v in values])
    if quantities := packed[_QUANTITY]:
        tables[_QUANTITY].extend(
            [key + q if q[1] == q[1] else (*key, q[0], None, *q[2:]) for q in quantities]
        )  # a NaN value (a Range) is stored as NULL
    if composites := packed[_COMPOSITE]:
        tables[_COMPOSITE].extend(
            _composite_row(pk, resource_type, param, components)
            for param, components in composites
            if len(components) <= 3
        )


def _composite_row(
    pk: int, resource_type: str, param: str, components: tuple[tuple[Any, ...], ...]
) -> tuple[Any, ...]:
    row: list[Any] = [pk, resource_type, param]
    for n in range(3):
        row += _component_fields(components[n]) if n < len(components) else _NO_COMPONENT
    return tuple(row)


_NO_COMPONENT = (None,) * 6


def _component_fields(comp: tuple[Any, ...]) -> tuple[Any, ...]:
    """(system, code, value, low, high, text) of a packed component ``(kind, *fields)``."""
    kind = comp[0]
    if kind == "TokenValue":  # param, system, code, text
        return (comp[2], comp[3], None, None, None, comp[4])
    if kind == "QuantityValue":  # param, value, low, high, system, code, unit
        return (comp[5], comp[6], comp[2], comp[3], comp[4], None)
    if kind == "DateValue":  # param, low, high
        return (None, None, None, comp[2], comp[3], None)
    if kind == "NumberValue":  # param, value, low, high
        return (None, None, comp[2], comp[3], comp[4], None)
    if kind in ("StringValue", "UriValue"):  # param, value, ...
        return (None, None, None, None, None, comp[2])
    if kind == "ReferenceValue":  # param, target_type, target_id, url, ...
        return (comp[2], comp[3], None, None, None, comp[4])
    return _NO_COMPONENT


class SqlSession:
    def __init__(
        self, conn: Connection, is_postgres: bool, sealing: audit_log.Sealing | None = None
    ) -> None:
        self.conn = conn
        self.is_postgres = is_postgres
        self.sealing = sealing  # signs audit checkpoints (issue 5)
        self.compiler = SearchCompiler()
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
        pks = self._put_currents(writes)
        kinds = list(INDEX_TABLES)
        table_rows: list[list[tuple[Any, ...]]] = [[] for _ in kinds]
        compartment_rows: list[tuple[int, str]] = []
        self._clear_indexes([pk for w, pk in zip(writes, pks, strict=True)
                             if w.expected_version is not None])  # fmt: skip
        for w, pk in zip(writes, pks, strict=True):
            if w.index is not None:
                add_index_rows(table_rows, pk, w.version.resource_type, w.index)
                compartment_rows.extend((pk, p) for p in w.compartments)
        self._insert_rows(resource_version, _HISTORY_COLUMNS, [
            (v.resource_type, v.id, v.version, v.last_updated, v.deleted, v.method, v.content)
            for v in (w.version for w in writes)
        ])  # fmt: skip
        for kind, rows in zip(kinds, table_rows, strict=True):
            self._insert_rows(INDEX_TABLES[kind], ("res_pk", "type", *INDEX_COLUMNS[kind]), rows)
        self._insert_rows(compartment, ("res_pk", "patient_id"), compartment_rows)

    def _insert_rows(self, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:  # fmt: skip
        """Rows straight to the driver: SQLite ``executemany`` of one prepared INSERT,
        PostgreSQL ``COPY``; these rows need no type processing, and SQLAlchemy's
        per-row parameter handling cost more than the database's own insert (profiled
        on the Synthea import)."""
        if not rows:
            return
        if self.is_postgres:
            cursor = self.conn.connection.cursor()
            with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        sql = (
            f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608  # nosec B608  (names from our schema)
            f"VALUES ({', '.join('?' for _ in columns)})"
        )
        self.conn.exec_driver_sql(sql, rows)

    def _put_currents(self, writes: Sequence[Write]) -> list[int]:
        """Current rows: new resources in one batch under primary keys taken here (on
        SQLite after the largest, under the write lock of BEGIN IMMEDIATE; on PostgreSQL
        from the table's sequence), so that they go as plain rows like the index rows;
        updates one by one, each guarded by its expected version."""
        pks: dict[int, int] = {}
        creates = [(i, w.version) for i, w in enumerate(writes) if w.expected_version is None]
        if creates:
            new = self._new_pks(len(creates))
            rows = [(pk, v.resource_type, v.id, v.version, v.last_updated, v.deleted, v.content)
                    for pk, (_, v) in zip(new, creates, strict=True)]  # fmt: skip
            try:
                with self.conn.begin_nested():
                    self._insert_rows(resource, _CURRENT_COLUMNS, rows)
            except _DUPLICATE_KEY:
                raise _conflict() from None
            pks.update((i, pk) for (i, _), pk in zip(creates, new, strict=True))
        for i, w in enumerate(writes):
            if w.expected_version is not None:
                pks[i] = self._put_current(w)
        return [pks[i] for i in range(len(writes))]

    def _new_pks(self, count: int) -> list[int]:
        if self.is_postgres:
            taken = self.conn.exec_driver_sql(
                "SELECT nextval(pg_get_serial_sequence('resource', 'pk')) "
                "FROM generate_series(1, %(n)s)",
                {"n": count},
            ).scalars()
            return sorted(int(pk) for pk in taken)
        last = self.conn.exec_driver_sql("SELECT coalesce(max(pk), 0) FROM resource").scalar()
        return list(range(int(last or 0) + 1, int(last or 0) + 1 + count))

    def _put_current(self, w: Write) -> int:
        v = w.version
        result = self.conn.execute(_UPDATE_CURRENT, {
            "t": v.resource_type, "i": v.id, "expected": w.expected_version, "v": v.version,
            "u": v.last_updated, "d": v.deleted, "c": v.content,
        })  # fmt: skip
        row = result.first()
        if row is None:
            raise _conflict()
        return int(row.pk)

    def _clear_indexes(self, pks: list[int]) -> None:
        """Drop the index and compartment rows of updated resources: one DELETE per
        table for a whole batch of updates."""
        if pks:
            for statement in _CLEAR_INDEX:
                self.conn.execute(statement, {"pks": pks})

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
        where.extend(self.compiler.clause(c, r, query.resource_type) for c in query.clauses)
        total = None
        if query.total.value != "none" or query.count == 0:
            total = int(
                self.conn.execute(select(func.count()).select_from(r).where(*where)).scalar_one()
            )
        matches: list[StoredVersion] = []
        if query.count > 0:
            stmt = apply_sort(select(*_CURRENT).where(*where), query.sort, r)
            rows = self.conn.execute(stmt.limit(query.count).offset(query.offset)).all()
            matches = [_version(row) for row in rows]
        return SearchPage(matches, total, snapshot)

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


def _conflict() -> PreconditionFailed:
    return PreconditionFailed([Issue("conflict", "the resource was changed by another request")])
