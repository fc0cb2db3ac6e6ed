"""Identity noise: the rates measured against the ground truth match the settings."""

from collections import Counter

import pytest

from khealth.synth import NoiseRates, SynthConfig, write_city
from tests.synth.helpers import read_csv, resources

pytestmark = pytest.mark.integration

RATES = NoiseRates(
    name_typo=0.2,
    birth_date_error=0.15,
    address_changed=0.25,
    phone_changed=0.2,
    rrn_missing=0.1,
    duplicate_registration=0.1,
)


@pytest.fixture(scope="module")
def noisy_city(tmp_path_factory):
    out = tmp_path_factory.mktemp("noisy")
    write_city(
        SynthConfig(citizens=150, seed=5, noise=RATES, dicom_max_studies=0, emergency_days=0),
        out,
        progress=False,
    )
    return out


def test_measured_noise_rates_match_the_settings(noisy_city):
    truth = read_csv(noisy_city / "ground-truth.csv")
    primary = [row for row in truth if not row["duplicate_of"]]
    counts = Counter(kind for row in truth for kind in row["noise"].split(";") if kind)
    n = len(truth)
    assert n > 800
    for kind in (
        "name_typo",
        "birth_date_error",
        "address_changed",
        "phone_changed",
        "rrn_missing",
    ):
        assert abs(counts[kind] / n - getattr(RATES, kind)) < 0.05, kind
    duplicates = sum(bool(row["duplicate_of"]) for row in truth)
    assert abs(duplicates / len(primary) - RATES.duplicate_registration) < 0.04


def test_the_recorded_noise_is_really_in_the_patient_resources(noisy_city):
    citizens = {row["citizen_id"]: row for row in read_csv(noisy_city / "citizens.csv")}
    truth = {row["patient_id"]: row for row in read_csv(noisy_city / "ground-truth.csv")}
    for patient in (r for r in resources(noisy_city) if r["resourceType"] == "Patient"):
        row = truth[patient["id"]]
        kinds = set(row["noise"].split(";"))
        citizen = citizens[row["citizen_id"]]
        assert (patient["name"][0]["text"] != citizen["name"]) == ("name_typo" in kinds)
        assert (patient["birthDate"] != citizen["birth_date"]) == ("birth_date_error" in kinds)
        has_rrn = any(i["system"].endswith("kr-rrn") for i in patient["identifier"])
        assert has_rrn == ("rrn_missing" not in kinds)
        if "phone_changed" not in kinds:
            assert patient["telecom"][0]["value"] == citizen["mobile"]
        if row["duplicate_of"]:
            assert truth[row["duplicate_of"]]["facility_id"] == row["facility_id"]


def test_noise_rates_outside_zero_and_one_are_refused():
    with pytest.raises(ValueError, match="name_typo"):
        NoiseRates(name_typo=1.5)
