"""The de-identified person-level table, built by streaming a synthetic city generated in-process.

One row per person alive and at least 20 years old at the index date with at least one national
checkup before it. Features come from the record before the index date; outcomes from the
horizon after it (see outcomes.py for the cohorts and labels).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from khealth.cds.training import definitions as d
from khealth.cds.training.deid import Pseudonymiser, age_at
from khealth.cds.training.extract import PersonFacts, Window, read_person
from khealth.cds.training.outcomes import OUTCOMES, cohort_columns
from khealth.synth import City, SynthConfig

Matrix = npt.NDArray[np.float64]
MIN_AGE = 20

DISTRICT_FEATURES = tuple(f"district_{suffix}" for suffix in d.DISTRICTS.values())
MEASUREMENTS = (
    "bmi", "waist", "sbp", "dbp", "glucose", "hba1c", "total_cholesterol", "hdl", "ldl",
    "triglyceride", "hemoglobin", "ast", "alt", "ggt", "creatinine", "egfr", "urine_protein",
    "smoking_current", "smoking_former", "drinks_per_day", "exercise_days", "glucose_max",
    "sbp_max",
)  # fmt: skip
FEATURES: tuple[str, ...] = (
    "age",
    "female",
    *DISTRICT_FEATURES,
    *MEASUREMENTS,
    *d.DIAGNOSIS_GROUPS,
    *d.DRUG_CLASSES,
    "encounters_2y",
    "days_since_checkup",
)
RECORD_COLUMNS = (
    "checkups_before_index", "prevalent_diabetes", "prevalent_cvd", "prevalent_ckd3",
    "diabetes_event_day", "cvd_event_day", "ckd3_event_day", "followup_egfr_min",
    "died_in_followup", "followup_days",
)  # fmt: skip
COLUMNS: tuple[str, ...] = (*FEATURES, *RECORD_COLUMNS, *cohort_columns())


@dataclass(frozen=True)
class DataConfig:
    citizens: int
    seed: int
    index_years_before_today: int = 5
    horizon_years: int = 5

    def synth(self) -> SynthConfig:
        return SynthConfig(citizens=self.citizens, seed=self.seed)

    def window(self) -> Window:
        today = self.synth().today
        index = _years_before(today, self.index_years_before_today)
        return Window(index, _years_before(index, -self.horizon_years))


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


@dataclass(frozen=True)
class PersonTable:
    """Numeric columns in `values` (NaN = unknown); the two text columns beside them."""

    columns: tuple[str, ...]
    values: Matrix
    pseudonyms: tuple[str, ...]
    districts: tuple[str, ...]

    def column(self, name: str) -> Matrix:
        return self.values[:, self.columns.index(name)]

    def matrix(self, names: tuple[str, ...]) -> Matrix:
        return self.values[:, [self.columns.index(n) for n in names]]

    def rows(self, mask: npt.NDArray[np.bool_]) -> PersonTable:
        chosen = np.flatnonzero(mask)
        return PersonTable(
            self.columns,
            self.values[chosen],
            tuple(self.pseudonyms[i] for i in chosen),
            tuple(self.districts[i] for i in chosen),
        )

    def content_hash(self) -> str:
        """SHA-256 of the columns, districts and values; pseudonyms are left out so that the
        hash (and the model versions built on it) does not depend on the project key."""
        digest = hashlib.sha256()
        digest.update("\x1f".join(self.columns).encode())
        digest.update("\x1f".join(self.districts).encode())
        digest.update(np.ascontiguousarray(self.values).tobytes())
        return digest.hexdigest()


def _persons(config: DataConfig, progress: bool) -> Iterator[PersonFacts]:
    window = config.window()
    stream = City(config.synth()).citizens()
    bar = tqdm(stream, total=config.citizens, unit="citizen", disable=not progress, file=sys.stderr)
    for records in bar:
        facts = read_person(records.citizen.id, records.output.resources, window)
        if facts is not None:
            yield facts


def _row(facts: PersonFacts, window: Window) -> list[float] | None:
    age = age_at(facts.birth_date, window.index)
    alive = facts.death_date is None or facts.death_date > window.index
    if age < MIN_AGE or not alive or facts.values.get("checkups_before_index", 0) < 1:
        return None
    values = dict(facts.values)
    values["age"] = float(age)
    values["female"] = 1.0 if facts.female else 0.0
    for name, suffix in d.DISTRICTS.items():
        values[f"district_{suffix}"] = 1.0 if facts.district == name else 0.0
    horizon = (window.end - window.index).days
    died = facts.death_date is not None and facts.death_date <= window.end
    values["died_in_followup"] = 1.0 if died else 0.0
    values["followup_days"] = float(
        (facts.death_date - window.index).days if died and facts.death_date else horizon
    )
    for outcome in OUTCOMES.values():
        eligible, label = outcome.cohort(values)
        values[outcome.eligible_column] = 1.0 if eligible else 0.0
        values[outcome.label_column] = (1.0 if label else 0.0) if eligible else math.nan
    return [values.get(name, math.nan) for name in COLUMNS]


def build_table(config: DataConfig, key: str, *, progress: bool = False) -> PersonTable:
    """Generate the city, read every person, keep the cohort, de-identify. Memory holds one
    citizen's resources at a time plus the table."""
    window, pseudonym = config.window(), Pseudonymiser(key)
    rows: list[list[float]] = []
    pseudonyms: list[str] = []
    districts: list[str] = []
    for facts in _persons(config, progress):
        row = _row(facts, window)
        if row is not None:
            rows.append(row)
            pseudonyms.append(pseudonym(facts.person_key))
            districts.append(d.DISTRICTS.get(facts.district, "unknown"))
    values = np.array(rows, dtype=np.float64).reshape(len(rows), len(COLUMNS))
    return PersonTable(COLUMNS, values, tuple(pseudonyms), tuple(districts))


def write_csv(table: PersonTable, path: Path) -> None:
    """The table as UTF-8 CSV, unknown values empty, numbers in shortest round-trip form."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("pseudonym", "district", *table.columns))
        for pseudonym, district, row in zip(
            table.pseudonyms, table.districts, table.values.tolist(), strict=True
        ):
            writer.writerow((pseudonym, district, *("" if math.isnan(v) else repr(v) for v in row)))
