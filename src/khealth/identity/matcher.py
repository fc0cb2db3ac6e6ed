"""Online matching for a new registration (FHIR Patient/$match), from memory.

The index holds every Patient's comparison fields, the Person each Patient belongs to, and
the parameters of the last batch run, in two parts:

* a **base** read once through the record service in bulk (:meth:`PatientIndex.read`): the
  Patients as columns of codes (:mod:`columns`), and for each blocking rule of the batch
  (:mod:`blocking`) the rows sorted by their key, so a lookup is a binary search; a city's
  1.4 million Patients cost ~0.5 GB here instead of several GB of objects and sets;
* a **delta** of the Patients and Persons written since, asked for at most every
  ``refresh_seconds`` (``export_stream(since=…)``), in dictionaries; a Patient in the
  delta hides its base row.  The base is rebuilt when the delta outgrows it
  (``REBUILD_SHARE``).

A query looks up its keys in both, compares itself with the few candidates in NumPy, and
scores them with the batch model, so a match costs about a millisecond.
"""

from __future__ import annotations

import bisect
import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from khealth.access.context import AccessContext
from khealth.identity.assignment import current_links
from khealth.identity.blocking import RULES, block_key
from khealth.identity.columns import PatientColumns, PersonColumns
from khealth.identity.compare import compare
from khealth.identity.features import FIELDS, patient_record
from khealth.identity.fellegi_sunter import match_probability
from khealth.identity.jamo import initial_consonant
from khealth.identity.model import DEFAULT_PARAMETERS, Parameters, PatientRecord
from khealth.identity.persons import patient_links
from khealth.identity.service import PatientIndex
from khealth.identity.table import Codes, RecordTable
from khealth.records.service import ExportScope, load_json

MAX_CANDIDATES = 500
REBUILD_SHARE = 0.05  # rebuild the base when the delta holds this share of it (and ≥ 50k)
_MARGIN_US = 5_000_000  # re-read what was written while the base was being read


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


class _Sorted:
    """Rows by one blocking key, sorted, with the radices that built the key."""

    def __init__(self, columns: tuple[Codes, ...]) -> None:
        self.radices = [int(c.max(initial=0)) + 1 for c in columns]
        key = block_key(columns)
        rows = np.flatnonzero(key >= 0)
        order = np.argsort(key[rows], kind="stable")
        self.keys, self.rows = key[rows][order], rows[order].astype(np.int32)

    def lookup(self, values: tuple[int, ...]) -> np.ndarray:
        key = 0
        for value, radix in zip(values, self.radices, strict=True):
            if not 0 <= value < radix:  # a value no row has
                return self.rows[:0]
            key = key * radix + value
        low, high = np.searchsorted(self.keys, [key, key + 1])
        return self.rows[low:high]


class _Base:
    """The bulk-read part of the index (see the module docstring)."""

    def __init__(self, patients: PatientColumns, persons: PersonColumns) -> None:
        self.columns = patients
        table = RecordTable.from_columns(patients)
        self.rules = [_Sorted(rule(table)) for _, rule in RULES]
        self.tokens = _Sorted((table.token,))
        self.lookup = {f: {v: i for i, v in enumerate(patients.values[f])} for f in ("token", "name", "phone")}  # fmt: skip
        self.initial_code = {v: i for i, v in enumerate(table.initials)}
        self.name_counts = np.bincount(table.name[table.name >= 0], minlength=len(table.names))
        self.person_of_row = current_links(persons, patients.ids)[0].astype(np.int32)
        self.person_ids = persons.ids

    def __len__(self) -> int:
        return len(self.columns)

    def row(self, patient_id: str) -> int | None:
        ids = self.columns.ids  # sorted (columns.merge_patients)
        at = bisect.bisect_left(ids, patient_id)
        return at if at < len(ids) and ids[at] == patient_id else None

    def candidates(self, r: PatientRecord) -> np.ndarray:
        found = []
        if r.token and (code := self.lookup["token"].get(r.token)) is not None:
            found.append(self.tokens.lookup((code,)))
        name = self.lookup["name"].get(r.name, -1) if r.name else -1
        initial = self.initial_code.get(initial_consonant(r.surname), -1) if r.surname else -1
        phone = self.lookup["phone"].get(r.phone, -1) if r.phone else -1
        year, month, day, ordinal = _birth(r.birth_date)
        md = min(month, day) * 32 + max(month, day) if month >= 0 else -1
        for rule, values in zip(self.rules, ((ordinal, initial), (name, year), (name, month, day), (phone,), (year, md, initial)), strict=True):  # fmt: skip
            found.append(rule.lookup(values))
        return np.unique(np.concatenate(found)) if found else np.empty(0, np.int32)

    def record(self, row: int) -> PatientRecord:
        c = self.columns
        values = [c.values[f][code] if (code := int(c.codes[f][row])) >= 0 else None for f in FIELDS]  # fmt: skip
        return PatientRecord(c.ids[row], *values)

    def person(self, row: int) -> str | None:
        j = int(self.person_of_row[row])
        return self.person_ids[j] if j >= 0 else None


