import datetime as dt

import pytest

from khealth.synth import SynthConfig
from khealth.synth.emergencies import incidents

pytestmark = pytest.mark.unit


def test_a_full_city_has_about_135_ems_incidents_a_day_in_time_order():
    config = SynthConfig(citizens=0, seed=3, emergency_days=3)
    stream = list(incidents(config, population=1_420_000))
    per_day = len(stream) / 3
    assert 100 < per_day < 175  # 9.5 per 100,000 a day
    times = [dt.datetime.fromisoformat(i["time"]) for i in stream]
    assert times == sorted(times)
    assert all(t.date() < config.today for t in times)
    conditions = {i["true_condition"] for i in stream}
    assert {"stemi", "stroke_lvo", "major_trauma", "cardiac_arrest", "sepsis"} <= conditions


def test_cardiac_arrests_are_pre_ktas_level_one_with_no_pulse():
    stream = incidents(SynthConfig(citizens=0, seed=4, emergency_days=2), population=1_420_000)
    arrests = [i for i in stream if i["true_condition"] == "cardiac_arrest"]
    assert arrests
    assert all(i["pre_ktas"] == 1 and i["vitals"]["heart_rate"] == 0 for i in arrests)


def test_ed_capacity_does_not_depend_on_the_hash_seed_of_the_process() -> None:
    import subprocess
    import sys

    code = (
        "import hashlib, orjson; from khealth.synth import City, SynthConfig, emergencies; "
        "c = SynthConfig(citizens=10, seed=1, emergency_days=1); "
        "print(hashlib.sha1(b''.join(orjson.dumps(x) "
        "for x in emergencies.capacity(c, City(c).index))).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": seed, "PATH": ""},
            capture_output=True,
            check=True,
            text=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(digests) == 1
