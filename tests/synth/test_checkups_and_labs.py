"""Checkup values by age and sex, and laboratory values within plausible ranges."""

from statistics import mean

import pytest

from tests.synth.helpers import read_csv, resources

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def checkups(small_city):
    return read_csv(small_city / "checkups.csv")


def _mean(rows, column):
    values = [float(r[column]) for r in rows if r[column]]
    return mean(values)


def test_checkup_values_differ_by_sex_as_in_knhanes(checkups):
    men = [r for r in checkups if r["sex"] == "1"]
    women = [r for r in checkups if r["sex"] == "2"]
    young_men = [r for r in men if int(r["age"]) < 40]
    young_women = [r for r in women if int(r["age"]) < 40]
    assert 170 < _mean(young_men, "height_cm") < 177
    assert 157 < _mean(young_women, "height_cm") < 164
    assert 14.5 < _mean(men, "hemoglobin") < 15.8
    assert 12.5 < _mean(women, "hemoglobin") < 13.8
    assert 23.0 < _mean(men, "bmi") < 26.0
    assert 21.5 < _mean(women, "bmi") < 25.0
    assert _mean(men, "sbp") > _mean(women, "sbp")
    assert _mean(men, "ggt") > _mean(women, "ggt")


def test_blood_pressure_and_glucose_rise_with_age(checkups):
    young = [r for r in checkups if int(r["age"]) < 40]
    old = [r for r in checkups if int(r["age"]) >= 60]
    assert _mean(old, "sbp") - _mean(young, "sbp") > 10
    assert _mean(old, "fasting_glucose") > _mean(young, "fasting_glucose")
    assert _mean(old, "egfr") < _mean(young, "egfr") - 10


def test_lipids_are_measured_only_for_eligible_ages_and_sexes(checkups):
    for row in checkups:
        if row["total_cholesterol"]:
            assert int(row["age"]) >= (40 if row["sex"] == "2" else 24)


def test_verdicts_use_the_national_categories(checkups):
    verdicts = {r["verdict"] for r in checkups}
    assert verdicts <= {"정상A", "정상B", "일반 질환의심", "고혈압·당뇨병 질환의심", "유질환자"}
    assert {"정상B", "유질환자"} <= verdicts


PLAUSIBLE = {
    "8480-6": (70, 230),
    "8462-4": (40, 140),
    "1558-6": (55, 450),
    "4548-4": (4.0, 14.0),
    "2093-3": (90, 400),
    "2085-9": (20, 120),
    "2571-8": (30, 900),
    "13457-7": (20, 300),
    "718-7": (6.5, 19.5),
    "1920-8": (5, 400),
    "1742-6": (3, 400),
    "2324-2": (3, 800),
    "2160-0": (0.3, 6.0),
    "98979-8": (5, 160),
    "8302-2": (40, 200),
    "29463-7": (2, 180),
    "39156-5": (12, 50),
    "8310-5": (35.0, 41.5),
    "8867-4": (35, 190),
    "59408-5": (80, 100),
}


def test_laboratory_and_vital_values_stay_within_plausible_ranges(small_city):
    seen = set()
    for resource in resources(small_city):
        if resource["resourceType"] != "Observation":
            continue
        for part in [resource, *resource.get("component", [])]:
            code = part["code"]["coding"][0]["code"]
            if code in PLAUSIBLE and "valueQuantity" in part:
                low, high = PLAUSIBLE[code]
                assert low <= part["valueQuantity"]["value"] <= high, (code, part["valueQuantity"])
                seen.add(code)
    assert {"8480-6", "1558-6", "718-7", "2160-0", "98979-8", "2093-3"} <= seen


def test_hba1c_at_diabetes_follow_ups_is_near_korean_treated_averages(small_city):
    # Korean treated type 2 diabetes: mean HbA1c about 7 % (KNHANES, Diabetes Fact Sheet 2022).
    values = [
        r["valueQuantity"]["value"]
        for r in resources(small_city)
        if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] == "4548-4"
    ]
    assert values
    assert 6.3 < mean(values) < 8.5
