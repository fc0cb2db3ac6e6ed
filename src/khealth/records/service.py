"""The record service: the one door through which every resource is read or written.

Each call takes the caller's :class:`AccessContext`, asks the access policy, validates
and indexes what it writes, and records one audit event per request in the same
transaction as the data (a request whose audit cannot be written fails).  A request is a
:class:`~khealth.records.session.RecordSession` opened by :meth:`Records.begin`; the bulk
paths (export, scan) read page by page outside one transaction and are audited once each.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from khealth.access import policy
from khealth.access.context import AccessContext
from khealth.core.errors import Forbidden, Issue, KhealthError
from khealth.records.audit import AuditRecord
from khealth.records.clock import Clock, SystemClock
from khealth.records.consent_gate import ConsentGate, StoreSource
from khealth.records.ports import ResourceStore, StoredVersion
from khealth.records.prepare import require_supported
from khealth.records.session import RecordSession, SearchResult, WriteResult, load_json

__all__ = ["ExportScope", "KhealthError", "RecordSession", "Records", "SearchResult",
           "WriteResult", "load_json", "require_supported"]  # fmt: skip


@dataclass(frozen=True, slots=True)
class ExportScope:
    """What a Bulk Data export covers: every resource (``system``), every patient's
    compartment (``patient``) or the compartments of ``patients`` (``group``)."""

    level: str  # system | patient | group
    since: int | None = None
    patients: tuple[str, ...] = ()


class Records:
    """Opens record sessions over a store; one session is one transaction and one audit."""

    def __init__(self, store: ResourceStore, clock: Clock | None = None) -> None:
        self.store = store
        self.clock: Clock = clock or SystemClock()

    @contextmanager
    def begin(self, ctx: AccessContext, action: str) -> Iterator[RecordSession]:
        """A transaction. A denied request is still audited, in its own transaction."""
        attempted = AuditRecord(action=action)  # what a refused request asked for
        try:
            with self.store.session() as session:
                rs = RecordSession(session, ctx, self.clock, action)
                attempted = rs.audit
                yield rs
                rs.write_audit(outcome="0")
        except Forbidden as denied:
            with self.store.session() as session:
                rs = RecordSession(session, ctx, self.clock, action)
                rs.audit.entities, rs.audit.patients = attempted.entities, attempted.patients
                rs.write_audit(outcome="8", note=denied.summary())
            raise

    # -- bulk export -------------------------------------------------------------------
    # Not a RecordSession: an export streams for minutes, page by page in short reads,
    # and must not hold one transaction (on SQLite, the write lock) for all that time.
    def may_export(self, ctx: AccessContext, resource_type: str) -> bool:
        """Could this caller export this type at all (scopes, and a patient for a
        ``patient/`` scope)? The kick-off uses it to refuse or to report left-out types."""
        try:
            policy.require(ctx, resource_type, "export")
            policy.compartment_of(ctx, resource_type, "export")
        except Forbidden:
            return False
        return True

    def export_stream(
        self, ctx: AccessContext, resource_type: str, scope: ExportScope
    ) -> Iterator[StoredVersion]:
        """The current resources of one type that a Bulk Data $export
        (https://hl7.org/fhir/uv/bulkdata/export.html) hands this caller.  A type
        readable only through ``patient/`` scopes is narrowed to the token's patient."""
        require_supported(resource_type)
        policy.require(ctx, resource_type, "export")
        bound = policy.compartment_of(ctx, resource_type, "export")
        gate = ConsentGate(ctx, self.clock, StoreSource(self.store), allow_break_glass=False)
        if scope.level == "system" and bound is None:
            yield from gate.stream(self.store.stream([resource_type], scope.since))
            return
        patients = _export_patients(scope, bound)
        if patients is None or patients:
            found = self.store.stream_compartment([resource_type], patients, scope.since)
            yield from gate.stream(found)

    def audit_export(
        self, ctx: AccessContext, counts: dict[str, int], outcome: str,
        note: str | None = None, group_id: str | None = None,
    ) -> None:  # fmt: skip
        """One audit event per export job: the counts per type, not every id."""
        with self.store.session() as session:
            rs = RecordSession(session, ctx, self.clock, "export")
            rs.audit.type_counts.update(counts)
            if group_id is not None:
                rs.audit.saw("Group", group_id)
            rs.write_audit(outcome, note)

    # -- bulk read -----------------------------------------------------------------------
    def scan(
        self, ctx: AccessContext, resource_type: str, shard: tuple[int, int] = (0, 1),
        page: int = 2000,
    ) -> Iterator[list[StoredVersion]]:  # fmt: skip
        """Every current resource of one type, a page at a time (in storage order), for a
        use case that reads them all (the master patient index reads 1.4 million Patients).
        Allowed to a caller who may search the type across all patients; consent applies
        as to an export (no break-the-glass); one audit event per scan with the count.
        Like an export it holds no transaction: each page is a short read of its own.
        ``shard=(k, n)`` reads the k-th of n disjoint parts, so that n processes can share
        one scan (each through a Records of its own, each audited)."""
        require_supported(resource_type)
        try:
            policy.require(ctx, resource_type, "search")
            if policy.compartment_of(ctx, resource_type, "search") is not None:
                raise Forbidden([Issue("forbidden", f"a scan reads every {resource_type}; search instead")])  # fmt: skip
        except Forbidden as denied:
            self._audit_scan(ctx, resource_type, 0, "8", denied.summary())
            raise
        gate = ConsentGate(ctx, self.clock, StoreSource(self.store), allow_break_glass=False)
        handed = 0
        try:
            for found in self.store.scan(resource_type, shard, page):
                visible = gate.visible(found)
                handed += len(visible)
                if visible:
                    yield visible
        finally:
            self._audit_scan(ctx, resource_type, handed, "0")

    def _audit_scan(
        self, ctx: AccessContext, resource_type: str, count: int, outcome: str,
        note: str | None = None,
    ) -> None:  # fmt: skip
        with self.store.session() as session:
            rs = RecordSession(session, ctx, self.clock, "scan")
            rs.audit.type_counts[resource_type] = count
            rs.write_audit(outcome, note)


def _export_patients(scope: ExportScope, bound: str | None) -> tuple[str, ...] | None:
    """Whose compartments to export: None for any patient's."""
    if bound is None:
        return None if scope.level == "patient" else scope.patients
    if scope.level == "group" and bound not in scope.patients:
        return ()
    return (bound,)
