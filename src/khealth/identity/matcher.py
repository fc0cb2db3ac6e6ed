"""Online matching for a new registration (FHIR Patient/$match), from memory.

The index holds every Patient's comparison fields under the same blocking keys as the batch
run, the Person each Patient belongs to, and the parameters of the last batch run.  It is
built once through the record service and then kept current by asking for Patients and
Persons changed since its last look (``_since``), at most every ``refresh_seconds``.  A
query looks up its keys, compares itself with the few candidates in NumPy, and scores
them with the batch model, so a match costs about a millisecond.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from khealth.access.context import AccessContext
from khealth.identity.compare import compare
from khealth.identity.features import patient_record
from khealth.identity.fellegi_sunter import match_probability
from khealth.identity.jamo import initial_consonant
from khealth.identity.model import DEFAULT_PARAMETERS, Parameters, PatientRecord
from khealth.identity.persons import patient_links
from khealth.identity.service import PatientIndex
from khealth.identity.table import RecordTable
from khealth.records.service import ExportScope, load_json

MAX_CANDIDATES = 500


@dataclass(frozen=True, slots=True)
class Match:
    patient_id: str
    person_id: str | None
    probability: float
    grade: str  # certain | probable | possible (FHIR match-grade)


def blocking_keys(r: PatientRecord) -> Iterator[tuple[str, ...]]:
    """The batch blocking rules as dictionary keys (see :mod:`blocking`)."""
    initial = initial_consonant(r.surname) if r.surname else None
    year, month, day = (r.birth_date or "--").split("-")[:3] if r.birth_date else (None, None, None)
    if r.token:
        yield ("token", r.token)
    if r.birth_date and initial:
        yield ("birth", r.birth_date, initial)
    if r.name and year:
        yield ("name-year", r.name, year)
        yield ("name-md", r.name, f"{month}-{day}")
    if r.phone:
        yield ("phone", r.phone)
    if year and initial and month and day:
        yield ("year-md", year, "-".join(sorted((month, day))), initial)


class OnlineIndex:
    def __init__(self, index: PatientIndex, ctx: AccessContext, refresh_seconds: float = 2.0) -> None:  # fmt: skip
        self.index, self.ctx, self.refresh_seconds = index, ctx, refresh_seconds
        self.records: dict[str, PatientRecord] = {}
        self.keys: dict[tuple[str, ...], set[str]] = {}
        self.person_of: dict[str, str] = {}
        self.names: Counter[str] = Counter()
        self.parameters: Parameters = DEFAULT_PARAMETERS
        self._since: int | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def refresh(self, force: bool = False) -> None:
        """Take in Patients and Persons written since the last look (all, the first time)."""
        with self._lock:
            if not force and time.monotonic() - self._checked < self.refresh_seconds:
                return
            self._checked = time.monotonic()
            scope = ExportScope("system", since=self._since)
            newest = self._since or 0
            for v in self.index.records.export_stream(self.ctx, "Patient", scope):
                newest = max(newest, v.last_updated)
                if not v.deleted:
                    self._add(patient_record(load_json(v.content)))
            for v in self.index.records.export_stream(self.ctx, "Person", scope):
                newest = max(newest, v.last_updated)
                body = load_json(v.content) if not v.deleted else {}
                if body.get("active", True):
                    self.person_of.update(dict.fromkeys(patient_links(body), v.id))
            self.parameters = self.index.parameters(self.ctx) or DEFAULT_PARAMETERS
            self._since = newest + 1 if newest else None

    def _add(self, record: PatientRecord) -> None:
        old = self.records.get(record.patient_id)
        if old is not None:
            for key in blocking_keys(old):
                self.keys.get(key, set()).discard(old.patient_id)
            if old.name:
                self.names[old.name] -= 1
        self.records[record.patient_id] = record
        for key in blocking_keys(record):
            self.keys.setdefault(key, set()).add(record.patient_id)
        if record.name:
            self.names[record.name] += 1

    def match(self, query: PatientRecord, count: int = 10) -> list[Match]:
        self.refresh()
        candidates: set[str] = set()
        for key in blocking_keys(query):
            candidates |= self.keys.get(key, set())
        candidates.discard(query.patient_id)
        chosen = [self.records[c] for c in sorted(candidates)[:MAX_CANDIDATES]]
        if query.token:  # two resident numbers are two people
            chosen = [c for c in chosen if c.token is None or c.token == query.token]
        if not chosen:
            return []
        matches = self._score(query, chosen)
        matches.sort(key=lambda m: (-m.probability, m.patient_id))
        return matches[:count]

    def _score(self, query: PatientRecord, chosen: list[PatientRecord]) -> list[Match]:
        table = RecordTable([query, *chosen])
        others = np.arange(1, len(chosen) + 1)
        levels = compare(table, np.zeros(len(chosen), np.int64), others)
        total = max(len(self.records), 1)
        frequency = np.array([self.names[query.name] / total if query.name else 0.0] * len(chosen))
        probability = match_probability(levels, self.parameters, frequency)
        found = []
        for record, p in zip(chosen, probability, strict=True):
            certain_token = query.token is not None and record.token == query.token
            score = 1.0 if certain_token else float(p)
            if score < 0.01:
                continue
            grade = "certain" if certain_token or score >= self.parameters.upper else (
                "probable" if score >= self.parameters.lower else "possible")  # fmt: skip
            found.append(
                Match(record.patient_id, self.person_of.get(record.patient_id), score, grade)
            )
        return found
