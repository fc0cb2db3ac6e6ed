"""What the record service needs from a storage backend (implemented in ``khealth.store``).

A backend stores, for every resource, its current version with the typed search values
extracted from it (``ResourceIndex``) and the patient compartments it belongs to, plus
every version in history, all written in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from khealth.access.break_glass import BreakGlassGrant
from khealth.fhir.index import PackedIndex, ResourceIndex
from khealth.fhir.search_model import Include, SearchQuery


@dataclass(frozen=True, slots=True)
class StoredVersion:
    resource_type: str
    id: str
    version: int
    last_updated: int  # microseconds since the epoch
    deleted: bool
    content: bytes  # the JSON as stored, meta included; b"" for a delete
    method: str = "PUT"  # POST | PUT | PATCH | DELETE, for history bundles


@dataclass(frozen=True, slots=True)
class Write:
    """A new version to store. ``index`` is None for a delete; it may come packed
    (:func:`khealth.fhir.index.pack_index`, as a bulk-import worker sends it)."""

    version: StoredVersion
    index: ResourceIndex | PackedIndex | None
    compartments: frozenset[str]
    expected_version: int | None  # the version it replaces (None: must not exist yet)


@dataclass(frozen=True, slots=True)
class JobState:
    """A resumable job's progress (a bulk-import file, an export): not a resource, so it
    carries no clinical content; ``detail`` is the job's own JSON (offsets, counts)."""

    id: str
    kind: str
    state: str  # running | done | failed
    created: int  # microseconds since the epoch
    updated: int
    detail: bytes


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One stored AuditEvent (issue 5: the citizen's access log reads these)."""

    seq: int
    recorded: int  # microseconds since the epoch
    content: bytes


@dataclass(frozen=True, slots=True)
class SearchPage:
    matches: list[StoredVersion]
    total: int | None
    snapshot: int  # sequence number bounding this search, for stable next pages


@dataclass(frozen=True, slots=True)
class HistoryPage:
    versions: list[StoredVersion]
    total: int


class StoreSession(Protocol):
    """One database transaction. Raises ``PreconditionFailed`` from ``put`` when the
    current version is not ``expected_version`` (a concurrent writer won)."""

    def current(self, resource_type: str, id: str) -> StoredVersion | None: ...

    def current_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredVersion]:
        """The current versions of many (type, id) keys in one round trip; absent keys
        are left out."""
        ...

    def version(self, resource_type: str, id: str, version: int) -> StoredVersion | None: ...

    def put(self, write: Write) -> None: ...

    def put_many(self, writes: Sequence[Write]) -> None: ...

    def search(self, query: SearchQuery, compartment: str | None = None) -> SearchPage: ...

    def find_tokens(
        self, resource_type: str, param: str, pairs: Sequence[tuple[str, str]]
    ) -> list[tuple[str, str, StoredVersion]]:
        """The current resources of a type whose token parameter holds one of these
        ``(system, code)`` pairs, each with the pair it holds (a resource holding two
        comes twice): what ``param=system|code`` searches find, for many pairs in one
        round trip (a group of conditional writes looks up its keys so)."""
        ...

    def includes(
        self, matches: Sequence[StoredVersion], include: Include, compartment: str | None
    ) -> list[StoredVersion]: ...

    def compartment(
        self, patient_id: str, types: Sequence[str], since: int | None
    ) -> list[StoredVersion]: ...

    def compartments_of(self, resource_type: str, id: str) -> frozenset[str]: ...

    def history(
        self,
        resource_type: str | None,
        id: str | None,
        since: int | None,
        count: int,
        offset: int,
    ) -> HistoryPage: ...

    def lock(self, key: str) -> None:
        """Serialise writers on ``key`` until commit (conditional create, If-Match)."""
        ...

    def lock_many(self, keys: Sequence[str]) -> None:
        """``lock`` of each key, in the order given, in one round trip."""
        ...

    def audit(self, event: bytes, recorded: int, patients: Sequence[str] = ()) -> None:
        """Append one AuditEvent; ``patients`` are indexed for their access logs.  SQL
        stores chain it (records/audit_chain.py) and the append must not fail silently."""
        ...

    def patients_of(self, keys: Sequence[tuple[str, str]]) -> frozenset[str]:
        """The patients whose compartments hold any of these (type, id) resources."""
        ...

    def access_log(
        self, patients: Sequence[str], before: int | None, count: int
    ) -> list[AuditEntry]:
        """Audit entries naming any of ``patients``, newest first, seq below ``before``."""
        ...

    def get_job(self, id: str) -> JobState | None: ...

    def put_job(self, job: JobState) -> None:
        """Create or replace a job's progress, in this transaction (so that a batch and
        the progress that records it commit together)."""
        ...

    def grants_for(self, subject: str, patients: Sequence[str]) -> list[BreakGlassGrant]:
        """This subject's break-the-glass grants for these patients, expired ones too (the
        consent decision point compares the times)."""
        ...

    def put_grant(self, grant: BreakGlassGrant) -> None: ...


class ResourceStore(Protocol):
    def session(self) -> AbstractContextManager[StoreSession]:
        """A transaction: committed when the block ends, rolled back on an exception."""
        ...

    def stream(self, resource_types: Sequence[str], since: int | None) -> Iterator[StoredVersion]:
        """Every current resource of these types, for bulk export (no access check here:
        the record service checks before calling)."""
        ...

    def stream_compartment(
        self, resource_types: Sequence[str], patients: Sequence[str] | None, since: int | None
    ) -> Iterator[StoredVersion]:
        """Every current resource of these types in the compartment of one of ``patients``
        (of any patient when None), each once, in pages; for Patient and Group $export."""
        ...

    def scan(
        self, resource_type: str, shard: tuple[int, int], page: int
    ) -> Iterator[list[StoredVersion]]:
        """A bulk read (no access check here: the record service checks): every current
        resource of one type whose store sequence number is k modulo n (``shard =
        (k, n)``), ``page`` at a time in storage order, each page read in a short
        transaction of its own (a resource written after the scan began may be missed)."""
        ...

    def ping(self) -> None: ...

    def close(self) -> None: ...
