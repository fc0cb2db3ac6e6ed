"""A small synthetic city shared by the synth tests (written once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from khealth.synth import SynthConfig, write_city

SMALL_CITY = SynthConfig(citizens=400, seed=7, dicom_max_studies=12, emergency_days=2)


@pytest.fixture(scope="session")
def small_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    write_city(SMALL_CITY, out, progress=False)
    return out
