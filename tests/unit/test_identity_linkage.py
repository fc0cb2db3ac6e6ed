"""Fellegi–Sunter linkage, blocking, clustering guards and pairwise evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from khealth.identity.blocking import block_key, blocked_pairs, candidate_pairs, pairs_within
from khealth.identity.cluster import Clusters
from khealth.identity.compare import compare
from khealth.identity.evaluate import pairwise
from khealth.identity.fellegi_sunter import distinct_rows
from khealth.identity.jamo import jamo_similarity, similarities
from khealth.identity.linkage import LinkOptions, link_records
from khealth.identity.model import DEFAULT_PARAMETERS, PatientRecord
from khealth.identity.table import RecordTable

pytestmark = pytest.mark.unit


def rec(
    pid: str,
    token: str | None = None,
    name: str = "김민준",
    birth: str = "1980-03-04",
    phone: str | None = "01001234567",
    district: str = "북구",
    road: str = "용봉로",
    sex: str = "male",
) -> PatientRecord:
    return PatientRecord(pid, token, name, name[0], birth, sex, phone, district, road)


def test_pairs_within_a_block_are_every_pair_once() -> None:
    a, b = pairs_within(np.array([5, 7, 5, -1, 5, 7]))
    assert sorted(zip(a.tolist(), b.tolist())) == [(0, 2), (0, 4), (1, 5), (2, 4)]


def test_unknown_values_never_block_together() -> None:
    key = block_key((np.array([1, -1, -1]), np.array([2, 2, 2])))
    assert key.tolist()[1:] == [-1, -1]


def test_birth_dates_with_day_and_month_swapped_compare_as_swapped() -> None:
    t = RecordTable(
        [
            rec("a", birth="1980-03-04"),
            rec("b", birth="1980-04-03"),
            rec("c", birth="1990-03-04"),
            rec("d", birth="1980-03-05"),
        ]
    )
    levels = compare(t, np.array([0, 0, 0]), np.array([1, 2, 3]))
    assert levels[:, 1].tolist() == [2, 1, 1]  # swapped, year slip, a day apart


def test_the_same_token_is_the_same_person_whatever_the_demographics() -> None:
    result = link_records(
        [rec("a", "t1", name="김민준"), rec("b", "t1", name="이서연", birth="2001-01-01")],
        LinkOptions(),
    )
    assert result.clusters == [["a", "b"]]
    assert result.assurance == {"a": "level4", "b": "level4"}


def test_a_record_without_a_token_joins_the_person_it_matches() -> None:
    people = [
        rec(
            f"p{i}",
            f"t{i}",
            name=n,
            birth=f"19{50 + i}-0{1 + i % 9}-1{i % 9}",
            phone=f"0100000{i:04d}",
        )
        for i, n in enumerate(
            ["김민준", "이서연", "박지훈", "최수아", "정도윤", "강하은", "조서준", "윤지우"]
        )
    ]
    copies = [
        rec(f"q{i}", f"t{i}", name=p.name or "", birth=p.birth_date or "", phone=p.phone)
        for i, p in enumerate(people)
    ]
    stranger = rec("x", None, name="박지훈", birth="1952-03-12", phone="01000000002")  # as p2
    result = link_records([*people, *copies, stranger], LinkOptions())
    cluster = next(c for c in result.clusters if "x" in c)
    assert sorted(cluster) == ["p2", "q2", "x"]
    assert result.assurance["x"] == "level3"


def test_two_tokens_are_never_joined_through_a_record_without_one() -> None:
    clusters = Clusters(np.array([0, 1, -1]))
    assert clusters.join(2, 0)
    assert not clusters.join(2, 1)
    labels = clusters.labels()
    assert labels[0] == labels[2] != labels[1]


def test_a_cluster_does_not_grow_past_the_chaining_guard() -> None:
    clusters = Clusters(np.full(4, -1), max_size=3)
    assert clusters.join(0, 1) and clusters.join(1, 2)
    assert not clusters.join(2, 3)


def test_pairwise_precision_and_recall_count_pairs() -> None:
    truth = {"a": "1", "b": "1", "c": "1", "d": "2"}
    score = pairwise({"a": "P", "b": "P", "c": "Q", "d": "Q"}, truth)
    assert (score.true_pairs, score.predicted_pairs, score.correct_pairs) == (3, 2, 1)
    assert score.precision == 0.5 and score.recall == pytest.approx(1 / 3)


def test_pairs_within_blocks_of_every_size_are_every_pair_once() -> None:
    rng = np.random.default_rng(2)
    for _ in range(200):
        key = rng.integers(-1, int(rng.integers(1, 20)), size=int(rng.integers(0, 60)))
        largest = int(rng.integers(1, 8))
        sizes = {k: int((key == k).sum()) for k in set(key.tolist())}
        expected = sorted(
            (i, j) for i in range(len(key)) for j in range(i + 1, len(key))
            if key[i] == key[j] >= 0 and sizes[int(key[i])] <= largest
        )  # fmt: skip
        a, b = pairs_within(key, largest)
        assert sorted(zip(a.tolist(), b.tolist(), strict=True)) == expected


def a_crowd(n: int = 400) -> RecordTable:
    rng = np.random.default_rng(3)
    names = ["김민준", "이서연", "박지훈", "최수아", "정도윤"]
    return RecordTable([
        rec(f"p{i:04d}", None if i % 7 == 0 else f"t{i % 150}", name=names[i % 5],
            birth=f"19{50 + int(rng.integers(0, 3))}-0{1 + i % 3}-1{i % 4}",
            phone=f"0100000{int(rng.integers(0, 90)):04d}")
        for i in range(n)
    ])  # fmt: skip


def test_blocked_pairs_score_every_pair_with_an_open_record_and_sample_the_rest() -> None:
    table = a_crowd()
    every = set(zip(*(x.tolist() for x in candidate_pairs(table)), strict=True))
    open_rows = table.token < 0
    found = blocked_pairs(table, open_rows, sample_size=500, seed=1)
    scored = set(zip(*(x.tolist() for x in found.scored), strict=True))
    assert scored == {(a, b) for a, b in every if open_rows[a] or open_rows[b]}
    sample = list(zip(*(x.tolist() for x in found.sample), strict=True))
    assert len(sample) == len(set(sample)) == 500 and set(sample) <= every
    assert blocked_pairs(table, open_rows, sample_size=10**9, seed=1).sample[0].size == len(every)


def test_names_compared_together_score_as_one_by_one() -> None:
    names = [
        "김민준",
        "김민존",
        "김민주",
        "이서연",
        "이 서연",
        "",
        "Kim",
        "독고윤슬",
        "김",
        "박지훈",
    ]
    a = [x for x in names for _ in names]
    b = [y for _ in names for y in names]
    assert similarities(a, b).tolist() == [jamo_similarity(x, y) for x, y in zip(a, b, strict=True)]


def test_distinct_rows_are_those_of_numpy_unique() -> None:
    rows = np.random.default_rng(4).integers(-1, 4, size=(5000, 6)).astype(np.int8)
    patterns, counts = distinct_rows(rows)
    expected_patterns, expected_counts = np.unique(rows, axis=0, return_counts=True)
    assert np.array_equal(patterns, expected_patterns) and np.array_equal(counts, expected_counts)


def test_rows_of_finds_ids_in_any_order_and_marks_the_absent() -> None:
    from khealth.identity.assignment import rows_of

    assert rows_of(["b", "a", "c10", "c2"], ["c2", "x", "a", "b"]).tolist() == [3, -1, 1, 0]


def test_a_full_run_gives_a_person_wanted_by_two_clusters_to_the_larger() -> None:
    """Person P0 links a, b, c and P1 links d; the run makes {a, b, d} and {c}: both want
    P0 first, {a, b, d} keeps it, {c} gets a new Person, and P1, whose only Patient went
    to {a, b, d}, is deactivated."""
    from khealth.identity.assignment import plan_full
    from khealth.identity.columns import PersonColumns
    from khealth.identity.linkage import LinkResult

    result = LinkResult(["a", "b", "c", "d"], np.array([0, 0, 2, 0]), np.full(4, 3, np.int8), [], DEFAULT_PARAMETERS)  # fmt: skip
    persons = PersonColumns(
        ["P0", "P1"], np.array([True, True]), np.array([True, True]),
        np.array([0, 0, 0, 1], np.int32), ["a", "b", "c", "d"], np.full(4, 3, np.int8),
    )  # fmt: skip
    plan = plan_full(result, persons)
    assert [plan.person_ids[j] for j in plan.person_of_row.tolist()][:2] == ["P0", "P0"]
    assert plan.person_of_row[2] >= 2 and plan.deactivate.tolist()[:2] == [False, True]
    assert plan.write.tolist() == [True, True, True]
