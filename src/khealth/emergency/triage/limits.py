"""Plausibility limits of the assessment's numeric fields (inclusive), and the check.

These are limits of plausibility, not of normality: the rules grade abnormal values, and a
value outside these limits is a typing error the crew must correct. The HTTP layer declares the
same limits in its schema (so the OpenAPI shows them) by importing this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from khealth.emergency.model import Assessment
from khealth.emergency.triage.errors import AssessmentError

# field: (minimum, maximum, unit)
LIMITS: Mapping[str, tuple[float, float, str]] = {
    "age": (0, 130, "years"),
    "respiratory_rate": (0, 100, "breaths/min"),
    "spo2": (0, 100, "%"),
    "systolic_bp": (0, 300, "mmHg"),
    "diastolic_bp": (0, 250, "mmHg"),
    "heart_rate": (0, 300, "beats/min"),
    "temperature": (25, 45, "°C"),
    "gcs": (3, 15, "points"),
    "gcs_motor": (1, 6, "points"),
    "pain": (0, 10, "NRS points"),
    "glucose": (10, 2000, "mg/dL"),
    "lams": (0, 5, "points"),
    "race_scale": (0, 9, "points"),
    "gestation_weeks": (0, 45, "weeks"),
    "burns_tbsa": (0, 100, "% TBSA"),
    "fall_height_m": (0, 1000, "m"),
}
# A crew's tablet clock may run a little ahead of the server's.
CLOCK_SKEW = timedelta(minutes=5)
TIMES = ("onset", "first_contact")


def check(assessment: Assessment, now: datetime) -> None:
    """Raise :class:`AssessmentError` naming the first field out of range."""
    for name, (low, high, unit) in LIMITS.items():
        value = getattr(assessment, name)
        if value is not None and not low <= value <= high:
            raise AssessmentError.for_field(
                name, f"{name} must be between {low:g} and {high:g} {unit}"
            )
    for name in TIMES:
        value = getattr(assessment, name)
        if value is None:
            continue
        if value.tzinfo is None:
            raise AssessmentError.for_field(name, f"{name} must carry a timezone offset")
        if value > now + CLOCK_SKEW:
            raise AssessmentError.for_field(name, f"{name} must not be in the future")
