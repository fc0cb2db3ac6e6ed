"""The master patient index as use cases over the record service (the one door).

Patients are read and Persons written only through :class:`Records` with the caller's
AccessContext, so every run, merge and unmerge is checked and audited.  What is not a
resource — the trained parameters, the review queue, the operator's decisions and the merge
journal that makes a merge reversible — lives in the job table through the same session
(no demographics there: Patient ids, scores and comparison levels only).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from khealth.access.context import AccessContext, Role
from khealth.access.scopes import parse_scopes
from khealth.core.errors import InvalidRequest, Issue, NotFound
from khealth.identity.features import patient_record
from khealth.identity.linkage import LinkOptions, LinkResult, link_records
from khealth.identity.model import LEVEL_PROBABLE, Parameters, PatientRecord
from khealth.identity.persons import (
    assign_full,
    assign_incremental,
    new_person_id,
    patient_links,
    person_resource,
    with_links,
)
from khealth.records.ports import JobState
from khealth.records.service import ExportScope, Records, RecordSession, load_json

SERVICE_CONTEXT = AccessContext(
    subject="mpi",
    role=Role.SERVICE,
    scopes=parse_scopes("system/Patient.rs system/Person.cruds"),
)
MODEL_JOB, REVIEW_JOB, DECISIONS_JOB = "mpi-model", "mpi-review", "mpi-decisions"
MERGE_PREFIX = "mpi-merge:"
WRITE_BATCH = 1000


@dataclass(frozen=True)
class RunSummary:
    stats: dict[str, float]
    persons_written: int
    parameters: Parameters


class PatientIndex:
    def __init__(self, records: Records) -> None:
        self.records = records

    # -- reading ---------------------------------------------------------------------
    def patients(self, ctx: AccessContext) -> list[PatientRecord]:
        found = [patient_record(load_json(v.content)) for v in self._stream(ctx, "Patient")]
        self.records.audit_export(ctx, {"Patient": len(found)}, "0")
        return found

    def persons(self, ctx: AccessContext) -> dict[str, dict[str, Any]]:
        found = {v.id: load_json(v.content) for v in self._stream(ctx, "Person")}
        self.records.audit_export(ctx, {"Person": len(found)}, "0")
        return found

    def _stream(self, ctx: AccessContext, resource_type: str) -> Iterator[Any]:
        for v in self.records.export_stream(ctx, resource_type, ExportScope("system")):
            if not v.deleted:
                yield v

    # -- batch linkage ---------------------------------------------------------------
    def link(self, ctx: AccessContext, full: bool = False, seed: int = 0) -> RunSummary:
        """``khealth mpi link``: link every Patient (``full``: recompute every Person's
        links) or only Patients no Person links yet."""
        persons = self.persons(ctx)
        current = {p: pid for pid, body in persons.items() if body.get("active", True) for p in patient_links(body)}  # fmt: skip
        decisions = self._job(ctx, DECISIONS_JOB)
        options = LinkOptions(
            seed=seed,
            must_link=tuple((str(x), str(y)) for x, y in decisions.get("must", [])),
            cannot_link=frozenset(frozenset(pair) for pair in decisions.get("cannot", [])),
        )
        result = link_records(self.patients(ctx), options)
        bodies = _full_bodies(result, persons, current) if full else _incremental_bodies(result, persons, current)  # fmt: skip
        written = self._write_persons(ctx, bodies)
        self._save_run(ctx, result)
        return RunSummary(result.stats, written, result.parameters)

    def _write_persons(self, ctx: AccessContext, bodies: list[dict[str, Any]]) -> int:
        written = 0
        for start in range(0, len(bodies), WRITE_BATCH):
            with self.records.begin(ctx, "mpi-link") as rs:
                for outcome in rs.upsert_many(bodies[start : start + WRITE_BATCH]):
                    if isinstance(outcome, Exception):
                        raise outcome
                    written += outcome.changed
        return written

    def _save_run(self, ctx: AccessContext, result: LinkResult) -> None:
        with self.records.begin(ctx, "mpi-link") as rs:
            model = {"parameters": result.parameters.to_json(), "stats": result.stats}
            self._put(rs, MODEL_JOB, model)
            queue = self._get(rs, REVIEW_JOB)
            decided = [item for item in queue.get("items", []) if item["state"] != "pending"]
            pending = [
                {"id": uuid.uuid4().hex[:12], "a": pair.a, "b": pair.b,
                 "probability": round(pair.probability, 6), "levels": list(pair.levels),
                 "state": "pending"}
                for pair in result.review
            ]  # fmt: skip
            self._put(rs, REVIEW_JOB, {"items": decided + pending})

    def parameters(self, ctx: AccessContext) -> Parameters | None:
        model = self._job(ctx, MODEL_JOB)
        return Parameters.from_json(model["parameters"]) if model else None

    def stats(self, ctx: AccessContext) -> dict[str, Any]:
        persons = self.persons(ctx)
        active = [p for p in persons.values() if p.get("active", True)]
        queue = self._job(ctx, REVIEW_JOB).get("items", [])
        return {
            "persons": len(active),
            "linked_patients": sum(len(patient_links(p)) for p in active),
            "review_pending": sum(1 for i in queue if i["state"] == "pending"),
            "last_run": self._job(ctx, MODEL_JOB).get("stats", {}),
        }

    # -- review queue ----------------------------------------------------------------
    def review_items(self, ctx: AccessContext, state: str = "pending") -> list[dict[str, Any]]:
        items = self._job(ctx, REVIEW_JOB).get("items", [])
        return [i for i in items if state == "all" or i["state"] == state]

    def decide(self, ctx: AccessContext, item_id: str, accept: bool) -> dict[str, Any]:
        """An operator's answer: accept merges the two Patients' Persons (reversible with
        unmerge); reject records that they are two people for every later run."""
        with self.records.begin(ctx, "mpi-review") as rs:
            queue = self._get(rs, REVIEW_JOB)
            item: dict[str, Any] | None = next(
                (i for i in queue.get("items", []) if i["id"] == item_id), None
            )
            if item is None or item["state"] != "pending":
                raise NotFound([Issue("not-found", "no pending review item with this id")])
            item.update(state="accepted" if accept else "rejected", decided_by=ctx.subject)
            self._put(rs, REVIEW_JOB, queue)
            if not accept:
                self._decision(rs, "cannot", [item["a"], item["b"]], add=True)
                return item
            item["merge"] = self._merge_patients(rs, item["a"], item["b"])
            self._put(rs, REVIEW_JOB, queue)
            return item

    # -- merge and unmerge -----------------------------------------------------------
    def merge(self, ctx: AccessContext, survivor: str, merged: str) -> str:
        """Person ``merged`` joins Person ``survivor``: its links move over and it becomes an
        inactive Person pointing at the survivor.  Returns the merge id for unmerge."""
        if survivor == merged:
            raise InvalidRequest([Issue("invalid", "a Person cannot be merged into itself")])
        with self.records.begin(ctx, "mpi-merge") as rs:
            return self._merge(rs, survivor, merged)

    def move(self, ctx: AccessContext, patient: str, to_person: str) -> str:
        """Move one Patient's link to another Person; returns the merge id for unmerge."""
        with self.records.begin(ctx, "mpi-merge") as rs:
            target = load_json(rs.read("Person", to_person).content)
            holders = self._holders(rs, patient)
            journal = {pid: version for pid, (version, _) in holders.items()}
            journal[to_person] = int(target["meta"]["versionId"])
            for pid, (_, body) in holders.items():
                links = patient_links(body)
                links.pop(patient, None)
                rs.update("Person", pid, with_links(body, links))
            links = patient_links(target) | {patient: LEVEL_PROBABLE}
            rs.update("Person", to_person, with_links(target, links))
            return self._journal(rs, "move", journal, must=None)

    def unmerge(self, ctx: AccessContext, merge_id: str) -> None:
        """Every Person the merge touched gets back the content it had before (as a new
        version: history keeps the merge and the unmerge)."""
        with self.records.begin(ctx, "mpi-unmerge") as rs:
            entry = self._get(rs, MERGE_PREFIX + merge_id)
            if not entry or entry.get("state") != "applied":
                raise NotFound([Issue("not-found", "no applied merge with this id")])
            for pid, version in entry["before"].items():
                if version == 0:
                    rs.delete("Person", pid)
                else:
                    before = load_json(rs.vread("Person", pid, version).content)
                    rs.update("Person", pid, _plain(before))
            if entry.get("must"):
                self._decision(rs, "must", entry["must"], add=False)
            entry["state"] = "undone"
            self._put(rs, MERGE_PREFIX + merge_id, entry)

    def _merge(self, rs: RecordSession, survivor: str, merged: str) -> str:
        keep = load_json(rs.read("Person", survivor).content)
        gone = load_json(rs.read("Person", merged).content)
        journal = {survivor: int(keep["meta"]["versionId"]), merged: int(gone["meta"]["versionId"])}  # fmt: skip
        kept_links, gone_links = patient_links(keep), patient_links(gone)
        rs.update("Person", survivor, with_links(keep, gone_links | kept_links))
        replaced = {"target": {"reference": f"Person/{survivor}"}, "assurance": LEVEL_PROBABLE}
        rs.update("Person", merged, {**_plain(gone), "active": False, "link": [replaced]})
        must = [next(iter(kept_links)), next(iter(gone_links))] if kept_links and gone_links else None  # fmt: skip
        if must:
            self._decision(rs, "must", must, add=True)
        return self._journal(rs, "merge", journal, must)

    def _merge_patients(self, rs: RecordSession, a: str, b: str) -> str | None:
        holders_a, holders_b = self._holders(rs, a), self._holders(rs, b)
        if not holders_a or not holders_b:  # a Patient without a Person yet: give it one
            return None
        person_a, person_b = next(iter(holders_a)), next(iter(holders_b))
        return None if person_a == person_b else self._merge(rs, person_a, person_b)

    def _holders(self, rs: RecordSession, patient: str) -> dict[str, tuple[int, dict[str, Any]]]:
        from khealth.fhir.search_parse import parse_search

        query = parse_search("Person", [("link", f"Patient/{patient}"), ("_count", "10")])
        found = {}
        for match in rs.search(query).page.matches:
            body = load_json(match.content)
            found[match.id] = (match.version, body)
        return found

    def _journal(self, rs: RecordSession, kind: str, before: dict[str, int], must: list[str] | None) -> str:  # fmt: skip
        merge_id = uuid.uuid4().hex[:16]
        entry = {"kind": kind, "before": before, "must": must, "state": "applied", "by": rs.ctx.subject}  # fmt: skip
        self._put(rs, MERGE_PREFIX + merge_id, entry)
        return merge_id

    # -- job rows --------------------------------------------------------------------
    def _decision(self, rs: RecordSession, kind: str, pair: list[str], add: bool) -> None:
        decisions = self._get(rs, DECISIONS_JOB)
        pairs = [p for p in decisions.get(kind, []) if sorted(p) != sorted(pair)]
        decisions[kind] = [*pairs, pair] if add else pairs
        self._put(rs, DECISIONS_JOB, decisions)

    def _job(self, ctx: AccessContext, job_id: str) -> dict[str, Any]:
        with self.records.begin(ctx, "mpi-read") as rs:
            found = self._get(rs, job_id)
        return found

    @staticmethod
    def _get(rs: RecordSession, job_id: str) -> dict[str, Any]:
        job = rs.get_job(job_id)
        detail: dict[str, Any] = orjson.loads(job.detail) if job is not None else {}
        return detail

    @staticmethod
    def _put(rs: RecordSession, job_id: str, detail: dict[str, Any]) -> None:
        now = rs.clock.now_us()
        existing = rs.get_job(job_id)
        created = existing.created if existing else now
        kind = job_id.split(":", 1)[0]
        rs.put_job(JobState(job_id, kind, "done", created, now, orjson.dumps(detail)))


def _plain(body: dict[str, Any]) -> dict[str, Any]:
    """A stored resource without the server's meta (what an update sends)."""
    return {k: v for k, v in body.items() if k != "meta"}


def _full_bodies(
    result: LinkResult, persons: dict[str, dict[str, Any]], current: dict[str, str]
) -> list[dict[str, Any]]:
    assigned = assign_full(result.clusters, current)
    bodies = [
        person_resource(pid, {p: result.assurance[p] for p in patients})
        for pid, patients in assigned.items()
    ]
    bodies += [person_resource(pid, {}, active=False) for pid in persons if pid not in assigned and persons[pid].get("active", True)]  # fmt: skip
    return bodies


def _incremental_bodies(
    result: LinkResult, persons: dict[str, dict[str, Any]], current: dict[str, str]
) -> list[dict[str, Any]]:
    bodies = []
    for pid, added in assign_incremental(result.clusters, current).items():
        links = patient_links(persons[pid]) if pid in persons else {}
        links |= {p: result.assurance[p] for p in added}
        bodies.append(person_resource(pid, links))
    return bodies


__all__ = ["SERVICE_CONTEXT", "PatientIndex", "RunSummary", "new_person_id"]