def _birth(value: str | None) -> tuple[int, int, int, int]:
    try:
        day = dt.date.fromisoformat(value or "")
    except ValueError:
        return -1, -1, -1, -1
    return day.year, day.month, day.day, day.toordinal()


class OnlineIndex:
    def __init__(self, index: PatientIndex, ctx: AccessContext, refresh_seconds: float = 2.0) -> None:  # fmt: skip
        self.index, self.ctx, self.refresh_seconds = index, ctx, refresh_seconds
        self.base: _Base | None = None
        self.records: dict[str, PatientRecord] = {}  # the delta
        self.keys: dict[tuple[str, ...], set[str]] = {}
        self.person_of: dict[str, str] = {}
        self.names: Counter[str] = Counter()
        self.hidden: set[int] = set()  # base rows a delta Patient replaces
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
            if self.base is None or len(self.records) > max(50_000, REBUILD_SHARE * len(self.base)):  # fmt: skip
                self._rebuild()
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
            self._since = newest + 1 if newest else self._since

    def _rebuild(self) -> None:
        started = self.index.records.clock.now_us()
        self.base = _Base(*self.index.read(self.ctx))
        self.records, self.keys, self.person_of = {}, {}, {}
        self.names, self.hidden = Counter(), set()
        self._since = started - _MARGIN_US

    def _add(self, record: PatientRecord) -> None:
        old = self.records.get(record.patient_id)
        if old is not None:
            for key in blocking_keys(old):
                self.keys.get(key, set()).discard(old.patient_id)
            if old.name:
                self.names[old.name] -= 1
        elif self.base is not None and (row := self.base.row(record.patient_id)) is not None:
            self.hidden.add(row)
        self.records[record.patient_id] = record
        for key in blocking_keys(record):
            self.keys.setdefault(key, set()).add(record.patient_id)
        if record.name:
            self.names[record.name] += 1

    def match(self, query: PatientRecord, count: int = 10) -> list[Match]:
        self.refresh()
        base = self.base
        candidates: set[str] = set()
        for key in blocking_keys(query):
            candidates |= self.keys.get(key, set())
        from_base: dict[str, int] = {}
        if base is not None:
            for row in base.candidates(query).tolist():
                if row not in self.hidden:
                    from_base[base.columns.ids[row]] = row
        candidates |= from_base.keys()
        candidates.discard(query.patient_id)
        chosen = [self.records.get(c) or base.record(from_base[c]) for c in sorted(candidates)[:MAX_CANDIDATES]]  # type: ignore[union-attr]  # fmt: skip
        if query.token:  # two resident numbers are two people
            chosen = [c for c in chosen if c.token is None or c.token == query.token]
        if not chosen:
            return []
        matches = self._score(query, chosen, from_base)
        matches.sort(key=lambda m: (-m.probability, m.patient_id))
        return matches[:count]

    def _name_count(self, name: str) -> int:
        base = self.base
        code = base.lookup["name"].get(name) if base is not None else None
        in_base = int(base.name_counts[code]) if base is not None and code is not None else 0
        return in_base + self.names[name]

    def _person(self, patient_id: str, from_base: dict[str, int]) -> str | None:
        found = self.person_of.get(patient_id)
        if found is None and self.base is not None and patient_id in from_base:
            return self.base.person(from_base[patient_id])
        return found

    def _score(self, query: PatientRecord, chosen: list[PatientRecord], from_base: dict[str, int]) -> list[Match]:  # fmt: skip
        table = RecordTable([query, *chosen])
        others = np.arange(1, len(chosen) + 1)
        levels = compare(table, np.zeros(len(chosen), np.int64), others)
        total = max(len(self.records) + (len(self.base) if self.base is not None else 0), 1)
        share = self._name_count(query.name) / total if query.name else 0.0
        frequency = np.full(len(chosen), share)
        probability = match_probability(levels, self.parameters, frequency)
        found = []
        for record, p in zip(chosen, probability, strict=True):
            certain_token = query.token is not None and record.token == query.token
            score = 1.0 if certain_token else float(p)
            if score < 0.01:
                continue
            grade = "certain" if certain_token or score >= self.parameters.upper else (
                "probable" if score >= self.parameters.lower else "possible")  # fmt: skip
            person = self._person(record.patient_id, from_base)
            found.append(Match(record.patient_id, person, score, grade))
        return found
