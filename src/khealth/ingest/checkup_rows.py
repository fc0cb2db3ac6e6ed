"""One row of the national checkup CSV (국가건강검진 일반건강검진; columns in docs/synth.md),
read and checked without I/O.

A problem is reported as ``column X: problem`` and never quotes the value (it is clinical
data).  Ranges are wide plausibility bounds, not reference intervals: they catch a shifted
column or a unit mix-up, not an abnormal result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

REQUIRED_COLUMNS = (
    "year", "citizen_id", "encounter_id", "facility_id", "sex", "age", "height_cm",
    "weight_kg", "waist_cm", "bmi", "sbp", "dbp", "fasting_glucose", "total_cholesterol",
    "triglyceride", "hdl", "ldl", "hemoglobin", "urine_protein", "serum_creatinine", "egfr",
    "ast", "alt", "ggt", "smoking", "drinking", "drinks_per_week", "exercise_days", "verdict",
)  # fmt: skip
#: column → (lowest, highest, required)
NUMBERS: dict[str, tuple[float, float, bool]] = {
    "height_cm": (50, 250, True), "weight_kg": (10, 300, True), "waist_cm": (30, 250, True),
    "bmi": (5, 80, True), "sbp": (50, 300, True), "dbp": (20, 200, True),
    "fasting_glucose": (20, 1000, True), "total_cholesterol": (30, 1000, False),
    "triglyceride": (5, 5000, False), "hdl": (5, 300, False), "ldl": (0, 1000, False),
    "hemoglobin": (3, 25, True), "serum_creatinine": (0.1, 25, True), "egfr": (1, 250, True),
    "ast": (1, 10000, True), "alt": (1, 10000, True), "ggt": (1, 10000, True),
    "drinks_per_week": (0, 200, False),
}  # fmt: skip
URINE_PROTEIN = ("-", "±", "+1", "+2", "+3", "+4")
VERDICTS = ("정상A", "정상B", "일반 질환의심", "고혈압·당뇨병 질환의심", "유질환자")
SMOKING = {1: "never", 2: "former", 3: "current"}


@dataclass(frozen=True, slots=True)
class CheckupRow:
    year: int
    citizen_id: str
    encounter_id: str
    facility_id: str
    female: bool
    age: int
    values: Mapping[str, float]  # the NUMBERS columns present
    urine_protein: str
    smoking: str  # never | former | current
    drinking: bool
    exercise_days: int
    verdict: str

    @property
    def checkup_id(self) -> str:
        """Stable across runs: the subject, the year and the checkup's encounter."""
        return f"{self.citizen_id}.{self.year}.{self.encounter_id}"


class RowError(Exception):
    """Problems of one row, each ``column X: problem``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def missing_columns(header: list[str]) -> list[str]:
    return [c for c in REQUIRED_COLUMNS if c not in header]


def _integer(row: Mapping[str, str], column: str, low: int, high: int, problems: list[str]) -> int:
    text = (row.get(column) or "").strip()
    if not text:
        problems.append(f"column {column}: required value is missing")
        return 0
    try:
        value = int(text)
    except ValueError:
        problems.append(f"column {column}: not a whole number")
        return 0
    if not low <= value <= high:
        problems.append(f"column {column}: outside {low}–{high}")
    return value


def _numbers(row: Mapping[str, str], problems: list[str]) -> dict[str, float]:
    found = {}
    for column, (low, high, required) in NUMBERS.items():
        text = (row.get(column) or "").strip()
        if not text:
            if required:
                problems.append(f"column {column}: required value is missing")
            continue
        try:
            value = float(text)
        except ValueError:
            problems.append(f"column {column}: not a number")
            continue
        if not low <= value <= high:
            problems.append(f"column {column}: outside the plausible range {low:g}–{high:g}")
            continue
        found[column] = value
    return found


def _text(row: Mapping[str, str], column: str, problems: list[str], allowed: tuple[str, ...] = ()) -> str:  # fmt: skip
    value = (row.get(column) or "").strip()
    if not value:
        problems.append(f"column {column}: required value is missing")
    elif allowed and value not in allowed:
        problems.append(f"column {column}: not one of the allowed codes")
    return value


def read_row(row: Mapping[str, str]) -> CheckupRow:
    problems: list[str] = []
    year = _integer(row, "year", 1990, 2100, problems)
    ids = [_text(row, c, problems) for c in ("citizen_id", "encounter_id", "facility_id")]
    sex = _integer(row, "sex", 1, 2, problems)
    age = _integer(row, "age", 0, 130, problems)
    values = _numbers(row, problems)
    if "sbp" in values and "dbp" in values and values["dbp"] >= values["sbp"]:
        problems.append("column dbp: not below sbp")
    urine = _text(row, "urine_protein", problems, URINE_PROTEIN)
    smoking = _integer(row, "smoking", 1, 3, problems)
    drinking = _integer(row, "drinking", 0, 1, problems)
    exercise = _integer(row, "exercise_days", 0, 7, problems)
    verdict = (row.get("verdict") or "").strip()
    if verdict and verdict not in VERDICTS:
        problems.append("column verdict: not one of the 판정 categories")
    if problems:
        raise RowError(problems)
    return CheckupRow(
        year, ids[0], ids[1], ids[2], sex == 2, age, values, urine, SMOKING[smoking],
        drinking == 1, exercise, verdict,
    )  # fmt: skip
