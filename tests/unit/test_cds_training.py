"""Trained risk models (khealth.cds.training): determinism, de-identification of the table, the
metric functions against hand computations, the registry round trip and the additivity of the
explanations. One small synthetic city (1,500 citizens) is generated once per module."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from khealth.cds.training import metrics
from khealth.cds.training.dataset import FEATURES, DataConfig, PersonTable, build_table, write_csv
from khealth.cds.training.evaluation import subgroups
from khealth.cds.training.explain import explain_boosted, explain_logistic
from khealth.cds.training.models import logit_of, probability
from khealth.cds.training.pipeline import TrainConfig, TrainingResult, train_outcome
from khealth.cds.training.registry import RegistryError, load, register, version_for
from khealth.synth.citizens import CitizenFactory

KEY = "test-project-key"
CONFIG = TrainConfig(DataConfig(citizens=1500, seed=7), bootstrap_resamples=50)


@pytest.fixture(scope="module")
def table() -> PersonTable:
    return build_table(CONFIG.data, KEY)


@pytest.fixture(scope="module")
def diabetes(table: PersonTable) -> TrainingResult:
    return train_outcome(table, "diabetes", CONFIG)


# --- determinism -------------------------------------------------------------------------------


SMALL = DataConfig(citizens=200, seed=3)


@pytest.fixture(scope="module")
def small() -> PersonTable:
    return build_table(SMALL, KEY)


def test_the_same_seed_builds_the_same_table(small: PersonTable) -> None:
    again = build_table(SMALL, KEY)
    assert again.content_hash() == small.content_hash()
    assert again.pseudonyms == small.pseudonyms


def test_a_different_seed_builds_a_different_table(small: PersonTable) -> None:
    other = build_table(DataConfig(citizens=200, seed=4), KEY)
    assert other.content_hash() != small.content_hash()


def test_the_same_seed_gives_the_same_metrics_and_version(
    table: PersonTable, diabetes: TrainingResult
) -> None:
    again = train_outcome(table, "diabetes", CONFIG)
    assert again.metrics == diabetes.metrics
    assert version_for(again) == version_for(diabetes)


def test_the_data_hash_does_not_depend_on_the_pseudonym_key(small: PersonTable) -> None:
    other = build_table(SMALL, "another-key")
    assert other.content_hash() == small.content_hash()
    assert set(other.pseudonyms).isdisjoint(small.pseudonyms)


# --- de-identification -------------------------------------------------------------------------

RRN_SHAPE = re.compile(r"\d{6}-?\d{7}")
DATE_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{4}\.\d{2}\.\d{2}|\d{8}|\d{6}")


def test_the_table_holds_no_direct_identifiers(table: PersonTable, tmp_path: Path) -> None:
    path = tmp_path / "table.csv"
    write_csv(table, path)
    text = path.read_text(encoding="utf-8")
    header = text.splitlines()[0].split(",")
    assert not {"name", "birth_date", "rrn", "ci", "mobile", "address", "mrn"} & set(header)
    cells = set(re.split(r"[,\n]", text))
    # whole cells, since long decimals contain every digit run
    assert not [c for c in cells if RRN_SHAPE.fullmatch(c)]
    assert not [c for c in cells if DATE_SHAPE.fullmatch(c)], "no exact dates (birth or event)"
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text)
    citizens = list(CitizenFactory(CONFIG.data.synth()).citizens())
    for citizen in citizens:
        assert citizen.name not in cells
        assert citizen.id not in cells
        assert citizen.rrn not in text
        assert citizen.mobile not in text


def test_pseudonyms_are_keyed_not_plain_hashes_of_the_person(table: PersonTable) -> None:
    assert all(re.fullmatch(r"p[0-9a-f]{20}", p) for p in table.pseudonyms)
    assert len(set(table.pseudonyms)) == len(table.pseudonyms)


def test_ages_are_whole_years_pooled_at_ninety(table: PersonTable) -> None:
    age = table.column("age")
    assert np.all(age == np.round(age))
    assert age.min() >= 20
    assert age.max() <= 90


# --- metrics against hand computations ---------------------------------------------------------


def test_auroc_on_a_tiny_table() -> None:
    # pairs (event, non-event): (0.35 > 0.1) yes, (0.35 > 0.4) no, (0.8 > both) yes, yes -> 3/4
    y = np.array([0.0, 0.0, 1.0, 1.0])
    assert metrics.auroc(y, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)


def test_auroc_counts_a_tie_as_one_half() -> None:
    y = np.array([0.0, 1.0, 0.0, 1.0])
    # event 0.5 vs non-events 0.5 (tie, 1/2) and 0.2 (win); event 0.9 wins both -> 3.5/4
    assert metrics.auroc(y, np.array([0.5, 0.5, 0.2, 0.9])) == pytest.approx(0.875)


def test_auroc_is_undefined_with_one_class() -> None:
    assert math.isnan(metrics.auroc(np.zeros(5), np.arange(5.0)))


def test_auprc_on_a_tiny_table() -> None:
    # ranked 0.8(1) 0.4(0) 0.35(1) 0.1(0): recall 0.5 at precision 1, recall 1 at precision 2/3
    y = np.array([0.0, 0.0, 1.0, 1.0])
    expected = 0.5 * 1.0 + 0.5 * (2 / 3)
    assert metrics.auprc(y, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(expected)


def test_auroc_and_auprc_agree_with_scikit_learn_on_tied_scores() -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(5)
    score = rng.integers(0, 20, 2000).astype(float)  # many ties
    y = (rng.random(2000) < 0.2).astype(float)
    assert metrics.auroc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert metrics.auprc(y, score) == pytest.approx(average_precision_score(y, score), abs=1e-12)


def test_brier_score_on_a_tiny_table() -> None:
    y = np.array([0.0, 1.0])
    assert metrics.brier(y, np.array([0.2, 0.6])) == pytest.approx((0.04 + 0.16) / 2)


def test_perfectly_calibrated_predictions_have_slope_one_and_intercept_zero() -> None:
    rng = np.random.default_rng(11)
    p = rng.uniform(0.02, 0.6, 200_000)
    y = (rng.random(len(p)) < p).astype(float)
    calibration = metrics.calibration(y, p)
    assert calibration.slope == pytest.approx(1.0, abs=0.03)
    assert calibration.intercept == pytest.approx(0.0, abs=0.02)


def test_overconfident_predictions_have_a_slope_below_one() -> None:
    rng = np.random.default_rng(12)
    p = rng.uniform(0.02, 0.6, 200_000)
    y = (rng.random(len(p)) < p).astype(float)
    doubled = 1 / (1 + np.exp(-2 * metrics.logit(p)))  # log-odds twice too extreme
    assert metrics.calibration(y, doubled).slope == pytest.approx(0.5, abs=0.03)


def test_a_subgroup_with_fewer_than_thirty_events_says_n_too_small(
    table: PersonTable,
) -> None:
    y = np.zeros(len(table.values))
    y[:5] = 1
    rows = subgroups(table, y, {"boosted": np.linspace(0, 1, len(y))}, min_events=30)
    assert {row["auroc_boosted"] for row in rows} == {"n too small"}


# --- training output ---------------------------------------------------------------------------


def test_training_reports_every_section(diabetes: TrainingResult) -> None:
    m = diabetes.metrics
    assert m["cohort"]["events"] > 10
    for name in ("boosted", "logistic"):
        assert 0.0 <= m["held_out"][name]["auroc"] <= 1.0
        assert len(m["held_out"][name]["calibration_table"]) == 10
    assert [c["baseline"] for c in m["comparisons"]] == ["FINDRISC"]
    assert {row["by"] for row in m["subgroups"]} == {"sex", "age band", "district"}
    assert "hba1c" in m["features_unused"]  # emptied by the cohort rule


# --- registry ----------------------------------------------------------------------------------


def test_a_registered_model_loads_and_predicts_the_same(
    table: PersonTable, diabetes: TrainingResult, tmp_path: Path
) -> None:
    version = register(diabetes, tmp_path)
    assert version == version_for(diabetes)
    loaded = load(tmp_path, "diabetes")
    assert loaded.version == version
    assert loaded.features == diabetes.features
    x = table.matrix(loaded.features)
    for name, model in diabetes.models.items():
        assert np.array_equal(probability(loaded.models[name], x), probability(model, x))
    assert loaded.metrics == diabetes.metrics


def test_registering_twice_gives_one_version(diabetes: TrainingResult, tmp_path: Path) -> None:
    assert register(diabetes, tmp_path) == register(diabetes, tmp_path)
    assert len(list((tmp_path / "diabetes").iterdir())) == 1


def test_a_tampered_model_file_is_refused(diabetes: TrainingResult, tmp_path: Path) -> None:
    version = register(diabetes, tmp_path)
    path = tmp_path / "diabetes" / version / "boosted.joblib"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(RegistryError):
        load(tmp_path, "diabetes")


# --- explanations ------------------------------------------------------------------------------


def test_logistic_contributions_sum_to_the_logit_minus_the_intercept(
    table: PersonTable, diabetes: TrainingResult
) -> None:
    model = diabetes.models["logistic"]
    x = table.matrix(diabetes.features)
    explained = explain_logistic(model, x, diabetes.features)
    intercept = float(model.named_steps["logistic"].intercept_[0])
    assert explained.bias == intercept
    np.testing.assert_allclose(explained.contributions.sum(axis=1), logit_of(model, x) - intercept)


def test_boosted_contributions_sum_to_the_logit_minus_the_bias(
    table: PersonTable, diabetes: TrainingResult
) -> None:
    model = diabetes.models["boosted"]
    x = table.matrix(diabetes.features)
    explained = explain_boosted(model, x, diabetes.features)
    np.testing.assert_allclose(
        explained.bias + explained.contributions.sum(axis=1), logit_of(model, x), atol=1e-9
    )


def test_an_explanation_names_the_features_that_moved_the_risk(
    table: PersonTable, diabetes: TrainingResult
) -> None:
    x = table.matrix(diabetes.features)
    explained = explain_logistic(diabetes.models["logistic"], x, diabetes.features)
    top = explained.for_person(0, top=3)
    assert len(top) == 3
    assert all(name.removesuffix(" missing") in FEATURES for name, _ in top)
    assert abs(top[0][1]) >= abs(top[1][1]) >= abs(top[2][1])
