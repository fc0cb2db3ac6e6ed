"""A record session: one transaction and one audit event, through which a caller reads and
writes resources under its :class:`AccessContext` (opened by
:meth:`khealth.records.service.Records.begin`).

Every read asks the access policy and the consent gate; every write is validated, stamped
and indexed (``records.prepare``) and becomes a new version in the same transaction as its
audit.  FHIR REST semantics follow http://hl7.org/fhir/R4/http.html.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from khealth.access import policy
from khealth.access.break_glass import BreakGlassGrant
from khealth.access.context import AccessContext
from khealth.core.errors import (
    Forbidden,
    Gone,
    InvalidRequest,
    Issue,
    KhealthError,
    NotFound,
    PreconditionFailed,
)
from khealth.fhir.definitions import SUPPORTED_TYPES
from khealth.fhir.search_model import Include, SearchQuery
from khealth.fhir.search_parse import parse_search
from khealth.records.audit import AuditRecord, audit_event
from khealth.records.audit_index import patients_touched
from khealth.records.clock import Clock
from khealth.records.consent_gate import (
    ConsentGate,
    SessionSource,
    gated_history,
    gated_search,
)
from khealth.records.identifiers import protect_identifiers
from khealth.records.jsonpatch import apply_patch
from khealth.records.ports import (
    JobState,
    SearchPage,
    StoredVersion,
    StoreSession,
    Write,
)
from khealth.records.prepare import (
    PreparedCreate,
    parse_line,
    prepare_version,
    require_supported,
    upsert_key,
)
from khealth.records.prepare import resource_type_of as _resource_type
from khealth.records.references import local_references

MAX_INCLUDE_ROUNDS = 4
MAX_INCLUDED = 1000


@dataclass(frozen=True, slots=True)
class WriteResult:
    stored: StoredVersion
    created: bool
    changed: bool = True


@dataclass(slots=True)
class SearchResult:
    page: SearchPage
    included: list[StoredVersion] = field(default_factory=list)


def load_json(content: bytes) -> dict[str, Any]:
    value = orjson.loads(content)
    assert isinstance(value, dict)
    return value


class RecordSession:
    def __init__(
        self, session: StoreSession, ctx: AccessContext, clock: Clock, action: str
    ) -> None:
        self.s = session
        self.ctx = ctx
        self.clock = clock
        self.audit = AuditRecord(action=action)
        self._pending: list[Write] = []
        self.gate = ConsentGate(ctx, clock, SessionSource(session))  # consent on every read

    def flush(self) -> None:
        """Send buffered writes to the store (consecutive creates go as one batch)."""
        if self._pending:
            pending, self._pending = self._pending, []
            self.s.put_many(pending)

    def write_audit(self, outcome: str, note: str | None = None) -> None:
        self.flush()
        self.audit.break_glass = self.audit.break_glass or self.gate.break_glass_used
        recorded = self.clock.now_us()
        patients = patients_touched(self.s, self.audit)
        self.audit.patients.update(patients)
        self.s.audit(audit_event(self.ctx, self.audit, recorded, outcome, note), recorded, patients)

    # -- reads -----------------------------------------------------------------------
    def read(self, resource_type: str, id: str) -> StoredVersion:
        self.flush()
        require_supported(resource_type)
        policy.require(self.ctx, resource_type, "read")
        current = self.s.current(resource_type, id)
        if current is None:
            raise NotFound([Issue("not-found", f"{resource_type}/{id} is not known")])
        self.audit.saw(resource_type, id)  # before the check: a refusal names it too
        policy.require_in_compartment(
            self.ctx, resource_type, "read", self.s.compartments_of(resource_type, id)
        )
        if current.deleted:
            raise Gone([Issue("deleted", f"{resource_type}/{id} was deleted")])
        return self.gate.require(current)

    def vread(self, resource_type: str, id: str, version: int) -> StoredVersion:
        self.read_allowed_even_if_deleted(resource_type, id)
        found = self.s.version(resource_type, id, version)
        if found is None:
            raise NotFound([Issue("not-found", f"{resource_type}/{id} has no version {version}")])
        if found.deleted:
            raise Gone([Issue("deleted", f"version {version} of {resource_type}/{id} is a delete")])
        return self.gate.require(found)

    def read_allowed_even_if_deleted(self, resource_type: str, id: str) -> StoredVersion:
        try:
            return self.read(resource_type, id)
        except Gone:
            current = self.s.current(resource_type, id)
            assert current is not None
            return current

    def search(self, query: SearchQuery) -> SearchResult:
        self.flush()
        if query.resource_type is not None:
            require_supported(query.resource_type)
        types = (
            [query.resource_type] if query.resource_type else list(query.types or SUPPORTED_TYPES)
        )
        compartment = None
        for t in types:
            policy.require(self.ctx, t, "search")
            compartment = compartment or policy.compartment_of(self.ctx, t, "search")
        self.audit.searched(query.resource_type or "*")
        page = gated_search(self.s, self.gate, query, compartment)
        result = SearchResult(page)
        result.included = self._includes(page.matches, query)
        for m in page.matches:
            self.audit.saw(m.resource_type, m.id)
        return result

    def _includes(self, matches: list[StoredVersion], query: SearchQuery) -> list[StoredVersion]:
        seen = {(m.resource_type, m.id) for m in matches}
        included: list[StoredVersion] = []
        frontier = matches
        specs: Sequence[Include] = (*query.includes, *query.revincludes)
        for round_number in range(MAX_INCLUDE_ROUNDS):
            found: list[StoredVersion] = []
            for spec in specs:
                if round_number > 0 and not spec.iterate:
                    continue
                for v in self.s.includes(frontier, spec, self._include_compartment()):
                    key = (v.resource_type, v.id)
                    if key not in seen and self.ctx.can(v.resource_type, "r"):
                        seen.add(key)
                        found.append(v)
            found = self.gate.visible(found)
            included.extend(found)
            if not found or len(included) >= MAX_INCLUDED:
                break
            frontier = found
        return included[:MAX_INCLUDED]

    def _include_compartment(self) -> str | None:
        bound = self.ctx.patient is not None and all(
            s.context == "patient" for s in self.ctx.scopes
        )
        return self.ctx.patient if bound else None

    def history(
        self, resource_type: str | None, id: str | None, since: int | None, count: int, offset: int
    ) -> tuple[list[StoredVersion], int]:
        self.flush()
        if resource_type is not None:
            require_supported(resource_type)
        if id is not None and resource_type is not None:
            self.read_allowed_even_if_deleted(resource_type, id)
        else:
            for t in [resource_type] if resource_type else SUPPORTED_TYPES:
                policy.require(self.ctx, t, "history")
                if policy.compartment_of(self.ctx, t, "history") is not None:
                    raise Forbidden(
                        [Issue("forbidden", "type history is not open to patient scopes")]
                    )
        return gated_history(self.s, self.gate, resource_type, id, since, count, offset)

    def everything(
        self, patient_id: str, since: int | None, types: Sequence[str]
    ) -> list[StoredVersion]:
        """Patient/$everything (http://hl7.org/fhir/R4/patient-operation-everything.html):
        the patient, every resource in their compartment, and what those reference."""
        self.flush()
        patient = self.read("Patient", patient_id)
        members = self.s.compartment(patient_id, types, since)
        found = {(v.resource_type, v.id): v for v in [patient, *members]}
        for ref in local_references(found.values()):
            if ref in found or (types and ref[0] not in types):
                continue
            target = self.s.current(*ref)
            if target is not None and not target.deleted and self._may_follow(ref):
                found[ref] = target
        readable = [v for v in found.values() if self.ctx.can(v.resource_type, "r")]
        visible = self.gate.visible(readable)
        for v in visible:
            self.audit.saw(v.resource_type, v.id)
        return visible

    def _may_follow(self, ref: tuple[str, str]) -> bool:
        """A reference out of the compartment (to a Practitioner, an Organization) may be
        followed, but not into another patient's compartment under a patient-bound token."""
        patient = self._include_compartment()
        if patient is None:
            return True
        compartments = self.s.compartments_of(*ref)
        return not compartments or patient in compartments

    # -- writes ----------------------------------------------------------------------
    def create(
        self, resource: Any, if_none_exist: str | None = None, id: str | None = None
    ) -> WriteResult:
        resource_type = _resource_type(resource)
        policy.require(self.ctx, resource_type, "create")
        if if_none_exist:
            existing = self.conditional_match(resource_type, if_none_exist)
            if existing is not None:
                return WriteResult(existing, created=False, changed=False)
        new_id = id or str(uuid.uuid4())
        return self._store(resource_type, new_id, resource, None, "POST")

    def conditional_match(self, resource_type: str, criteria: str) -> StoredVersion | None:
        """The one match of a conditional request; None when none; 412 when several."""
        self.flush()
        params = query_pairs(criteria)
        if not params:
            raise InvalidRequest([Issue("invalid", "a conditional request needs search criteria")])
        self.s.lock(f"{resource_type}?{criteria}")
        query = parse_search(resource_type, params)
        page = self.s.search(SearchQuery(resource_type, query.clauses, count=2), None)
        if len(page.matches) > 1:
            raise PreconditionFailed(
                [Issue("multiple-matches", "the conditional criteria match more than one resource")]
            )
        return page.matches[0] if page.matches else None

    def update(
        self, resource_type: str, id: str, resource: Any, if_match: int | None = None
    ) -> WriteResult:
        require_supported(resource_type)
        if _resource_type(resource) != resource_type:
            raise InvalidRequest(
                [Issue("invalid", "resourceType does not match the URL", ("resourceType",))]
            )
        if resource.get("id") != id:
            raise InvalidRequest([Issue("invalid", "the resource id must match the URL", ("id",))])
        self.flush()
        self.s.lock(f"{resource_type}/{id}")
        current = self.s.current(resource_type, id)
        policy.require(self.ctx, resource_type, "update" if current else "create")
        if current is not None:
            policy.require_in_compartment(
                self.ctx, resource_type, "update", self.s.compartments_of(resource_type, id)
            )
            self.gate.require(current, write=True)
        if if_match is not None and (current is None or current.version != if_match):
            raise PreconditionFailed(
                [Issue("conflict", "If-Match names a version that is not the current one")]
            )
        if current is not None and not current.deleted and same_content(current, resource):
            return WriteResult(current, created=False, changed=False)
        expected = current.version if current else None
        return self._store(resource_type, id, resource, expected, "PUT")

    def upsert_many(self, resources: Sequence[Any]) -> list[WriteResult | KhealthError]:
        """Update-as-create (http://hl7.org/fhir/R4/http.html#upsert) of many resources
        that carry their own ids, for bulk import: the current versions are read in one
        query, unchanged content keeps its version, and the rest is written in one
        ``put_many``.  A resource that fails validation gets its error in its place and
        nothing is written for it; a denial still raises (and is audited as one)."""
        keys = [upsert_key(r) for r in resources]
        return self._upsert_each(
            keys, lambda i, key, current: self._upsert_one(key, resources[i], current)
        )

    def upsert_prepared(
        self, items: Sequence[PreparedCreate | KhealthError]
    ) -> list[WriteResult | KhealthError]:
        """``upsert_many`` of import lines that :func:`khealth.records.prepare.prepare_line`
        has already validated, stamped and indexed as creates (in a worker process, while
        this session wrote the previous batch).  The session decides the rest as in
        ``upsert_many``: scopes and compartments, the audit event, and a resource that
        exists already is prepared again here, as an update or found unchanged."""

        def store(i: int, key: tuple[str, str], current: StoredVersion | None) -> WriteResult:
            item = items[i]
            assert isinstance(item, PreparedCreate)
            if current is not None:
                return self._upsert_one(key, parse_line(item.raw), current)
            policy.require(self.ctx, key[0], "create")
            return self._append(Write(item.version, item.index, item.compartments, None))

        keys = [item.key if isinstance(item, PreparedCreate) else item for item in items]
        return self._upsert_each(keys, store)

    def _upsert_each(
        self,
        keys: Sequence[tuple[str, str] | KhealthError],
        store: Callable[[int, tuple[str, str], StoredVersion | None], WriteResult],
    ) -> list[WriteResult | KhealthError]:
        self.flush()
        known = self.s.current_many([k for k in keys if isinstance(k, tuple)])
        outcomes: list[WriteResult | KhealthError] = []
        batch_keys: set[tuple[str, str]] = set()
        for i, key in enumerate(keys):
            if not isinstance(key, tuple):
                outcomes.append(key)
                continue
            if key in batch_keys:  # a repeated id: put_many sees each resource once
                self.flush()
                batch_keys.clear()
            try:
                result = store(i, key, known.get(key))
            except Forbidden:
                raise
            except KhealthError as error:
                outcomes.append(error)
                continue
            outcomes.append(result)
            known[key] = result.stored
            batch_keys.add(key)
        self.flush()
        return outcomes

    def _upsert_one(
        self, key: tuple[str, str], resource: Any, current: StoredVersion | None
    ) -> WriteResult:
        resource_type, id = key
        policy.require(self.ctx, resource_type, "update" if current else "create")
        if current is None:
            return self._store(resource_type, id, resource, None, "PUT")
        self.gate.require(current, write=True)
        if policy.compartment_of(self.ctx, resource_type, "update") is not None:
            policy.require_in_compartment(
                self.ctx, resource_type, "update", self.s.compartments_of(resource_type, id)
            )
        if not current.deleted and same_content(current, resource):
            return WriteResult(current, created=False, changed=False)
        return self._store(resource_type, id, resource, current.version, "PUT")

    def conditional_update(self, resource_type: str, criteria: str, resource: Any) -> WriteResult:
        require_supported(resource_type)
        match = self.conditional_match(resource_type, criteria)
        if match is None:
            given = resource.get("id") if isinstance(resource, dict) else None
            return self.create(resource, id=given if isinstance(given, str) else None)
        if isinstance(resource, dict) and resource.get("id") not in (None, match.id):
            raise InvalidRequest(
                [Issue("invalid", "the resource id differs from the match", ("id",))]
            )
        body = {**resource, "id": match.id} if isinstance(resource, dict) else resource
        return self.update(resource_type, match.id, body)

    def patch(
        self, resource_type: str, id: str, operations: Any, if_match: int | None = None
    ) -> WriteResult:
        current = self.read(resource_type, id)
        patched = apply_patch(load_json(current.content), operations)
        return self.update(resource_type, id, patched, if_match)

    def delete(self, resource_type: str, id: str) -> StoredVersion | None:
        self.flush()
        require_supported(resource_type)
        policy.require(self.ctx, resource_type, "delete")
        self.s.lock(f"{resource_type}/{id}")
        current = self.s.current(resource_type, id)
        if current is None or current.deleted:
            return None
        compartments = self.s.compartments_of(resource_type, id)
        policy.require_in_compartment(self.ctx, resource_type, "delete", compartments)
        self.audit.patients.update(compartments)  # the delete clears them from the index
        self.gate.require(current, write=True)
        if resource_type == "Consent":
            self.gate.invalidate()
        tombstone = StoredVersion(
            resource_type, id, current.version + 1, self.clock.now_us(), True, b"", "DELETE"
        )
        self.s.put(Write(tombstone, None, frozenset(), current.version))
        self.audit.changed(resource_type, id, "D")
        return tombstone

    # -- jobs ------------------------------------------------------------------------
    # Job progress is not a resource (no clinical content, no scope check): it goes
    # through the session so that a batch and the progress recording it commit together.
    def get_job(self, id: str) -> JobState | None:
        return self.s.get_job(id)

    def put_job(self, job: JobState) -> None:
        self.flush()
        self.s.put_job(job)

    def put_grant(self, grant: BreakGlassGrant) -> None:
        """Record a break-the-glass grant (not a resource: the access layer checked who
        may open one) in this transaction."""
        self.flush()
        self.s.put_grant(grant)
        self.gate.invalidate()

    def _store(
        self, resource_type: str, id: str, resource: Any, expected: int | None, method: str
    ) -> WriteResult:
        stored, index, compartments = self.prepare(resource_type, id, resource, expected, method)
        return self._append(Write(stored, index, compartments, expected))

    def _append(self, write: Write) -> WriteResult:
        """Buffer one prepared version (the caller has checked the type's scope)."""
        resource_type, id = write.version.resource_type, write.version.id
        policy.require_in_compartment(self.ctx, resource_type, "create", write.compartments)
        self._pending.append(write)
        if resource_type == "Consent":  # takes effect for the next read of this session
            self.flush()
            self.gate.invalidate()
        letter = "C" if write.expected_version is None else "U"
        self.audit.changed(resource_type, id, letter, write.compartments)
        return WriteResult(write.version, created=write.expected_version is None)

    def prepare(
        self, resource_type: str, id: str, resource: Any, expected: int | None, method: str = "PUT"
    ) -> tuple[StoredVersion, Any, frozenset[str]]:
        """Validate, stamp meta, serialise and index one version (no I/O)."""
        return prepare_version(self.ctx, self.clock, resource_type, id, resource, expected, method)


def strip_meta(resource: dict[str, Any]) -> dict[str, Any]:
    body = dict(resource)
    meta = dict(body.pop("meta", None) or {})
    meta.pop("versionId", None)
    meta.pop("lastUpdated", None)
    if meta:
        body["meta"] = meta
    return body


def same_content(current: StoredVersion, resource: dict[str, Any]) -> bool:
    """An update that changes nothing keeps the version (HAPI's no-op detection), which
    also makes re-running an import harmless."""
    protected = protect_identifiers(current.resource_type, resource)
    return strip_meta(load_json(current.content)) == strip_meta(protected)


def query_pairs(criteria: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    text = criteria.split("?", 1)[1] if "?" in criteria else criteria
    if "%00" in text or "\x00" in text:  # no database takes NUL text
        raise InvalidRequest([Issue("invalid", "conditional criteria must not contain NUL")])
    try:
        return parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InvalidRequest(
            [Issue("invalid", "conditional criteria are not a query string")]
        ) from None
