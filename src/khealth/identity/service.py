"""The master patient index as use cases over the record service (the one door).

Patients are read and Persons written only through :class:`Records` with the caller's
AccessContext, so every run, merge and unmerge is checked and audited.  What is not a
resource — the trained parameters, the review queue, the operator's decisions and the merge
journal that makes a merge reversible — lives in the job table through the same session
(no demographics there: Patient ids, scores and comparison levels only).
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import orjson

from khealth.access.context import AccessContext, Role
from khealth.access.scopes import parse_scopes
from khealth.core.errors import InvalidRequest, Issue, NotFound
from khealth.identity.assignment import plan_full, plan_incremental
from khealth.identity.columns import (
    PatientColumns,
    PersonColumns,
    merge_patients,
    merge_persons,
    read_persons,
    read_shard,
)
from khealth.identity.linkage import LinkOptions, LinkResult, link_table
from khealth.identity.model import LEVEL_PROBABLE, Parameters
from khealth.identity.person_writes import BATCH, PreparerFactory, write_persons
from khealth.identity.persons import new_person_id, patient_links, with_links
from khealth.identity.table import RecordTable
from khealth.records.ports import JobState
from khealth.records.service import Records, RecordSession, load_json

SERVICE_CONTEXT = AccessContext(
    subject="mpi",
    role=Role.SERVICE,
    scopes=parse_scopes("system/Patient.rs system/Person.cruds"),
)
MODEL_JOB, REVIEW_JOB, DECISIONS_JOB = "mpi-model", "mpi-review", "mpi-decisions"
MERGE_PREFIX = "mpi-merge:"
WRITE_BATCH = 1000


#: opens a record service over the same store in another process (the batch reads its
#: shards in parallel); the CLI passes one, a web worker reads alone
RecordsOpener = Callable[[], AbstractContextManager[Records]]


@dataclass(frozen=True)
class RunSummary:
    stats: dict[str, float]
    persons_written: int
    parameters: Parameters


class PatientIndex:
    def __init__(
        self, records: Records, opener: RecordsOpener | None = None, workers: int = 1,
        preparer: PreparerFactory | None = None,
    ) -> None:  # fmt: skip
        """``opener`` and ``workers``: read in that many processes; ``preparer``: prepare
        new Persons in other processes (see :mod:`person_writes`)."""
        self.records = records
        self.opener = opener
        self.workers = workers if opener is not None else 1
        self.preparer = preparer

    # -- reading ---------------------------------------------------------------------
    def read(self, ctx: AccessContext) -> tuple[PatientColumns, PersonColumns]:
        """Every Patient and Person as columns, read in ``workers`` shards (this process
        reads the first; each other one is read by a process of its own)."""
        if self.workers <= 1 or self.opener is None:
            patients, persons = read_shard(self.records, ctx)
            return merge_patients([patients]), persons
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(self.workers - 1, mp_context=spawn) as pool:
            futures = [pool.submit(_read_shard_with, self.opener, ctx, (k, self.workers)) for k in range(1, self.workers)]  # fmt: skip
            parts = [read_shard(self.records, ctx, (0, self.workers))]
            parts += [f.result() for f in futures]
        return merge_patients([p for p, _ in parts]), merge_persons([q for _, q in parts])

    def persons(self, ctx: AccessContext) -> dict[str, dict[str, Any]]:
        return {v.id: load_json(v.content) for page in self.records.scan(ctx, "Person") for v in page}  # fmt: skip

    # -- batch linkage ---------------------------------------------------------------
    def link(
        self, ctx: AccessContext, full: bool = False, seed: int = 0, batch: int = BATCH
    ) -> RunSummary:
        """``khealth mpi link``: link every Patient (``full``: recompute every Person's
        links) or only Patients no Person links yet; Persons are written ``batch`` to a
        transaction."""
        started = time.perf_counter()
        patients, persons = self.read(ctx)
        read_seconds = time.perf_counter() - started
        decisions = self._job(ctx, DECISIONS_JOB)
        options = LinkOptions(
            seed=seed,
            must_link=tuple((str(x), str(y)) for x, y in decisions.get("must", [])),
            cannot_link=frozenset(frozenset(pair) for pair in decisions.get("cannot", [])),
        )
        result = link_table(RecordTable.from_columns(patients), options)
        del patients
        plan = (plan_full if full else plan_incremental)(result, persons)
        del persons
        writing = time.perf_counter()
        written = write_persons(self.records, ctx, result, plan, self.preparer, batch)
        self._save_run(ctx, result)
        result.stats |= {
            "read_seconds": round(read_seconds, 3), "persons_to_write": int(plan.write.sum()),
            "write_seconds": round(time.perf_counter() - writing, 3),
            "run_seconds": round(time.perf_counter() - started, 3),
        }  # fmt: skip
        return RunSummary(result.stats, written, result.parameters)

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
        persons = read_persons(self.records, ctx)
        queue = self._job(ctx, REVIEW_JOB).get("items", [])
        return {
            "persons": int(persons.active.sum()),
            "linked_patients": int(persons.active[persons.link_person].sum()),
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


def _read_shard_with(
    opener: RecordsOpener, ctx: AccessContext, shard: tuple[int, int]
) -> tuple[PatientColumns, PersonColumns]:
    """In a worker process: one shard through a record service of its own."""
    with opener() as records:
        return read_shard(records, ctx, shard)


__all__ = ["SERVICE_CONTEXT", "PatientIndex", "RunSummary", "new_person_id"]
