"""Where the repository asks the consent decision point: every version a record session
(or a bulk export) hands out passes through one :class:`ConsentGate`.

The gate reads the resource's patients, holders, codes and labels from its JSON
(``khealth.access.consent.classify``), fetches the active Consents of those patients once per
session (one search for a whole page of patients) and, for roles that may break the glass,
their grants, and asks ``consent_decision.decide``.  Nothing is cached across sessions, and a
Consent written in the session clears the session's cache, so a change takes effect for the
very next call, also in an open ``Records`` instance.

Searches and type/system history are filtered before paging: the gate scans up to
``SCAN_LIMIT`` matches, keeps the visible ones, and pages and counts those, so ``total`` never
counts what the caller may not see.  Past ``SCAN_LIMIT`` matches the total is left out and the
pages end (narrow the search).  Callers the decision point never restricts (``exempt``) skip
all of this.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any, Protocol

import orjson

from khealth.access.break_glass import BreakGlassGrant, may_break_glass
from khealth.access.consent import (
    AGENT_SOURCE,
    FACILITY_SOURCE,
    ResourceMeta,
    classify,
    redact_displays,
)
from khealth.access.consent_decision import Decision, Effect, decide, exempt
from khealth.access.consent_model import ConsentRecord, names_instances, parse_consent
from khealth.access.context import AccessContext, Role
from khealth.core.errors import Forbidden, Issue
from khealth.fhir.extract import patient_compartments
from khealth.fhir.search_model import SearchQuery, TotalMode
from khealth.fhir.search_parse import parse_search
from khealth.records.clock import Clock
from khealth.records.ports import ResourceStore, SearchPage, StoredVersion, StoreSession

SCAN_LIMIT = 2000  # matches a gated search or history looks at
_PATIENT_BATCH = 200  # patients per Consent search
_FEW_PATIENTS = 4  # up to this many, one compartment lookup each
_STREAM_CHUNK = 500  # export resources decided together
Key = tuple[str, str]
_STAMPS = (FACILITY_SOURCE, AGENT_SOURCE)


class GateSource(Protocol):
    """What the gate reads: Consents, grants, and the targets of references to redact."""

    def consents(self, patients: Sequence[str]) -> list[StoredVersion]: ...

    def grants(self, subject: str, patients: Sequence[str]) -> list[BreakGlassGrant]: ...

    def current_many(self, keys: Sequence[Key]) -> dict[Key, StoredVersion]: ...


class SessionSource:
    """Reads inside the record session's own transaction."""

    def __init__(self, session: StoreSession) -> None:
        self.s = session

    def consents(self, patients: Sequence[str]) -> list[StoredVersion]:
        """Every Consent of these patients (any status): a compartment lookup per patient
        for a few (the cheap query a read needs), one search for a page of many."""
        if len(patients) <= _FEW_PATIENTS:
            return [v for p in patients for v in self.s.compartment(p, ["Consent"], None)]
        refs = ",".join(f"Patient/{p}" for p in patients)
        query = parse_search("Consent", [("patient", refs)])
        return self.s.search(replace(query, count=10_000), None).matches

    def grants(self, subject: str, patients: Sequence[str]) -> list[BreakGlassGrant]:
        return self.s.grants_for(subject, patients)

    def current_many(self, keys: Sequence[Key]) -> dict[Key, StoredVersion]:
        return self.s.current_many(keys)


class StoreSource:
    """Short transactions of their own, for a bulk export that holds none."""

    def __init__(self, store: ResourceStore) -> None:
        self.store = store

    def consents(self, patients: Sequence[str]) -> list[StoredVersion]:
        with self.store.session() as s:
            return SessionSource(s).consents(patients)

    def grants(self, subject: str, patients: Sequence[str]) -> list[BreakGlassGrant]:
        with self.store.session() as s:
            return s.grants_for(subject, patients)

    def current_many(self, keys: Sequence[Key]) -> dict[Key, StoredVersion]:
        with self.store.session() as s:
            return s.current_many(keys)


