"""Patients and Persons read in bulk as columns of small integer codes.

A batch run reads every Patient (1.4 million in a city of 190,000 people).  Holding each as
an object would cost ~700 bytes and a garbage-collector walk; here each field becomes an
``int32`` code into a list of its distinct values, so a Patient costs its id and eight codes,
and a name shared by 2,000 Patients is held once.  Reading can be split into shards read by
separate processes through their own record service (:func:`read_shard`); the parent merges
the parts (:func:`merge_patients`, :func:`merge_persons`) and sorts the Patients by id, so the
result does not depend on the number of processes.

Nothing here is written anywhere, and nothing is logged: these are personal data.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from khealth.access.context import AccessContext
from khealth.identity.features import FIELDS, patient_fields
from khealth.identity.persons import PERSON_PREFIX
from khealth.records.ports import StoredVersion
from khealth.records.service import Records

Codes32 = npt.NDArray[np.int32]
#: Person.link.assurance as a code (index in this tuple); anything else is ASSURANCES[0]
ASSURANCES = ("level2", "level1", "level3", "level4")
_ASSURANCE_CODE = {a: i for i, a in enumerate(ASSURANCES)}
#: the keys a Person written by linkage holds; a Person with others was edited by a person
_PLAIN_PERSON_KEYS = frozenset(("resourceType", "id", "meta", "active", "link"))


@dataclass
class PatientColumns:
    """Row i is the Patient ``ids[i]``; ``codes[f][i]`` its value of field f as an index
    into ``values[f]`` (−1: the Patient does not say)."""

    ids: list[str]
    codes: dict[str, Codes32]
    values: dict[str, list[str]]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class PersonColumns:
    """Person ``ids[j]`` with its ``active`` flag and whether it holds only what linkage
    writes (``plain``); its links are the k with ``link_person[k] == j``, to Patient
    ``link_patient[k]`` with assurance ``ASSURANCES[link_assurance[k]]``."""

    ids: list[str]
    active: npt.NDArray[np.bool_]
    plain: npt.NDArray[np.bool_]
    link_person: Codes32
    link_patient: list[str]
    link_assurance: npt.NDArray[np.int8]

    def __len__(self) -> int:
        return len(self.ids)


class _PatientBuilder:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self.codes = [array("i") for _ in FIELDS]
        self.lookups: list[dict[str, int]] = [{} for _ in FIELDS]

    def add(self, versions: Iterable[StoredVersion]) -> None:
        ids, pairs = self.ids, list(zip(self.codes, self.lookups, strict=True))
        for v in versions:
            ids.append(v.id)
            for (codes, lookup), value in zip(pairs, patient_fields(orjson.loads(v.content)), strict=True):  # fmt: skip
                codes.append(-1 if value is None else lookup.setdefault(value, len(lookup)))

    def columns(self) -> PatientColumns:
        """The part sorted by Patient id (so that merging sorted parts is cheap)."""
        order = id_order(self.ids)
        return PatientColumns(
            [self.ids[i] for i in order.tolist()],
            {f: np.frombuffer(c, dtype=np.int32)[order] for f, c in zip(FIELDS, self.codes, strict=True)},
            {f: list(lookup) for f, lookup in zip(FIELDS, self.lookups, strict=True)},
        )  # fmt: skip


def id_order(ids: list[str]) -> npt.NDArray[np.int64]:
    """The permutation that sorts ``ids``, as fixed-width bytes in NumPy (FHIR ids are
    ASCII, and their byte order is their character order)."""
    try:
        width = max(map(len, ids), default=1)
        order: npt.NDArray[np.int64] = np.argsort(np.array(ids, dtype=f"S{width}"), kind="stable")
    except UnicodeEncodeError:  # not an id a validated resource can have: the slow way
        order = np.array(sorted(range(len(ids)), key=ids.__getitem__), dtype=np.int64)
    return order


class _PersonBuilder:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self.active, self.plain = array("b"), array("b")
        self.link_person, self.link_assurance = array("i"), array("b")
        self.link_patient: list[str] = []

    def add(self, versions: Iterable[StoredVersion]) -> None:
        for v in versions:
            body: dict[str, Any] = orjson.loads(v.content)
            row = len(self.ids)
            self.ids.append(v.id)
            self.active.append(body.get("active", True) is not False)
            # exactly what persons.person_resource writes: a run may then skip it
            plain = _PLAIN_PERSON_KEYS.issuperset(body) and isinstance(body.get("active"), bool)
            previous = ""
            for link in body.get("link") or ():
                reference = (link.get("target") or {}).get("reference", "") if isinstance(link, dict) else ""  # fmt: skip
                if isinstance(reference, str) and reference.startswith(PERSON_PREFIX):
                    patient = reference.removeprefix(PERSON_PREFIX)
                    assurance = _ASSURANCE_CODE.get(str(link.get("assurance")))
                    self.link_patient.append(patient)
                    self.link_person.append(row)
                    self.link_assurance.append(0 if assurance is None else assurance)
                    plain = (plain and assurance is not None and patient > previous and len(link) == 2
                             and link["target"] == {"reference": reference})  # fmt: skip
                    previous = patient
                else:  # a link to another Person (a merge) or to something else
                    plain = False
            self.plain.append(plain and body.get("link") != [])

    def columns(self) -> PersonColumns:
        return PersonColumns(
            self.ids,
            np.frombuffer(self.active, dtype=np.int8).astype(bool),
            np.frombuffer(self.plain, dtype=np.int8).astype(bool),
            np.frombuffer(self.link_person, dtype=np.int32),
            self.link_patient,
            np.frombuffer(self.link_assurance, dtype=np.int8),
        )


def read_shard(
    records: Records, ctx: AccessContext, shard: tuple[int, int] = (0, 1)
) -> tuple[PatientColumns, PersonColumns]:
    """Every Patient and Person of one shard, through the record service (access policy,
    consent and audit apply as to any bulk read)."""
    patients = _PatientBuilder()
    for page in records.scan(ctx, "Patient", shard=shard):
        patients.add(page)
    return patients.columns(), read_persons(records, ctx, shard)


def read_persons(
    records: Records, ctx: AccessContext, shard: tuple[int, int] = (0, 1)
) -> PersonColumns:
    persons = _PersonBuilder()
    for page in records.scan(ctx, "Person", shard=shard):
        persons.add(page)
    return persons.columns()


def merge_patients(parts: Sequence[PatientColumns]) -> PatientColumns:
    """One table from the shards' parts, rows sorted by Patient id, values re-coded."""
    ids = [pid for part in parts for pid in part.ids]
    # each part comes sorted: Python's sort merges the runs in one pass
    order = np.array(sorted(range(len(ids)), key=ids.__getitem__), dtype=np.int64)
    codes: dict[str, Codes32] = {}
    values: dict[str, list[str]] = {}
    for field in FIELDS:
        lookup: dict[str, int] = {}
        recoded = []
        for part in parts:
            mapping = np.fromiter((lookup.setdefault(v, len(lookup)) for v in part.values[field]), dtype=np.int32, count=len(part.values[field]))  # fmt: skip
            mapping = np.append(mapping, np.int32(-1))  # code −1 maps to −1
            recoded.append(mapping[part.codes[field]])
        joined = np.concatenate(recoded) if recoded else np.empty(0, np.int32)
        codes[field] = joined[order]
        values[field] = list(lookup)
    return PatientColumns([ids[i] for i in order.tolist()], codes, values)


def merge_persons(parts: Sequence[PersonColumns]) -> PersonColumns:
    """One table from the shards' parts (Persons in shard order)."""
    if len(parts) == 1:
        return parts[0]
    offsets = np.cumsum([0, *(len(p) for p in parts)])[:-1]
    return PersonColumns(
        [pid for part in parts for pid in part.ids],
        np.concatenate([p.active for p in parts]),
        np.concatenate([p.plain for p in parts]),
        np.concatenate([p.link_person + o for p, o in zip(parts, offsets, strict=True)]).astype(np.int32),
        [pid for part in parts for pid in part.link_patient],
        np.concatenate([p.link_assurance for p in parts]),
    )  # fmt: skip
