"""The SQL repository (SQLite and PostgreSQL through SQLAlchemy Core).

Writes put the current version, the history version, the index rows and the compartment
rows in one transaction.  Optimistic concurrency: the current row is updated only where
its version is still the expected one, so of two writers with the same If-Match exactly
one succeeds and the other gets 412.
"""

from __future__ import annotations

import math
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
from khealth.fhir.index import CompositeValue, ResourceIndex
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


#: one page of ``SqlStore.scan``: without and with the shard filter
_SCAN = (
    "SELECT type, id, version, last_updated, deleted, content FROM resource"
    " WHERE type = {p} AND deleted = {f} AND id > {p}{shard} ORDER BY id LIMIT {p}"
)
_SCAN_SQLITE = tuple(_SCAN.format(p="?", f="0", shard=s) for s in ("", " AND pk % ? = ?"))
_SCAN_PG = tuple(_SCAN.format(p="%s", f="false", shard=s) for s in ("", " AND pk %% %s = %s"))


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
        self, resource_type: str, after: str | None, count: int, shard: tuple[int, int]
    ) -> list[StoredVersion]:
        """Keyset pages over the (type, id) index (on SQLite the shard filter reads the
        primary key from that index: n processes share the walk, not the rows).  Plain
        driver SQL: at a million rows SQLAlchemy's row processing doubles a page's cost."""
        k, n = shard
        sql = (_SCAN_PG if self.is_postgres else _SCAN_SQLITE)[n > 1]
        params = (resource_type, after or "", n, k, count) if n > 1 else (resource_type, after or "", count)  # fmt: skip
        with self.engine.connect() as conn:
            if self.is_postgres and n > 1:
                # PostgreSQL guesses that ``pk % n = k`` keeps 0.5 % of the rows and would
                # sort the whole type for every page; the (type, id) index is the plan
                conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
                conn.exec_driver_sql("SET LOCAL enable_sort = off")
            rows = conn.exec_driver_sql(sql, params).all()
        return [
            StoredVersion(t, i, v, u, bool(d), c if type(c) is bytes else bytes(c))
            for t, i, v, u, d, c in rows
        ]

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


def index_rows(
    pk: int, resource_type: str, index: ResourceIndex
) -> dict[str, list[dict[str, Any]]]:
    """The rows of each index table for one resource version."""
    base = {"res_pk": pk, "type": resource_type}
    rows: dict[str, list[dict[str, Any]]] = {
        "token": [{**base, "param": t.param, "system": t.system, "code": t.code, "text": t.text} for t in index.tokens],
        "string": [{**base, "param": s.param, "value": s.value, "exact": s.exact} for s in index.strings],
        "date": [{**base, "param": d.param, "low": d.low, "high": d.high} for d in index.dates],
        "number": [{**base, "param": n.param, "value": n.value, "low": n.low, "high": n.high} for n in index.numbers],
        "quantity": [
            {**base, "param": q.param, "value": _finite(q.value), "low": q.low, "high": q.high,
             "system": q.system, "code": q.code, "unit": q.unit}
            for q in index.quantities
        ],
        "uri": [{**base, "param": u.param, "value": u.value} for u in index.uris],
        "reference": [
            {**base, "param": r.param, "target_type": r.target_type, "target_id": r.target_id,
             "url": r.url, "identifier_system": r.identifier_system,
             "identifier_value": r.identifier_value}
            for r in index.references
        ],
        "composite": [_composite_row(base, c) for c in index.composites if len(c.components) <= 3],
    }  # fmt: skip
    return rows


def _finite(value: float) -> float | None:
    """NaN marks a Range; SQL stores it as NULL (SQLite would anyway)."""
    return None if math.isnan(value) else value


_COMPONENT_KEYS = ("system", "code", "value", "low", "high", "text")


def _composite_row(base: dict[str, Any], value: CompositeValue) -> dict[str, Any]:
    row: dict[str, Any] = {**base, "param": value.param}
    for n in (1, 2, 3):
        for key in _COMPONENT_KEYS:
            row[f"c{n}_{key}"] = None
    for n, comp in enumerate(value.components, start=1):
        for key, v in _component_fields(comp).items():
            row[f"c{n}_{key}"] = v
    return row