class ConsentGate:
    def __init__(
        self, ctx: AccessContext, clock: Clock, source: GateSource, allow_break_glass: bool = True
    ) -> None:
        self.ctx = ctx
        self.clock = clock
        self.source = source
        self.active = not exempt(ctx)
        self.uses_grants = allow_break_glass and may_break_glass(ctx)
        self.break_glass_used = False
        self._consents: dict[str, tuple[ConsentRecord, ...]] = {}
        self._grants: dict[str, BreakGlassGrant | None] = {}
        self._instance_specific: set[str] = set()  # patients with data/dataPeriod consents

    def invalidate(self) -> None:
        """Forget what was fetched (a Consent or a grant was written in this session)."""
        self._consents.clear()
        self._grants.clear()
        self._instance_specific.clear()

    # -- single resources ------------------------------------------------------------
    def require(self, version: StoredVersion, write: bool = False) -> StoredVersion:
        """The version as this caller may see it, or Forbidden (audited as a denial)."""
        if not self.active or version.deleted:
            return version
        meta = meta_of(version)
        self._prefetch([meta])
        decision = self.decide(meta, write)
        if not decision.allowed:
            raise Forbidden([Issue("forbidden", f"consent: {decision.reasons[0]}")])
        return self._apply(version, None, meta, decision)

    def decide(self, meta: ResourceMeta, write: bool = False, now: int | None = None) -> Decision:
        consents = [c for p in sorted(meta.patients) for c in self._consents.get(p, ())]
        when = self.clock.now_us() if now is None else now
        decision = decide(
            self.ctx, meta, consents, now=when, grant=self._grant_for(meta), write=write
        )
        if decision.break_glass:
            self.break_glass_used = True
        return decision

    # -- many resources --------------------------------------------------------------
    def visible(self, versions: Sequence[StoredVersion]) -> list[StoredVersion]:
        """The versions this caller may see, in order, redacted where needed.  Deletes
        (no content to judge) are dropped."""
        if not self.active:
            return list(versions)
        live = [v for v in versions if not v.deleted]
        metas = [meta_of(v) for v in live]
        self._prefetch(metas)
        now = self.clock.now_us()
        memo: dict[tuple[object, ...], Decision] = {}
        kept: list[StoredVersion] = []
        for v, meta in zip(live, metas, strict=True):
            key = self._memo_key(meta)
            decision = memo.get(key) if key is not None else None
            if decision is None:
                decision = self.decide(meta, now=now)
                if key is not None:
                    memo[key] = decision
            if decision.effect is Effect.PERMIT:
                kept.append(v)
            elif decision.allowed:
                kept.append(self._apply(v, None, meta, decision))
        return kept

    def _memo_key(self, meta: ResourceMeta) -> tuple[object, ...] | None:
        """Resources with one signature share a decision, unless a consent of theirs
        names instances or a data period (then each is decided alone)."""
        if self._instance_specific and not self._instance_specific.isdisjoint(meta.patients):
            return None
        return meta.sig

    def stream(self, versions: Iterable[StoredVersion]) -> Iterator[StoredVersion]:
        """Filter a long stream (bulk export) a chunk at a time."""
        if not self.active:
            yield from versions
            return
        chunk: list[StoredVersion] = []
        for v in versions:
            chunk.append(v)
            if len(chunk) >= _STREAM_CHUNK:
                yield from self.visible(chunk)
                chunk = []
        yield from self.visible(chunk)

    # -- internals -------------------------------------------------------------------
    def _prefetch(self, metas: Iterable[ResourceMeta]) -> None:
        """Fetch consents (and grants) for every patient not seen yet in this session."""
        wanted = sorted({p for m in metas for p in m.patients} - self._consents.keys())
        for start in range(0, len(wanted), _PATIENT_BATCH):
            batch = wanted[start : start + _PATIENT_BATCH]
            found: dict[str, list[ConsentRecord]] = {p: [] for p in batch}
            for v in self.source.consents(batch):
                consent = parse_consent(orjson.loads(v.content), v.version)
                if consent.patient in found and consent.status == "active":
                    found[consent.patient].append(consent)
            self._consents.update({p: tuple(c) for p, c in found.items()})
            self._instance_specific.update(
                p for p, cs in found.items() if any(names_instances(c) for c in cs)
            )
            if self.uses_grants:
                self._load_grants(batch)

    def _load_grants(self, patients: Sequence[str]) -> None:
        now = self.clock.now_us()
        self._grants.update(dict.fromkeys(patients))
        for g in self.source.grants(self.ctx.subject, patients):
            current = self._grants.get(g.patient)
            if g.active(now) and (current is None or g.expires > current.expires):
                self._grants[g.patient] = g

    def _grant_for(self, meta: ResourceMeta) -> BreakGlassGrant | None:
        if not self.uses_grants:
            return None
        return next((g for p in meta.patients if (g := self._grants.get(p))), None)

    def _apply(
        self, version: StoredVersion, body: dict[str, Any] | None, meta: ResourceMeta,
        d: Decision,
    ) -> StoredVersion:  # fmt: skip
        if d.effect != Effect.PERMIT_WITH_REDACTION:
            return version
        hidden = self._hidden_targets(meta.displayed_refs)
        if not hidden:
            return version
        parsed = body if body is not None else orjson.loads(version.content)
        return replace(version, content=orjson.dumps(redact_displays(parsed, hidden)))

    def _hidden_targets(self, refs: Sequence[str]) -> frozenset[str]:
        """The references (``Type/id``) this caller may not read; unknown ones count as
        hidden, as their display cannot be judged."""
        keys = [(r.split("/", 1)[0], r.split("/", 1)[1]) for r in refs if "/" in r]
        found = self.source.current_many(keys)
        targets = {f"{k[0]}/{k[1]}": v for k, v in found.items() if not v.deleted}
        metas = {ref: meta_of(v) for ref, v in targets.items()}
        self._prefetch(metas.values())
        now = self.clock.now_us()
        shown = {ref for ref, m in metas.items() if self.decide(m, now=now).allowed}
        return frozenset(refs) - shown


