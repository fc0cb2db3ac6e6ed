"""Pairwise precision and recall of person clusters against a ground truth.

A pair of facility Patients is a true pair when the generator made both for the same
citizen; a predicted pair when they end up under the same Person.  Pairs are counted from
cluster sizes (n·(n−1)/2 per cluster and per overlap), never enumerated, so a city of
millions costs one pass.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PairwiseScore:
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    records: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise(predicted: Mapping[str, str], truth: Mapping[str, str]) -> PairwiseScore:
    """``predicted``: patient → person; ``truth``: patient → citizen; over the patients in
    both (a Patient the linker never saw counts as its own person)."""
    patients = [p for p in truth if p in predicted] + [p for p in truth if p not in predicted]
    person = {p: predicted.get(p, "unlinked:" + p) for p in patients}
    by_truth = Counter(truth[p] for p in patients)
    by_person = Counter(person[p] for p in patients)
    both = Counter((truth[p], person[p]) for p in patients)
    return PairwiseScore(
        true_pairs=sum(_pairs(n) for n in by_truth.values()),
        predicted_pairs=sum(_pairs(n) for n in by_person.values()),
        correct_pairs=sum(_pairs(n) for n in both.values()),
        records=len(patients),
    )


def person_of(clusters: Iterable[Iterable[str]]) -> dict[str, str]:
    return {pid: f"cluster-{i}" for i, members in enumerate(clusters) for pid in members}


def read_ground_truth(path: Path) -> dict[str, str]:
    """patient_id → citizen_id from the generator's ``ground-truth.csv``."""
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["patient_id"]: row["citizen_id"] for row in csv.DictReader(handle)}
