"""The write side of the SQL repository: a batch of versions as rows.

A batch goes as one statement per table: the new current rows under primary keys taken up
front (SQLite: after the largest, under BEGIN IMMEDIATE's write lock; PostgreSQL: from the
sequence), each update guarded by its expected version (optimistic concurrency: of two
writers with the same If-Match exactly one matches), then history, index and compartment
rows by ``executemany`` (SQLite) or ``COPY`` (PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, update
from sqlalchemy.exc import IntegrityError

from khealth.core.errors import Issue, PreconditionFailed
from khealth.fhir.index import PackedIndex, ResourceIndex, pack_index
from khealth.records.ports import Write
from khealth.store.schema import INDEX_TABLES, compartment, resource, resource_version

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


class SqlWriter:
    """Writes batches of versions on one connection (inside the session's transaction)."""

    def __init__(self, conn: Connection, is_postgres: bool) -> None:
        self.conn = conn
        self.is_postgres = is_postgres

    def put_many(self, writes: Sequence[Write]) -> None:
        """Current rows, history rows, index and compartment rows of a batch of writes."""
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
        self.insert_rows(resource_version, _HISTORY_COLUMNS, [
            (v.resource_type, v.id, v.version, v.last_updated, v.deleted, v.method, v.content)
            for v in (w.version for w in writes)
        ])  # fmt: skip
        for kind, rows in zip(kinds, table_rows, strict=True):
            self.insert_rows(INDEX_TABLES[kind], ("res_pk", "type", *INDEX_COLUMNS[kind]), rows)
        self.insert_rows(compartment, ("res_pk", "patient_id"), compartment_rows)

    def insert_rows(self, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:  # fmt: skip
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
                    self.insert_rows(resource, _CURRENT_COLUMNS, rows)
            except _DUPLICATE_KEY:
                raise conflict() from None
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
            raise conflict()
        return int(row.pk)

    def _clear_indexes(self, pks: list[int]) -> None:
        """Drop the index and compartment rows of updated resources: one DELETE per
        table for a whole batch of updates."""
        if pks:
            for statement in _CLEAR_INDEX:
                self.conn.execute(statement, {"pks": pks})


def conflict() -> PreconditionFailed:
    return PreconditionFailed([Issue("conflict", "the resource was changed by another request")])