def _component_fields(comp: Any) -> dict[str, Any]:
    kind = type(comp).__name__
    if kind == "TokenValue":
        return {"system": comp.system, "code": comp.code, "text": comp.text}
    if kind == "QuantityValue":
        return {
            "system": comp.system,
            "code": comp.code,
            "value": comp.value,
            "low": comp.low,
            "high": comp.high,
        }
    if kind in ("DateValue",):
        return {"low": comp.low, "high": comp.high}
    if kind == "NumberValue":
        return {"value": comp.value, "low": comp.low, "high": comp.high}
    if kind == "StringValue":
        return {"text": comp.value}
    if kind == "UriValue":
        return {"text": comp.value}
    if kind == "ReferenceValue":
        return {"system": comp.target_type, "code": comp.target_id, "text": comp.url}
    return {}


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
        where = or_(
            *(
                and_(resource.c.type == t, resource.c.id.in_(sorted(ids)))
                for t, ids in by_type.items()
            )
        )
        rows = self.conn.execute(select(*_CURRENT).where(where)).all()
        return {(row.type, row.id): _version(row) for row in rows}

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
        table_rows: dict[str, list[dict[str, Any]]] = {k: [] for k in INDEX_TABLES}
        compartment_rows: list[dict[str, Any]] = []
        pks = self._put_currents(writes)
        for w, pk in zip(writes, pks, strict=True):
            v = w.version
            if w.expected_version is not None:
                self._clear_index(pk)
            if w.index is not None:
                for kind, rows in index_rows(pk, v.resource_type, w.index).items():
                    table_rows[kind].extend(rows)
                compartment_rows.extend({"res_pk": pk, "patient_id": p} for p in w.compartments)
        history_rows = [
            {"type": w.version.resource_type, "id": w.version.id, "version": w.version.version,
             "last_updated": w.version.last_updated, "deleted": w.version.deleted,
             "method": w.version.method, "content": w.version.content}
            for w in writes
        ]  # fmt: skip
        self._insert_rows(resource_version, history_rows)
        for kind, rows in table_rows.items():
            self._insert_rows(INDEX_TABLES[kind], rows)
        self._insert_rows(compartment, compartment_rows)

    def _insert_rows(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """A plain multi-row INSERT sent straight to the driver's executemany: these rows
        need no type processing, and SQLAlchemy's per-row parameter handling cost more
        than SQLite's own insert (profiled on the Synthea import)."""
        if not rows:
            return
        columns = list(rows[0])
        if self.is_postgres:
            self._copy_rows(table, columns, rows)
            return
        mark = "?" if self.conn.dialect.paramstyle == "qmark" else "%s"
        sql = (
            f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608  # nosec B608  (names from our schema)
            f"VALUES ({', '.join(mark for _ in columns)})"
        )
        self.conn.exec_driver_sql(sql, [tuple(row[c] for c in columns) for row in rows])

    def _copy_rows(self, table: Table, columns: list[str], rows: list[dict[str, Any]]) -> None:
        """PostgreSQL: COPY in the same transaction (psycopg's pipelined executemany
        spends more time per row in Python than the server spends inserting it)."""
        cursor = self.conn.connection.cursor()
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(tuple(row[c] for c in columns))

    def _put_currents(self, writes: Sequence[Write]) -> list[int]:
        """Current rows: new resources in one multi-row INSERT ... RETURNING, updates one
        by one (each guarded by its expected version)."""
        pks: dict[int, int] = {}
        creates = [(i, w) for i, w in enumerate(writes) if w.expected_version is None]
        if creates:
            rows = [
                {"type": w.version.resource_type, "id": w.version.id, "version": w.version.version,
                 "last_updated": w.version.last_updated, "deleted": w.version.deleted,
                 "content": w.version.content}
                for _, w in creates
            ]  # fmt: skip
            stmt = insert(resource).returning(resource.c.pk, sort_by_parameter_order=True)
            try:
                with self.conn.begin_nested():
                    created = self.conn.execute(stmt, rows).scalars().all()
            except IntegrityError:
                raise _conflict() from None
            pks.update((i, int(pk)) for (i, _), pk in zip(creates, created, strict=True))
        for i, w in enumerate(writes):
            if w.expected_version is not None:
                pks[i] = self._put_current(w)
        return [pks[i] for i in range(len(writes))]

    def _put_current(self, w: Write) -> int:
        v = w.version
        result = self.conn.execute(
            update(resource)
            .where(
                resource.c.type == v.resource_type,
                resource.c.id == v.id,
                resource.c.version == w.expected_version,
            )
            .values(
                version=v.version, last_updated=v.last_updated, deleted=v.deleted, content=v.content
            )
            .returning(resource.c.pk)
        )
        row = result.first()
        if row is None:
            raise _conflict()
        return int(row.pk)

    def _clear_index(self, pk: int) -> None:
        for table in INDEX_TABLES.values():
            self.conn.execute(delete(table).where(table.c.res_pk == pk))
        self.conn.execute(delete(compartment).where(compartment.c.res_pk == pk))

    # -- search ----------------------------------------------------------------------
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
