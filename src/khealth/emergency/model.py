"""The emergency domain's shared values: a crew's assessment of a patient, the triage result,
the time-critical pathways and the hospital capabilities a pathway needs.

Triage (:mod:`khealth.emergency.triage`) produces a :class:`TriageResult` from an
:class:`Assessment`; destination ranking and pre-notification read it. Every field of the
assessment is optional because a crew records what it has measured, and a missing value is never
guessed as normal: rules that need it stay silent, and the result's ``warnings`` say what was
missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

Sex = Literal["male", "female", "other", "unknown"]
Consciousness = Literal["A", "C", "V", "P", "U"]  # ACVPU; C = new confusion (NEWS2 2017)
PainSite = Literal["central", "peripheral"]  # KTAS: central = head, chest, abdomen; else limbs
News2Band = Literal["low", "low-medium", "medium", "high"]


class Pathway(StrEnum):
    """Time-critical pathways a crew alerts a hospital for, in no particular order (the result
    orders the suspected ones by urgency)."""

    STEMI = "stemi"
    STROKE_LVO = "stroke_lvo"
    STROKE = "stroke"
    MAJOR_TRAUMA = "major_trauma"
    CARDIAC_ARREST = "cardiac_arrest"
    SEPSIS = "sepsis"
    OBSTETRIC = "obstetric"
    PAEDIATRIC = "paediatric"
    BURNS = "burns"


class Capability(StrEnum):
    """What a destination must offer for a pathway. A ``StrEnum``, so ``"pci" in needs`` works.
    Mapped to the national ER API (MKioskTy*, hv*) by the destination code, not here."""

    PCI = "pci"  # primary PCI (심근경색 재관류, angiography)
    THROMBOLYSIS = "thrombolysis"  # IV thrombolysis: CT and a stroke team
    THROMBECTOMY = "thrombectomy"  # endovascular thrombectomy (뇌경색 재관류, angiography)
    CT = "ct"
    TRAUMA_CENTRE = "trauma_centre"  # 권역외상센터
    RESUSCITATION = "resuscitation"  # any ER that can run a resuscitation (ACLS, post-ROSC care)
    ICU = "icu"
    OBSTETRICS = "obstetrics"  # 산부인과 응급 (delivery, obstetric surgery)
    PAEDIATRIC_EMERGENCY = "paediatric_emergency"
    BURNS_CENTRE = "burns_centre"  # 중증화상 전문치료


class TraumaMechanism(StrEnum):
    """Mechanism criteria, 2021 National Guideline for the Field Triage of Injured Patients
    (yellow: high-risk crash, other high-risk injury). Fall height is a number: see
    ``Assessment.fall_height_m``."""

    EJECTION = "ejection"  # partial or complete ejection
    INTRUSION = "intrusion"  # >12 in (30 cm) occupant site or >18 in (46 cm) any site
    EXTRICATION = "extrication"  # need for extrication of an entrapped patient
    DEATH_IN_COMPARTMENT = "death_in_compartment"  # death in the passenger compartment
    CHILD_UNRESTRAINED = "child_unrestrained"  # child 0-9 unrestrained or in unsecured seat
    VEHICLE_TELEMETRY = "vehicle_telemetry"  # telemetry consistent with severe injury
    RIDER_SEPARATED = "rider_separated"  # rider separated from motorcycle, bike, horse...
    PEDESTRIAN_STRUCK = "pedestrian_struck"  # pedestrian or cyclist thrown, run over, hit >20 mph
    PENETRATING = "penetrating"  # stab or gunshot wound, site in injury_patterns


class InjuryPattern(StrEnum):
    """Injury patterns of the 2021 field triage guideline's red criteria."""

    PENETRATING_CENTRAL = "penetrating_central"  # head, neck, torso, proximal extremities
    SKULL_DEFORMITY = "skull_deformity"  # skull deformity, suspected skull fracture
    SPINAL_DEFICIT = "spinal_deficit"  # suspected spinal injury with new motor/sensory loss
    CHEST_WALL_INSTABILITY = "chest_wall_instability"  # chest wall instability, deformity, flail
    PELVIC_FRACTURE = "pelvic_fracture"  # suspected pelvic fracture
    LONG_BONE_FRACTURES = "long_bone_fractures"  # suspected fracture of 2+ proximal long bones
    MANGLED_EXTREMITY = "mangled_extremity"  # crushed, degloved, mangled or pulseless extremity
    AMPUTATION = "amputation"  # amputation proximal to wrist or ankle
    ACTIVE_BLEEDING = "active_bleeding"  # bleeding needing a tourniquet or wound packing


