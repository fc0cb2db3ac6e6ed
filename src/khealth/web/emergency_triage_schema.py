"""Request and response bodies of ``POST /api/emergency/triage``, as pydantic models so that the
OpenAPI document shows every field with its unit and plausible range (the ranges come from
``khealth.emergency.triage.limits``, the one table the domain checks too).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from khealth.emergency.model import (
    Assessment,
    Consciousness,
    InjuryPattern,
    PainSite,
    Pathway,
    Sex,
    TraumaMechanism,
    TriageResult,
)
from khealth.emergency.triage.limits import LIMITS


def _ranged(name: str, description: str) -> Any:
    low, high, unit = LIMITS[name]
    return Field(None, ge=low, le=high, description=f"{description} ({unit})")


def _field(description: str) -> Any:
    return Field(None, description=description)


class AssessmentIn(BaseModel):
    """A crew's assessment; every field is optional (a crew sends what it has measured)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "age": 67,
                "sex": "male",
                "chief_complaint": "흉통",
                "respiratory_rate": 22,
                "spo2": 95,
                "on_oxygen": False,
                "systolic_bp": 105,
                "heart_rate": 115,
                "temperature": 38.5,
                "consciousness": "A",
                "gcs": 15,
                "pain": 7,
                "glucose": 140,
                "onset": "2026-11-29T06:30:00+09:00",
                "stemi_ecg": True,
            }
        },
    )

    age: float | None = _ranged("age", "age; fractions for infants")
    sex: Sex | None = _field("sex")
    chief_complaint: str | None = Field(
        None,
        max_length=200,
        description="chief complaint, Korean or English (흉통, 호흡곤란, 의식저하, 편마비, 복통, 외상...)",
    )
    respiratory_rate: int | None = _ranged("respiratory_rate", "respiratory rate")
    spo2: int | None = _ranged("spo2", "oxygen saturation")
    on_oxygen: bool | None = _field("on supplemental oxygen at the SpO2 reading")
    systolic_bp: int | None = _ranged("systolic_bp", "systolic blood pressure")
    diastolic_bp: int | None = _ranged("diastolic_bp", "diastolic blood pressure")
    heart_rate: int | None = _ranged("heart_rate", "heart rate")
    temperature: float | None = _ranged("temperature", "temperature")
    consciousness: Consciousness | None = _field(
        "ACVPU: A alert, C new confusion, V voice, P pain, U unresponsive"
    )
    gcs: int | None = _ranged("gcs", "Glasgow Coma Scale total")
    gcs_motor: int | None = _ranged("gcs_motor", "GCS motor component")
    pain: int | None = _ranged("pain", "pain, numeric rating scale")
    pain_site: PainSite | None = _field(
        "KTAS pain site: central (head, chest, abdomen) or peripheral"
    )
    pain_chronic: bool | None = _field("chronic (known, recurring) pain rather than acute")
    glucose: float | None = _ranged("glucose", "capillary glucose")
    onset: datetime | None = _field("symptom onset or last known well, with offset")
    first_contact: datetime | None = _field(
        "first medical contact (STEMI clock), with offset; default: now"
    )
    cardiac_arrest: bool | None = _field("no pulse or no normal breathing")
    respiratory_support: bool | None = _field("assisted ventilation")
    trauma: bool | None = _field("an injury is the reason for the call")
    trauma_mechanisms: list[TraumaMechanism] = Field(
        default_factory=list, description="2021 field-triage mechanism criteria"
    )
    injury_patterns: list[InjuryPattern] = Field(
        default_factory=list, description="2021 field-triage red injury patterns"
    )
    fall_height_m: float | None = _ranged("fall_height_m", "height fallen")
    anticoagulated: bool | None = _field("on anticoagulants or antiplatelets")
    lams: int | None = _ranged("lams", "Los Angeles Motor Scale")
    race_scale: int | None = _ranged("race_scale", "RACE stroke scale")
    stroke_signs: bool | None = _field("positive Cincinnati screen (face, arm, speech)")
    stemi_ecg: bool | None = _field("ST elevation meeting STEMI criteria on a 12-lead ECG")
    suspected_infection: bool | None = _field("crew suspects an infection")
    immunocompromised: bool | None = _field("chemotherapy, transplant, steroids...")
    pregnant: bool | None = _field("pregnant")
    gestation_weeks: int | None = _ranged("gestation_weeks", "completed weeks of pregnancy")
    vaginal_bleeding: bool | None = _field("vaginal bleeding in pregnancy")
    labour: bool | None = _field("contractions or imminent delivery")
    burns_tbsa: float | None = _ranged("burns_tbsa", "burned body surface area")
    burns_inhalation: bool | None = _field("suspected inhalation injury")

    def to_domain(self) -> Assessment:
        values = self.model_dump()
        values["trauma_mechanisms"] = frozenset(self.trauma_mechanisms)
        values["injury_patterns"] = frozenset(self.injury_patterns)
        return Assessment(**values)


class News2Out(BaseModel):
    score: int
    band: Literal["low", "low-medium", "medium", "high"]


class RuleOut(BaseModel):
    id: str
    version: str
    text_ko: str
    text_en: str
    source: str
    level: int | None = Field(description="the KTAS level the rule assigns, if any")
    pathway: Pathway | None = Field(description="the pathway the rule suspects, if any")


class TimeWindowOut(BaseModel):
    pathway: Pathway
    minutes: int
    starts: Literal["first_medical_contact", "onset"]
    remaining_minutes: int | None
    text_en: str


class TriageOut(BaseModel):
    ktas_level: int = Field(
        ge=1, le=5, description="Pre-KTAS-style level: 1 resuscitation ... 5 non-urgent"
    )
    news2: News2Out | None = Field(description="null when a NEWS2 parameter is missing")
    qsofa: int | None = Field(
        description="0-3; a lower bound when a criterion is unmeasured but the rest already score 2"
    )
    shock_index: float | None = Field(description="heart rate / systolic BP")
    pathway: Pathway | None = Field(description="the most urgent suspected pathway")
    pathways: list[Pathway]
    rules: list[RuleOut] = Field(description="every rule that fired, level rules first")
    needs: list[str] = Field(
        description="capabilities the suspected pathways need (pci, thrombectomy, trauma_centre...)"
    )
    time_window_minutes: int | None = Field(
        description="minutes left in the tightest known treatment window"
    )
    time_windows: list[TimeWindowOut]
    complaint_category: str | None
    assessed_at: datetime | None
    warnings: list[str]
    ruleset: str


def triage_out(result: TriageResult) -> TriageOut:
    return TriageOut(
        ktas_level=result.ktas_level,
        news2=None
        if result.news2 is None
        else News2Out(score=result.news2.score, band=result.news2.band),
        qsofa=result.qsofa,
        shock_index=result.shock_index,
        pathway=result.pathway,
        pathways=list(result.pathways),
        rules=[
            RuleOut(
                id=r.id,
                version=r.version,
                text_ko=r.text_ko,
                text_en=r.text_en,
                source=r.source,
                level=r.level,
                pathway=r.pathway,
            )
            for r in result.rules
        ],
        needs=sorted(str(c) for c in result.needs),
        time_window_minutes=result.time_window_minutes,
        time_windows=[
            TimeWindowOut(
                pathway=w.pathway,
                minutes=w.minutes,
                starts=w.starts,
                remaining_minutes=w.remaining_minutes,
                text_en=w.text_en,
            )
            for w in result.time_windows
        ],
        complaint_category=result.complaint_category,
        assessed_at=result.assessed_at,
        warnings=list(result.warnings),
        ruleset=result.ruleset,
    )
