"""Writing the Persons a linkage run planned, in batches through the record service.

A first run creates a Person per citizen (190,000 in a city); preparing each (validation,
search values, serialisation) is a quarter of what a write costs, so when the caller gives
a :class:`LinePreparer` (the CLI gives bulk import's worker pool) the new Persons are
prepared in another process while this one writes the batch before
(``RecordSession.upsert_prepared``: the session still decides scopes, compartments and the
audit, and prepares again anything that turns out to exist).  Persons whose new content
depends on what they hold now (an incremental run adding links) are read and written in
one session (``upsert_many``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import orjson

from khealth.access.context import AccessContext
from khealth.core.batching import batched
from khealth.core.errors import KhealthError
from khealth.identity.assignment import PersonPlan, assurance_of
from khealth.identity.linkage import LinkResult
from khealth.identity.persons import patient_links, person_resource, with_links
from khealth.records.clock import Clock
from khealth.records.prepare import PackedLine, unpack_line
from khealth.records.service import Records, RecordSession, WriteResult, load_json

#: Persons per transaction: a batch holds SQLite's write lock about a second; a first run on
#: a quiet system may take larger ones (``khealth mpi link --batch-size``): at 1.4 million
#: Patients 20,000 a batch wrote the 187,599 new Persons in 98 s instead of 168 s, each
#: commit then writing a shared index page once for many Persons (docs/mpi.md)
BATCH = 1000
DEPTH = 2  # batches being prepared while one is written
Batch = list[tuple[int, npt.NDArray[np.int64]]]


class LinePreparer(Protocol):
    """Prepares resources (NDJSON lines) as creates in other processes, answering batches
    in the order sent (:class:`khealth.ingest.prepare_pool.PreparePool`)."""

    def submit(self, lines: Sequence[bytes]) -> None: ...

    def receive(self) -> list[PackedLine]: ...

    def close(self) -> None: ...


PreparerFactory = Callable[[AccessContext, Clock], LinePreparer]


def write_persons(
    records: Records, ctx: AccessContext, result: LinkResult, plan: PersonPlan,
    preparer: PreparerFactory | None = None, size: int = BATCH,
) -> int:  # fmt: skip
    """Write every Person the plan marks, ``size`` to a transaction; returns how many
    changed."""
    reread = [item for item in plan.rows_by_person() if _needs_current(plan, item[0])]
    written = sum(_write_reading(records, ctx, result, plan, b) for b in batched(iter(reread), size))  # fmt: skip
    fresh = (item for item in plan.rows_by_person() if not _needs_current(plan, item[0]))
    if preparer is None or len(reread) == int(plan.write.sum()):  # no pool for nothing
        return written + sum(_write_reading(records, ctx, result, plan, b) for b in batched(fresh, size))  # fmt: skip
    pool = preparer(ctx, records.clock)
    try:
        pending: deque[list[bytes]] = deque()
        for batch in batched(fresh, size):
            lines = [orjson.dumps(_body(result, plan, j, rows, None)) for j, rows in batch]
            pool.submit(lines)
            pending.append(lines)
            if len(pending) > DEPTH:
                written += _write_prepared(records, ctx, pending.popleft(), pool.receive())
        while pending:
            written += _write_prepared(records, ctx, pending.popleft(), pool.receive())
    finally:
        pool.close()
    return written


def _needs_current(plan: PersonPlan, j: int) -> bool:
    return bool(plan.incremental and plan.existing[j] and not plan.deactivate[j])


def _body(
    result: LinkResult, plan: PersonPlan, j: int, rows: npt.NDArray[np.int64],
    rs: RecordSession | None,
) -> dict[str, Any]:  # fmt: skip
    pid = plan.person_ids[j]
    if plan.deactivate[j]:
        return person_resource(pid, {}, active=False)
    if rs is not None and _needs_current(plan, j):
        current = load_json(rs.read("Person", pid).content)
        return with_links(current, patient_links(current) | assurance_of(result, rows))
    return person_resource(pid, assurance_of(result, rows))


def _write_reading(
    records: Records, ctx: AccessContext, result: LinkResult, plan: PersonPlan, batch: Batch
) -> int:
    with records.begin(ctx, "mpi-link") as rs:
        bodies = [_body(result, plan, j, rows, rs) for j, rows in batch]
        return _changed(rs.upsert_many(bodies))


def _write_prepared(
    records: Records, ctx: AccessContext, lines: list[bytes], packed: list[PackedLine]
) -> int:
    items = [unpack_line(answer, raw) for answer, raw in zip(packed, lines, strict=True)]
    with records.begin(ctx, "mpi-link") as rs:
        return _changed(rs.upsert_prepared(items))


def _changed(outcomes: list[WriteResult | KhealthError]) -> int:
    written = 0
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise outcome
        written += outcome.changed
    return written