@dataclass(frozen=True, slots=True)
class Assessment:
    """What a crew assessed. Every field may be missing (``None``): a crew records what it has.

    Units: ages in years, rates per minute, pressures mmHg, SpO2 %, temperature °C, glucose
    mg/dL, gestation in completed weeks, burns as % of total body surface area, heights in
    metres. ``onset`` is symptom onset or last known well (timezone-aware).
    """

    age: float | None = None  # years; fractions for infants (0.5 = six months)
    sex: Sex | None = None
    chief_complaint: str | None = None  # free text, Korean or English ("흉통", "chest pain")
    respiratory_rate: int | None = None  # breaths/min
    spo2: int | None = None  # % (pulse oximetry)
    on_oxygen: bool | None = None  # supplemental oxygen at the time of the SpO2 reading
    systolic_bp: int | None = None  # mmHg
    diastolic_bp: int | None = None  # mmHg
    heart_rate: int | None = None  # beats/min
    temperature: float | None = None  # °C
    consciousness: Consciousness | None = None  # ACVPU
    gcs: int | None = None  # Glasgow Coma Scale total, 3-15
    gcs_motor: int | None = None  # GCS motor component, 1-6 (field triage: <6 is red)
    pain: int | None = None  # numeric rating scale 0-10
    pain_site: PainSite | None = None  # KTAS: central (head, chest, abdomen) or peripheral
    pain_chronic: bool | None = None  # KTAS: chronic (known, recurring) rather than acute pain
    glucose: float | None = None  # capillary glucose, mg/dL
    onset: datetime | None = None  # symptom onset or last known well, timezone-aware
    cardiac_arrest: bool | None = None  # no pulse / no normal breathing (초기평가: 심정지)
    respiratory_support: bool | None = None  # assisted ventilation (BVM, airway)
    trauma: bool | None = None  # injury is the reason for the call
    trauma_mechanisms: frozenset[TraumaMechanism] = field(default_factory=frozenset)
    injury_patterns: frozenset[InjuryPattern] = field(default_factory=frozenset)
    fall_height_m: float | None = None  # metres fallen
    anticoagulated: bool | None = None  # on anticoagulants or antiplatelets (trauma judgement)
    lams: int | None = None  # Los Angeles Motor Scale, 0-5
    race_scale: int | None = None  # Rapid Arterial oCclusion Evaluation, 0-9
    stroke_signs: bool | None = None  # positive Cincinnati (face, arm, speech) screen
    stemi_ecg: bool | None = None  # ST elevation meeting STEMI criteria on the 12-lead ECG
    suspected_infection: bool | None = None  # crew suspects infection (source, history)
    immunocompromised: bool | None = None  # chemotherapy, transplant, steroids...
    pregnant: bool | None = None
    gestation_weeks: int | None = None  # completed weeks
    vaginal_bleeding: bool | None = None  # in pregnancy
    labour: bool | None = None  # contractions, imminent delivery
    burns_tbsa: float | None = None  # % total body surface area (partial + full thickness)
    burns_inhalation: bool | None = None  # suspected inhalation injury (soot, stridor, enclosed)
    first_contact: datetime | None = None  # first medical contact (STEMI clock); None: now


@dataclass(frozen=True, slots=True)
class FiredRule:
    """A rule that fired, for the crew: its id and version (in ``emergency/rules``), its
    source, and a sentence in Korean and English."""

    id: str
    version: str
    text_ko: str
    text_en: str
    source: str = ""
    level: int | None = None  # the KTAS level the rule assigns, if it is a level rule
    pathway: Pathway | None = None  # the pathway the rule suspects, if any


@dataclass(frozen=True, slots=True)
class News2Summary:
    """NEWS2 total and RCP response band (computed by :mod:`khealth.cds.calculators.news2`)."""

    score: int
    band: News2Band


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A pathway's treatment window. ``minutes`` is the guideline window from ``starts``;
    ``remaining_minutes`` what is left at the assessment time (``None`` when the start is
    unknown, e.g. stroke without an onset time)."""

    pathway: Pathway
    minutes: int
    starts: Literal["first_medical_contact", "onset"]
    remaining_minutes: int | None
    text_en: str


@dataclass(frozen=True, slots=True)
class TriageResult:
    """The triage of one assessment.

    ``pathway`` is the most urgent suspected pathway (``pathways[0]``), ``needs`` the union of the
    capabilities the suspected pathways require, and ``time_window_minutes`` the remaining
    minutes of the tightest known window (``None`` when no window applies or its start is
    unknown). ``rules`` lists every rule that fired, level rules first.
    """

    ktas_level: int  # 1 resuscitation ... 5 non-urgent
    news2: News2Summary | None  # None when a NEWS2 parameter is missing (see warnings)
    qsofa: int | None  # 0-3; None when a criterion is unknown and the known ones score < 2
    shock_index: float | None  # heart rate / systolic BP, 2 decimals
    pathway: Pathway | None
    pathways: tuple[Pathway, ...]
    rules: tuple[FiredRule, ...]
    needs: frozenset[Capability]
    time_window_minutes: int | None
    time_windows: tuple[TimeWindow, ...] = ()
    complaint_category: str | None = None  # see emergency/rules (complaint table)
    assessed_at: datetime | None = None
    warnings: tuple[str, ...] = ()
    ruleset: str = ""  # e.g. "pre_ktas 1.0.0; chief_complaints 1.0.0"