_META_CACHE: dict[tuple[str, str, int, int], ResourceMeta] = {}
META_CACHE_SIZE = 100_000


def meta_of(version: StoredVersion) -> ResourceMeta:
    """The ResourceMeta of a stored version.  A version's content never changes, so its
    classification is kept in a process-wide cache keyed by (type, id, version, content
    hash); consents are never cached across sessions."""
    key = (version.resource_type, version.id, version.version, hash(version.content))
    found = _META_CACHE.get(key)
    if found is None:
        body = orjson.loads(version.content)
        found = classify(body, patient_compartments(body), version.content)
        if len(_META_CACHE) >= META_CACHE_SIZE:
            _META_CACHE.clear()
        _META_CACHE[key] = found
    return found


def gated_search(
    s: StoreSession, gate: ConsentGate, query: SearchQuery, compartment: str | None
) -> SearchPage:
    """A search page of what the caller may see, with a total that counts only that."""
    if not gate.active:
        return s.search(query, compartment)
    scan = replace(query, offset=0, count=SCAN_LIMIT, total=TotalMode.NONE)
    raw = s.search(scan, compartment)
    visible = gate.visible(raw.matches)
    truncated = len(raw.matches) >= SCAN_LIMIT
    page = visible[query.offset : query.offset + query.count]
    return SearchPage(page, None if truncated else len(visible), raw.snapshot)


def gated_history(
    s: StoreSession, gate: ConsentGate, resource_type: str | None, id: str | None,
    since: int | None, count: int, offset: int,
) -> tuple[list[StoredVersion], int]:  # fmt: skip
    """History the caller may see: an instance's versions one by one (its deletes kept),
    a type's or the system's filtered before paging."""
    if not gate.active:
        page = s.history(resource_type, id, since, count, offset)
        return page.versions, page.total
    if id is not None:  # the resource itself was checked; its version count is no secret
        page = s.history(resource_type, id, since, count, offset)
        shown = {v.version: v for v in gate.visible(page.versions)}
        kept = [shown.get(v.version, v) for v in page.versions if v.deleted or v.version in shown]
        return kept, page.total
    raw = s.history(resource_type, None, since, SCAN_LIMIT, 0)
    visible = gate.visible(raw.versions)
    return visible[offset : offset + count], len(visible)


def stamp_source(meta: dict[str, Any], ctx: AccessContext, created: bool) -> None:
    """Stamp ``meta.source`` with the writer's facility (``urn:khealth:facility:<id>``), or
    the writer itself when it has none (``urn:khealth:agent:<subject>``, an EMS crew): the
    holder the decision point lets read it back.  A new resource always takes the writer's
    stamp (nobody files a record under another facility's name); an update keeps the
    stamp it carries, so a hospital answering an EMS pre-notification does not take it
    over.  The platform's own jobs (import) keep what the source system sent."""
    if ctx.role == Role.SERVICE:
        return
    mine = (
        FACILITY_SOURCE + ctx.facility if ctx.facility is not None else AGENT_SOURCE + ctx.subject
    )
    given = meta.get("source")
    if created or not (isinstance(given, str) and given.startswith(_STAMPS)):
        meta["source"] = mine
