"""What the rules read: the assessment plus the values derived from it once (complaint
category, GCS or its AVPU approximation, shock index, qSOFA, minutes since onset, whether this
is an injury), so that every predicate stays a one-liner over named facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from khealth.emergency.model import Assessment, PainSite
from khealth.emergency.rules import ComplaintCategory, ComplaintTable, RuleSet
from khealth.emergency.triage.vitals import Scored, score

SIRS_TEMPERATURE_ABOVE = 38.0  # Bone 1992: temperature >38 or <36 °C
SIRS_TEMPERATURE_BELOW = 36.0
SIRS_HEART_RATE_ABOVE = 90
SIRS_RESPIRATORY_RATE_ABOVE = 20


@dataclass(frozen=True, slots=True)
class Facts:
    assessment: Assessment
    now: datetime
    category: ComplaintCategory | None
    gcs: int | None  # measured, else approximated from AVPU
    gcs_from_avpu: bool
    scored: Scored
    minutes_since_onset: float | None
    pain_site: PainSite | None
    injured: bool

    @property
    def category_id(self) -> str | None:
        return None if self.category is None else self.category.id

    @property
    def stroke_suspected(self) -> bool:
        a = self.assessment
        return bool(
            a.stroke_signs
            or (a.lams is not None and a.lams >= 1)
            or (a.race_scale is not None and a.race_scale >= 1)
            or self.category_id == "stroke_symptoms"
        )

    @property
    def fever(self) -> bool:
        t = self.assessment.temperature
        return t is not None and t > SIRS_TEMPERATURE_ABOVE

    def sirs_count(self) -> int:
        a = self.assessment
        t = a.temperature
        return sum((
            t is not None and (t > SIRS_TEMPERATURE_ABOVE or t < SIRS_TEMPERATURE_BELOW),
            a.heart_rate is not None and a.heart_rate > SIRS_HEART_RATE_ABOVE,
            a.respiratory_rate is not None and a.respiratory_rate > SIRS_RESPIRATORY_RATE_ABOVE,
        ))  # fmt: skip


def gather(a: Assessment, now: datetime, rules: RuleSet, complaints: ComplaintTable) -> Facts:
    category = complaints.categorise(a.chief_complaint)
    gcs, from_avpu = a.gcs, False
    if gcs is None and a.consciousness is not None:
        gcs, from_avpu = rules.avpu_gcs[a.consciousness], True
    onset = None if a.onset is None else (now - a.onset).total_seconds() / 60
    return Facts(
        assessment=a, now=now, category=category, gcs=gcs, gcs_from_avpu=from_avpu,
        scored=score(a, gcs), minutes_since_onset=onset,
        pain_site=a.pain_site or (None if category is None else category.pain_site),
        injured=_injured(a, category),
    )  # fmt: skip


def _injured(a: Assessment, category: ComplaintCategory | None) -> bool:
    if a.trauma is not None:
        return a.trauma or bool(a.injury_patterns)
    return bool(
        a.trauma_mechanisms
        or a.injury_patterns
        or a.fall_height_m
        or (category is not None and category.id == "trauma")
    )
