"""Which Person each cluster of a linkage run becomes, and which Persons must be written.

The rules are those of :func:`khealth.identity.persons.assign_full` and
:func:`~khealth.identity.persons.assign_incremental` (kept there as the plain statement and
for small runs), computed here over arrays, because a city has 190,000 Persons: ids stay
stable from run to run, and a Person whose links would not change is not written at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from khealth.identity.columns import ASSURANCES, PersonColumns
from khealth.identity.linkage import LinkResult
from khealth.identity.persons import new_person_id

Ints = npt.NDArray[np.int64]


@dataclass
class PersonPlan:
    """The Persons to write: ``person_ids[j]`` gets the Patients ``rows_of(j)`` (a full
    run: exactly those; an incremental run: added to the links it has) or, for the
    ``deactivate`` ones, no links and ``active: false``."""

    person_ids: list[str]
    existing: npt.NDArray[np.bool_]  # the Person exists (else: a new id)
    write: npt.NDArray[np.bool_]  # to be written
    deactivate: npt.NDArray[np.bool_]
    person_of_row: Ints  # the Person (index) each row goes to, −1: stays where it is
    incremental: bool

    def rows_by_person(self) -> Iterator[tuple[int, Ints]]:
        """(person index, its rows in row order) for every Person to write, in index order."""
        rows = np.flatnonzero(self.person_of_row >= 0)
        persons = self.person_of_row[rows]
        keep = self.write[persons]
        rows, persons = rows[keep], persons[keep]
        order = np.argsort(persons, kind="stable")
        rows, persons = rows[order], persons[order]
        targets = np.flatnonzero(self.write)
        starts = np.searchsorted(persons, targets, "left")
        ends = np.searchsorted(persons, targets, "right")
        for j, start, end in zip(targets.tolist(), starts.tolist(), ends.tolist(), strict=True):
            yield j, rows[start:end]


def current_links(persons: PersonColumns, ids: list[str]) -> tuple[Ints, Ints, Ints]:
    """Per row of the run (Patient ``ids[row]``), the active Person that links it now (−1:
    none; the last one when several do) and that link's assurance code; and per link, its
    row (−1: a Patient this run did not see)."""
    link_row = rows_of(ids, persons.link_patient)
    n = len(ids)
    person_of_row = np.full(n, -1, np.int64)
    assurance_of_row = np.full(n, -1, np.int64)
    live = (link_row >= 0) & persons.active[persons.link_person]
    person_of_row[link_row[live]] = persons.link_person[live]
    assurance_of_row[link_row[live]] = persons.link_assurance[live]
    return person_of_row, assurance_of_row, link_row


def rows_of(ids: list[str], wanted: list[str]) -> Ints:
    """The index of each of ``wanted`` in ``ids`` (−1: absent), as a binary search over
    fixed-width bytes (FHIR ids are ASCII): no dictionary of 1.4 million strings."""
    if not ids or not wanted:
        return np.full(len(wanted), -1, np.int64)
    width = max(max(map(len, ids)), max(map(len, wanted)))
    try:
        table = np.array(ids, dtype=f"S{width}")
        keys = np.array(wanted, dtype=f"S{width}")
    except UnicodeEncodeError:  # not an id a validated resource can have: the slow way
        lookup = dict(zip(ids, range(len(ids)), strict=True))
        return np.fromiter((lookup.get(w, -1) for w in wanted), np.int64, len(wanted))
    order = np.argsort(table, kind="stable")
    ordered = table[order]
    at = np.minimum(np.searchsorted(ordered, keys), len(ids) - 1)
    rows: Ints = np.where(ordered[at] == keys, order[at], -1)
    return rows


def plan_full(result: LinkResult, persons: PersonColumns) -> PersonPlan:
    """Each cluster takes the Person most of its members link to now (each Person once,
    larger clusters first; ties to the Person met first in row order), else a new one;
    Persons left without a cluster are deactivated."""
    current, current_assurance, link_row = current_links(persons, result.ids)
    cluster, sizes = _clusters(result.labels)
    chosen = _choose(cluster, sizes, current, len(persons))
    ids, existing = _with_new_ids(persons, chosen)
    person_of_row = chosen[cluster]
    write = np.zeros(len(ids), dtype=bool)
    write[len(persons) :] = True
    write[: len(persons)] |= ~(persons.plain & persons.active)
    # a change of any link, in either direction, rewrites both Persons involved
    moved = (person_of_row != current) | (result.assurance_codes != current_assurance)
    write[person_of_row[moved]] = True
    write[current[moved & (current >= 0)]] = True
    # links to Patients this run did not see, and repeated links, go away
    write[persons.link_person[link_row < 0]] = True
    links_per_person = np.bincount(persons.link_person, minlength=len(ids))
    write[: len(persons)] |= links_per_person[: len(persons)] != np.bincount(person_of_row, minlength=len(ids))[: len(persons)]  # fmt: skip
    assigned = np.zeros(len(ids), dtype=bool)
    assigned[person_of_row] = True
    deactivate = existing & ~assigned & np.r_[persons.active, np.zeros(len(ids) - len(persons), bool)]  # fmt: skip
    write = (write & assigned) | deactivate
    return PersonPlan(ids, existing, write, deactivate, person_of_row, incremental=False)


def plan_incremental(result: LinkResult, persons: PersonColumns) -> PersonPlan:
    """Linked Patients stay where they are; an unlinked one joins the Person most of its
    cluster links to (ties: met first in row order), or a new Person with the rest of its
    unlinked cluster."""
    current, _, _ = current_links(persons, result.ids)
    cluster, _ = _clusters(result.labels)
    votes = _votes(cluster, current)
    best = np.full(int(cluster.max(initial=-1)) + 1, -1, np.int64)
    if len(votes[0]):
        first_of_cluster = np.r_[True, votes[0][1:] != votes[0][:-1]]
        best[votes[0][first_of_cluster]] = votes[1][first_of_cluster]
    unlinked = current < 0
    needs = np.unique(cluster[unlinked])
    new = needs[best[needs] < 0]
    best[new] = len(persons) + np.arange(len(new))
    ids, existing = _with_new_ids(persons, best)
    person_of_row = np.where(unlinked, best[cluster], -1)
    write = np.zeros(len(ids), dtype=bool)
    write[person_of_row[unlinked]] = True
    deactivate = np.zeros(len(ids), dtype=bool)
    return PersonPlan(ids, existing, write, deactivate, person_of_row, incremental=True)


def assurance_of(result: LinkResult, rows: Ints) -> dict[str, str]:
    return {result.ids[r]: ASSURANCES[c] for r, c in zip(rows.tolist(), result.assurance_codes[rows].tolist(), strict=True)}  # fmt: skip


def _clusters(labels: Ints) -> tuple[Ints, Ints]:
    """Cluster index per row (clusters numbered by their label) and rows per cluster."""
    _, cluster, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    return cluster.astype(np.int64), sizes.astype(np.int64)


def _votes(cluster: Ints, current: Ints) -> tuple[Ints, Ints, Ints]:
    """(cluster, Person, count) for every Person that members of a cluster link to, by
    cluster, then most votes, then the Person's first member in row order."""
    rows = np.flatnonzero(current >= 0)
    if not len(rows):
        empty = np.empty(0, np.int64)
        return empty, empty, empty
    radix = int(current.max()) + 1
    code = cluster[rows] * radix + current[rows]
    unique, first, counts = np.unique(code, return_index=True, return_counts=True)
    by = np.lexsort((rows[first], -counts, unique // radix))
    return (unique // radix)[by], (unique % radix)[by], counts[by]


def _choose(cluster: Ints, sizes: Ints, current: Ints, existing: int) -> Ints:
    """The Person of each cluster for a full run; new Persons numbered from ``existing``.
    When no two clusters want the same Person first (a rerun over stable data) that is
    the answer; otherwise clusters take their choices one by one, larger first."""
    voted_cluster, voted_person, _ = _votes(cluster, current)
    chosen = np.full(len(sizes), -1, np.int64)
    first = np.r_[True, voted_cluster[1:] != voted_cluster[:-1]] if len(voted_cluster) else np.empty(0, bool)  # fmt: skip
    top = voted_person[first]
    if len(np.unique(top)) == len(top):
        chosen[voted_cluster[first]] = top
    else:
        by_cluster: dict[int, list[int]] = {}
        for c, p in zip(voted_cluster.tolist(), voted_person.tolist(), strict=True):
            by_cluster.setdefault(c, []).append(p)
        used: set[int] = set()
        for c in np.argsort(-sizes, kind="stable").tolist():
            for p in by_cluster.get(c, ()):
                if p not in used:
                    used.add(p)
                    chosen[c] = p
                    break
    new = np.flatnonzero(chosen < 0)
    chosen[new] = existing + np.arange(len(new))
    return chosen


def _with_new_ids(persons: PersonColumns, chosen: Ints) -> tuple[list[str], npt.NDArray[np.bool_]]:
    new = int(chosen.max(initial=len(persons) - 1)) + 1 - len(persons)
    ids = persons.ids + [new_person_id() for _ in range(max(new, 0))]
    existing = np.arange(len(ids)) < len(persons)
    return ids, existing
