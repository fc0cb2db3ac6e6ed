"""NEWS2, qSOFA and the shock index of an assessment. NEWS2 and qSOFA are computed by
:mod:`khealth.cds.calculators` (their one implementation); this module only decides what to do
with the parameters a crew has not measured, and says so in warnings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from khealth.cds.calculators import news2, qsofa
from khealth.emergency.model import Assessment, News2Band, News2Summary

NEWS2_PARAMETERS = ("respiratory_rate", "spo2", "systolic_bp", "heart_rate", "temperature")
# Values the qSOFA criteria never score, standing in for an unmeasured criterion so that the
# known criteria give a lower bound through the one implementation.
QSOFA_NOT_SCORING = {"respiratory_rate": 0, "systolic_bp": 300, "gcs": 15}


@dataclass(frozen=True, slots=True)
class Scored:
    news2: News2Summary | None
    qsofa: int | None
    shock_index: float | None
    warnings: tuple[str, ...]


def score(assessment: Assessment, gcs: int | None) -> Scored:
    """``gcs`` is the measured GCS or its AVPU approximation (see triage.facts)."""
    news, news_warnings = news2_of(assessment, gcs)
    q, q_warnings = qsofa_of(assessment, gcs)
    return Scored(news, q, shock_index(assessment), news_warnings + q_warnings)


def shock_index(assessment: Assessment) -> float | None:
    """Heart rate / systolic BP (Allgöwer and Burri 1967; reference §2.3), 2 decimals."""
    hr, sbp = assessment.heart_rate, assessment.systolic_bp
    if hr is None or sbp is None or sbp <= 0:
        return None
    return round(hr / sbp, 2)


def news2_consciousness(assessment: Assessment, gcs: int | None) -> news2.Consciousness | None:
    if assessment.consciousness is not None:
        return assessment.consciousness
    if gcs is None:
        return None
    # NEWS2 scores any new confusion, V, P or U alike (3): GCS below 15 is one of them.
    return "A" if gcs == 15 else "C"


def news2_of(
    assessment: Assessment, gcs: int | None
) -> tuple[News2Summary | None, tuple[str, ...]]:
    consciousness = news2_consciousness(assessment, gcs)
    missing = [n for n in NEWS2_PARAMETERS if getattr(assessment, n) is None]
    if consciousness is None:
        missing.append("consciousness")
    if missing or consciousness is None:
        return None, (f"NEWS2 not scored: missing {', '.join(missing)}",)
    warnings: tuple[str, ...] = ()
    if assessment.on_oxygen is None:
        warnings = ("NEWS2: oxygen not recorded, scored as room air",)
    a = assessment
    result = news2.score(
        cast(int, a.respiratory_rate), cast(int, a.spo2), 1, bool(a.on_oxygen),
        cast(int, a.systolic_bp), cast(int, a.heart_rate), consciousness,
        cast(float, a.temperature),
    )  # fmt: skip
    return News2Summary(result.total, cast(News2Band, result.response)), warnings


def qsofa_of(assessment: Assessment, gcs: int | None) -> tuple[int | None, tuple[str, ...]]:
    """The qSOFA total; with a criterion unmeasured, the known criteria's total when it is
    already positive (a lower bound), else ``None``."""
    known = {
        "respiratory_rate": assessment.respiratory_rate,
        "systolic_bp": assessment.systolic_bp,
        "gcs": gcs,
    }
    missing = [name for name, value in known.items() if value is None]
    values = {n: QSOFA_NOT_SCORING[n] if v is None else v for n, v in known.items()}
    total = qsofa.score(values["respiratory_rate"], values["systolic_bp"], values["gcs"]).total
    if not missing:
        return total, ()
    if total >= qsofa.POSITIVE_FROM:
        return total, (f"qSOFA at least {total}: {', '.join(missing)} not measured",)
    return None, (f"qSOFA not scored: missing {', '.join(missing)}",)
