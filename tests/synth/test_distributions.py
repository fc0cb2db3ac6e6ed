"""Distributions of a few-thousand-citizen city against the published tables they come from.

Tolerances are about four standard errors of a proportion at the sample size used, so the tests
are stable for any seed yet catch a wrong table or a broken sampler.
"""

import math
from collections import Counter

import pytest

from khealth.synth import SynthConfig
from khealth.synth.citizens import AGE_PYRAMID, CitizenFactory
from khealth.synth.conditions import CHRONIC_BY_KEY, prevalence
from khealth.synth.geography import DISTRICTS
from khealth.synth.names import SURNAME_PERCENT

pytestmark = pytest.mark.unit

CONFIG = SynthConfig(citizens=5000, seed=23)


@pytest.fixture(scope="module")
def citizens():
    return list(CitizenFactory(CONFIG).citizens())


def _tolerance(p: float, n: int) -> float:
    return 4 * math.sqrt(max(p * (1 - p), 0.01) / n) + 0.005


def test_district_shares_match_the_resident_registration_population(citizens):
    # Households, not people, pick a district, so allow for clustering (× 1.6).
    counts = Counter(c.address.district.code for c in citizens)
    for district in DISTRICTS:
        share = counts[district.code] / len(citizens)
        p = district.population_share
        assert abs(share - p) < 1.6 * _tolerance(p, len(citizens)), district.name


def test_the_age_pyramid_matches_gwangju_by_ten_year_band(citizens):
    total = sum(p for _, p, _ in AGE_PYRAMID)
    expected: Counter[int] = Counter()
    for lower, percent, _ in AGE_PYRAMID:
        expected[min(lower // 10, 8)] += percent / total
    observed = Counter(min(c.age_on(CONFIG.today) // 10, 8) for c in citizens)
    for band, p in expected.items():
        assert abs(observed[band] / len(citizens) - p) < _tolerance(p, len(citizens)), band


def test_the_sex_ratio_is_about_49_percent_male(citizens):
    male = sum(not c.female for c in citizens) / len(citizens)
    assert abs(male - 0.493) < _tolerance(0.493, len(citizens))


def test_surnames_follow_census_frequencies(citizens):
    counts = Counter(c.surname for c in citizens)
    for surname in ("김", "이", "박", "최", "정"):
        p = SURNAME_PERCENT[surname] / sum(SURNAME_PERCENT.values())
        # Household members often share a surname: clustering, × 1.6.
        assert abs(counts[surname] / len(citizens) - p) < 1.6 * _tolerance(p, len(citizens))


@pytest.mark.parametrize("key", ["hypertension", "diabetes", "dyslipidaemia"])
@pytest.mark.parametrize("band", [(30, 50), (50, 60), (60, 70), (70, 120)])
def test_chronic_prevalence_by_age_band_matches_the_table(citizens, key, band):
    condition = CHRONIC_BY_KEY[key]
    low, high = band
    group = [c for c in citizens if low <= c.age_on(c.death_date or CONFIG.today) < high]
    expected = sum(
        prevalence(condition, c.age_on(c.death_date or CONFIG.today), female=c.female)
        for c in group
    ) / len(group)
    observed = sum(any(d.condition.key == key for d in c.diagnoses) for c in group) / len(group)
    assert abs(observed - expected) < _tolerance(expected, len(group))


def test_hypertension_and_diabetes_are_as_common_as_knhanes_reports_in_the_elderly(citizens):
    elderly = [c for c in citizens if c.age_on(CONFIG.today) >= 70]
    hypertension = sum(c.has("hypertension", CONFIG.today) for c in elderly) / len(elderly)
    diabetes = sum(c.has("diabetes", CONFIG.today) for c in elderly) / len(elderly)
    assert 0.55 < hypertension < 0.76
    assert 0.20 < diabetes < 0.38


def test_about_one_in_twenty_citizens_dies_within_the_ten_years(citizens):
    deaths = sum(c.death_date is not None for c in citizens) / len(citizens)
    assert 0.03 < deaths < 0.09
    assert all(
        CONFIG.history_start <= c.death_date < CONFIG.today for c in citizens if c.death_date
    )
