"""Many small conditional transactions in one record session, their look-ups batched.

A feed (HL7 v2 over MLLP) commits a group of messages in one database transaction, so that
one durable sync covers them all.  Each message is a transaction of its own (all of its
entries or none), keyed by identifiers: ``PUT Type?identifier=s|v`` (conditional update)
and ``POST`` with ``ifNoneExist`` (conditional create).  Run one by one through
``TransactionRunner``, each key costs a search and each resource a round of writes.  Here
the keys of the whole group are looked up first (one search per resource type), each
transaction is resolved against those matches and what the earlier transactions of the
group staged, and the staged versions reach the store in one ``put_many``.

The rules are ``TransactionRunner``'s (http://hl7.org/fhir/R4/http.html#trules) for these
entries: a transaction's conditions are decided against the state before it; several
matches are 412; a PUT that changes nothing keeps the version; scopes, compartments,
consent and the audit apply to every read and write as in ``RecordSession``.  A
transaction that fails stages nothing and the group carries on; a denial (``Forbidden``)
is raised for the caller to end the session with, so that it is audited as one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from khealth.access import policy
from khealth.core.errors import InvalidRequest, Issue, KhealthError, PreconditionFailed
from khealth.fhir.search_model import Criterion, SearchQuery, TokenSearch
from khealth.fhir.search_parse import parse_search
from khealth.fhir.search_values import parse_token, split_escaped
from khealth.records.bundles import Entry, parse_entries
from khealth.records.identifiers import protect_identifiers
from khealth.records.ports import StoredVersion, Write
from khealth.records.prepare import require_supported
from khealth.records.references import rewrite_references
from khealth.records.session import (
    RecordSession,
    WriteResult,
    load_json,
    query_pairs,
    same_content,
)

Key = tuple[str, str]  # (type, id)
Lookup = tuple[str, str]  # (type, conditional criteria)
_BATCH = 200  # identifiers per search
_IDENTIFIER_CLAUSES: dict[str, Criterion | None] = {}


class ConditionalGroup:
    def __init__(self, rs: RecordSession) -> None:
        self.rs = rs
        self._found: dict[Lookup, list[StoredVersion]] = {}  # matches before the group
        self._tokens: dict[Lookup, TokenSearch | None] = {}  # criteria that are one identifier
        self._staged: dict[Key, Write] = {}  # the latest version staged per resource
        self._identifiers: dict[Key, list[tuple[Any, Any]]] = {}  # of that version
        self._by_value: dict[tuple[str, str], set[str]] = {}  # (type, value) -> staged ids
        self._writes: list[Write] = []
        self._queued: set[Key] = set()

    # -- look-ups --------------------------------------------------------------------
    def look_up(self, lookups: Iterable[Lookup]) -> None:
        """Find what these conditions match now: one search per type (and ``_BATCH``
        identifiers) for ``identifier`` tokens, one per condition for anything else.  A
        condition that cannot be searched is left for its transaction to fail on."""
        by_type: dict[str, list[str]] = {}
        wanted = sorted(set(lookups) - self._found.keys())
        self.rs.s.lock_many([f"{resource_type}?{criteria}" for resource_type, criteria in wanted])
        for resource_type, criteria in wanted:
            try:
                require_supported(resource_type)
                token = self._token(resource_type, criteria)
                if token is None:
                    found = self._search_one(resource_type, criteria)
                    self._found[(resource_type, criteria)] = found
                    continue
            except KhealthError:
                continue
            by_type.setdefault(resource_type, []).append(criteria)
        for resource_type, listed in by_type.items():
            for start in range(0, len(listed), _BATCH):
                self._search_tokens(resource_type, listed[start : start + _BATCH])

    def _token(self, resource_type: str, criteria: str) -> TokenSearch | None:
        """The one ``identifier`` token these criteria are, else None (then the store
        answers them, exactly, once the group's writes are flushed)."""
        key = (resource_type, criteria)
        if key not in self._tokens:
            params = query_pairs(criteria)
            token = None
            if len(params) == 1 and params[0][0] == "identifier":
                values = split_escaped(params[0][1], ",")
                if len(values) == 1 and self._identifier_clause(resource_type) is not None:
                    token = parse_token(values[0], "identifier")
            self._tokens[key] = token
        return self._tokens[key]

    def _identifier_clause(self, resource_type: str) -> Criterion | None:
        """The type's plain ``identifier`` token criterion, to put many tokens in."""
        if resource_type not in _IDENTIFIER_CLAUSES:
            clauses = parse_search(resource_type, [("identifier", "s|v")]).clauses
            found = clauses[0] if len(clauses) == 1 else None
            plain = isinstance(found, Criterion) and found.param_type == "token"
            _IDENTIFIER_CLAUSES[resource_type] = (
                found if isinstance(found, Criterion) and plain and not found.modifier else None
            )
        return _IDENTIFIER_CLAUSES[resource_type]

    def _criterion(self, resource_type: str, criteria: str) -> Any:
        params = query_pairs(criteria)
        if not params:
            raise InvalidRequest([Issue("invalid", "a conditional request needs search criteria")])
        return parse_search(resource_type, params).clauses

    def _search_one(self, resource_type: str, criteria: str) -> list[StoredVersion]:
        clauses = self._criterion(resource_type, criteria)
        return self.rs.s.search(SearchQuery(resource_type, clauses, count=2), None).matches

    def _search_tokens(self, resource_type: str, criteria: list[str]) -> None:
        tokens = [self._token(resource_type, c) for c in criteria]
        found: dict[str, list[StoredVersion]] = {c: [] for c in criteria}
        pairs = [(t.system, t.code) for t in tokens if t is not None and t.system and t.code]
        if len(pairs) == len(criteria):  # all system|code: the store's token look-up
            by_pair: dict[tuple[str, str], list[str]] = {}
            for pair, c in zip(pairs, criteria, strict=True):
                by_pair.setdefault(pair, []).append(c)
            for system, code, match in self.rs.s.find_tokens(resource_type, "identifier", pairs):
                for c in by_pair[(system, code)]:
                    if all(m.id != match.id for m in found[c]):
                        found[c].append(match)
            self._found.update(((resource_type, c), v) for c, v in found.items())
            return
        template = self._identifier_clause(resource_type)
        assert template is not None  # only identifier tokens are batched
        clause = replace(template, values=tuple(t for t in tokens if t is not None))
        limit = 2 * len(criteria) + 1
        page = self.rs.s.search(SearchQuery(resource_type, (clause,), count=limit), None)
        for match in page.matches:
            identifiers = _identifier_pairs(load_json(match.content))
            hits = [c for c, t in zip(criteria, tokens, strict=True)
                    if t is not None and _has(identifiers, t)]  # fmt: skip
            if not hits:  # the index and this reading disagree: ask the store one by one
                break
            for c in hits:
                found[c].append(match)
        else:
            if len(page.matches) < limit:
                self._found.update(((resource_type, c), v) for c, v in found.items())
                return
        for c in criteria:
            self._found[(resource_type, c)] = self._search_one(resource_type, c)

    def _match(self, resource_type: str, criteria: str) -> StoredVersion | Write | None:
        """The one resource the condition matches now, staged or stored; 412 for several."""
        lookup = (resource_type, criteria)
        if lookup not in self._found:
            self.look_up([lookup])
        token = self._tokens.get(lookup)
        if token is None or lookup not in self._found:  # the store decides (or refuses)
            self.flush()
            matches: dict[str, StoredVersion | Write] = {
                v.id: v for v in self._search_one(resource_type, criteria)
            }
        else:
            matches = {
                v.id: self._staged.get((resource_type, v.id), v)
                for v in self._found[lookup]
                if self._still_has(resource_type, v.id, token)
            }
            staged = (
                self._by_value.get((resource_type, token.code), ())
                if token.code is not None
                else [id for t, id in self._staged if t == resource_type]  # system|: any code
            )
            for id in staged:
                if self._still_has(resource_type, id, token):
                    matches.setdefault(id, self._staged[(resource_type, id)])
        if len(matches) > 1:
            raise PreconditionFailed(
                [Issue("multiple-matches", "the conditional criteria match more than one resource")]
            )
        return next(iter(matches.values()), None)

    def _still_has(self, resource_type: str, id: str, token: TokenSearch) -> bool:
        staged = self._identifiers.get((resource_type, id))
        return staged is None or _has(staged, token)

    # -- transactions ----------------------------------------------------------------
    def run(self, entries: list[dict[str, Any]]) -> list[WriteResult]:
        """Stage one transaction's entries (POST, POST with ``ifNoneExist``, PUT by id or
        by criteria): all of them, or none and a ``KhealthError`` naming the entry
        (``Bundle.entry[i]``) as a transaction Bundle's would."""
        _, parsed = parse_entries({"resourceType": "Bundle", "type": "transaction",
                                   "entry": entries})  # fmt: skip
        mapping: dict[str, str] = {}
        resolved = [self._resolve(e, mapping) for e in parsed]
        planned: list[tuple[Entry, Write | WriteResult]] = []
        local: dict[Key, Write] = {}
        for e, (resource_type, id, current, matched) in zip(parsed, resolved, strict=True):
            try:
                if matched:
                    assert isinstance(current, StoredVersion)
                    planned.append((e, self._check_read(current)))
                    continue
                current = local.get((resource_type, id), current)
                body = rewrite_references({**e.resource, "id": id}, mapping)
                plan = self._check_write(resource_type, id, body, current, e.method)
            except KhealthError as error:
                raise _at(e, error) from None
            if isinstance(plan, Write):
                local[(resource_type, id)] = plan
            planned.append((e, plan))
        return [self._stage(e.resource, plan) for e, plan in planned]

    def _resolve(
        self, e: Entry, mapping: dict[str, str]
    ) -> tuple[str, str, StoredVersion | Write | None, bool]:
        """(type, id, current, matched): the resource an entry is about."""
        try:
            resource_type, id, query = _split(e.url)
            if e.method in ("POST", "PUT") and not isinstance(e.resource, dict):
                raise InvalidRequest([Issue("required", "entry needs a resource")])
            if e.method in ("POST", "PUT") and e.resource.get("resourceType") != resource_type:
                raise InvalidRequest([Issue("invalid", "resourceType does not match request.url")])
            current: StoredVersion | Write | None = None
            matched = False
            if e.method == "POST" and id is None and query is None:
                if e.if_none_exist:
                    current = self._match(resource_type, e.if_none_exist)
                    matched = current is not None
            elif e.method == "PUT" and query is not None and id is None:
                current = self._match(resource_type, query)
            elif e.method == "PUT" and id is not None and query is None:
                current = self._current(resource_type, id)
            else:
                raise InvalidRequest(
                    [Issue("not-supported", "this entry cannot be part of a grouped transaction")]
                )
            if e.if_match is not None and (current is None or _version(current) != e.if_match):
                raise PreconditionFailed(
                    [Issue("conflict", "If-Match names a version that is not the current one")]
                )
        except KhealthError as error:
            raise _at(e, error) from None
        if current is not None:
            id = _id(current)
        elif id is None:
            given = e.resource.get("id") if e.method == "PUT" else None
            id = given if isinstance(given, str) and given else str(uuid.uuid4())
        if e.full_url:
            mapping[e.full_url] = f"{resource_type}/{id}"
        if matched:
            assert isinstance(current, StoredVersion | Write)
            current = current if isinstance(current, StoredVersion) else current.version
        return resource_type, id, current, matched

    def _current(self, resource_type: str, id: str) -> StoredVersion | Write | None:
        staged = self._staged.get((resource_type, id))
        return staged if staged is not None else self.rs.s.current(resource_type, id)

    def _check_read(self, current: StoredVersion) -> WriteResult:
        """A conditional create that matched: the match is read (as the transaction's
        response would show it), with a read's checks and audit."""
        rs = self.rs
        policy.require(rs.ctx, current.resource_type, "read")
        rs.audit.saw(current.resource_type, current.id)
        self._require_in_compartment(current.resource_type, current.id, "read")
        rs.gate.require(current)
        return WriteResult(current, created=False, changed=False)

    def _check_write(
        self, resource_type: str, id: str, body: dict[str, Any],
        current: StoredVersion | Write | None, method: str,
    ) -> Write | WriteResult:  # fmt: skip
        """The version to stage (checked, validated, indexed), or the unchanged current one."""
        rs = self.rs
        stored = current.version if isinstance(current, Write) else current
        policy.require(rs.ctx, resource_type, "update" if stored else "create")
        if stored is not None:
            rs.gate.require(stored, write=True)
            self._require_in_compartment(resource_type, id, "update")
            if not stored.deleted and same_content(stored, body):
                return WriteResult(stored, created=False, changed=False)
        expected = stored.version if stored else None
        version, index, compartments = rs.prepare(resource_type, id, body, expected, method)
        policy.require_in_compartment(rs.ctx, resource_type, "create", compartments)
        return Write(version, index, compartments, expected)

    def _require_in_compartment(self, resource_type: str, id: str, interaction: str) -> None:
        if policy.compartment_of(self.rs.ctx, resource_type, interaction) is None:
            return  # nothing to look up for a caller not bound to one patient
        staged = self._staged.get((resource_type, id))
        compartments = (
            staged.compartments if staged else self.rs.s.compartments_of(resource_type, id)
        )
        policy.require_in_compartment(self.rs.ctx, resource_type, interaction, compartments)

    def _stage(self, resource: Any, plan: Write | WriteResult) -> WriteResult:
        if isinstance(plan, WriteResult):
            return plan
        v = plan.version
        key = (v.resource_type, v.id)
        if key in self._queued:  # put_many takes each resource once
            self.flush()
        self._writes.append(plan)
        self._queued.add(key)
        self._staged[key] = plan
        identifiers = _identifier_pairs(protect_identifiers(v.resource_type, resource))
        self._identifiers[key] = identifiers
        for _, value in identifiers:
            if isinstance(value, str):
                self._by_value.setdefault((v.resource_type, value), set()).add(v.id)
        letter = "C" if plan.expected_version is None else "U"
        self.rs.audit.changed(v.resource_type, v.id, letter, plan.compartments)
        if v.resource_type == "Consent":  # takes effect for the next read, as in the session
            self.flush()
            self.rs.gate.invalidate()
        return WriteResult(v, created=plan.expected_version is None)

    def flush(self) -> None:
        """Send the staged versions to the store (one ``put_many``).  A refusal there
        (a concurrent writer got in first) is about the group's earlier transactions,
        not the one running: it comes as ``StagedWritesFailed``."""
        if self._writes:
            self.rs.flush()
            writes, self._writes = self._writes, []
            self._queued.clear()
            try:
                self.rs.s.put_many(writes)
            except KhealthError as error:
                raise StagedWritesFailed(error) from error


class StagedWritesFailed(Exception):
    """The store refused the group's staged writes: the session's transaction cannot go
    on (its caller retries the transactions one by one)."""

    def __init__(self, error: KhealthError) -> None:
        super().__init__(error.summary())
        self.error = error


def _split(url: str) -> tuple[str, str | None, str | None]:
    parts = urlsplit(url)
    path = parts.path.strip("/").split("/")
    require_supported(path[0])
    return path[0], (path[1] if len(path) > 1 and path[1] else None), (parts.query or None)


def _id(current: StoredVersion | Write) -> str:
    return current.version.id if isinstance(current, Write) else current.id


def _version(current: StoredVersion | Write) -> int:
    return current.version.version if isinstance(current, Write) else current.version


def _identifier_pairs(resource: Any) -> list[tuple[Any, Any]]:
    found = resource.get("identifier") if isinstance(resource, dict) else None
    if not isinstance(found, list):
        return []
    return [(i.get("system"), i.get("value")) for i in found if isinstance(i, dict)]


def _has(identifiers: Sequence[tuple[Any, Any]], token: TokenSearch) -> bool:
    """Does a resource with these identifiers match ``identifier=[system]|[code]``?
    (The token index keeps system and value as they are, empty strings as absent.)"""
    for system, value in identifiers:
        system = system if isinstance(system, str) and system else None
        value = value if isinstance(value, str) and value else None
        if token.code is not None and value != token.code:
            continue
        if token.system == "" and system is not None:
            continue
        if token.system and system != token.system:
            continue
        if token.code is None and token.system is None:
            continue
        return True
    return False


def _at(e: Entry, error: KhealthError) -> KhealthError:
    """The error as a transaction Bundle reports it: each issue prefixed with the entry."""
    issues = [
        Issue(i.code, f"Bundle.entry[{e.position}]: {i.diagnostics}",
              tuple(f"Bundle.entry[{e.position}].resource.{x.split('.', 1)[-1]}"
                    for x in i.expression) or (f"Bundle.entry[{e.position}]",), i.severity)
        for i in error.issues
    ]  # fmt: skip
    return type(error)(issues, error.status)


__all__ = ["ConditionalGroup", "StagedWritesFailed"]
