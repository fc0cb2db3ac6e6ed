"""What the crew finds at the scene (the assessment triage sees), and what the patient truly needs.

The synthetic incident carries vitals, a chief complaint and the **true** condition. A crew sees
the vitals and hears the complaint; the findings that identify a pathway (12-lead ECG, LAMS,
injury mechanism, burns, pregnancy) are drawn from the true condition with the sensitivities in
:class:`~khealth.emergency.simulation.assumptions.Assumptions`, so triage can miss a STEMI (no
ECG, or a false-negative one) or an LVO (LAMS < 4) as a real crew can. The draws come from a
stream per incident, so both policies see the same crew findings.

**Definitive care** (what "capable" means) per true condition — :data:`TRUE_NEED`:

* STEMI → primary PCI at a PCI centre; stroke with LVO → thrombectomy at a thrombectomy centre;
  other stroke → IV thrombolysis (CT and a stroke team); major trauma → a trauma centre;
  sepsis → an ICU bed; major burns (> 10 % TBSA or inhalation) → a burns centre; obstetric →
  obstetric emergency care; a feverish child → paediatric emergency care.
* Cardiac arrest → resuscitation at the nearest ER (any ER; the synthetic stream tags arrests
  "pci" for post-ROSC care, but the time-critical step is the ER).
* Everything else → any ER: definitive care is the handover.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from typing import Any

from khealth.emergency.model import Assessment, Capability, InjuryPattern, TraumaMechanism
from khealth.emergency.simulation.assumptions import Assumptions
from khealth.synth.streams import stream

TRUE_NEED: Mapping[str, Capability | None] = {
    "cardiac_arrest": Capability.RESUSCITATION,
    "stemi": Capability.PCI,
    "stroke_lvo": Capability.THROMBECTOMY,
    "stroke_other": Capability.THROMBOLYSIS,
    "major_trauma": Capability.TRAUMA_CENTRE,
    "sepsis": Capability.ICU,
    "burn": Capability.BURNS_CENTRE,  # major burns only, see true_need()
    "obstetric": Capability.OBSTETRICS,
    "paediatric_fever": Capability.PAEDIATRIC_EMERGENCY,
}
_MECHANISMS = (
    TraumaMechanism.EJECTION, TraumaMechanism.INTRUSION, TraumaMechanism.EXTRICATION,
    TraumaMechanism.PEDESTRIAN_STRUCK, TraumaMechanism.RIDER_SEPARATED,
)  # fmt: skip
_PATTERNS = tuple(InjuryPattern)


def true_need(incident: Mapping[str, Any], assessment: Assessment) -> Capability | None:
    condition = str(incident["true_condition"])
    if condition == "burn" and not _major_burn(assessment):
        return None
    return TRUE_NEED.get(condition)


def _major_burn(a: Assessment) -> bool:
    return bool(a.burns_inhalation) or (a.burns_tbsa or 0.0) > 10


def crew_assessment(
    incident: Mapping[str, Any], first_contact: dt.datetime, seed: int, a: Assumptions
) -> Assessment:
    """The crew's assessment of one incident (deterministic per seed and incident)."""
    rng = stream(seed, "crew", incident["id"])
    condition = str(incident["true_condition"])
    vitals: Mapping[str, Any] = incident["vitals"]
    call = dt.datetime.fromisoformat(incident["time"])
    base: dict[str, Any] = {
        "age": float(incident["age"]), "sex": incident["sex"],
        "chief_complaint": incident["chief_complaint"], "first_contact": first_contact,
    }  # fmt: skip
    if condition == "cardiac_arrest":
        return Assessment(**base, cardiac_arrest=True, gcs=3)
    base |= {
        "systolic_bp": vitals["sbp"], "diastolic_bp": vitals["dbp"],
        "heart_rate": vitals["heart_rate"], "respiratory_rate": max(0, vitals["resp_rate"]),
        "spo2": vitals["spo2"], "on_oxygen": False, "gcs": vitals["gcs"],
        "temperature": min(45.0, max(25.0, vitals["temperature"])),
    }  # fmt: skip
    return Assessment(**base, **_findings(condition, int(incident["age"]), call, rng, a))


def _findings(
    condition: str, age: int, call: dt.datetime, rng: random.Random, a: Assumptions
) -> dict[str, Any]:
    if condition == "stemi":
        return {"stemi_ecg": _ecg(rng, a), "pain": rng.randint(5, 9), "pain_site": "central"}
    if condition in ("stroke_lvo", "stroke_other"):
        return _stroke(condition == "stroke_lvo", call, rng, a)
    if condition == "major_trauma":
        return _major_trauma(rng, a)
    if condition == "minor_trauma":
        return _minor_trauma(age, rng, a)
    if condition == "burn":
        major = rng.random() < a.major_burn_share
        tbsa = rng.uniform(11, 40) if major else rng.uniform(1, 9)
        return {"burns_tbsa": round(tbsa), "burns_inhalation": major and rng.random() < 0.3}
    if condition == "obstetric":
        weeks = rng.randint(8, 40)
        return {"pregnant": True, "gestation_weeks": weeks, "vaginal_bleeding": rng.random() < 0.6,
                "labour": weeks >= 30 and rng.random() < 0.5}  # fmt: skip
    return {}


def _ecg(rng: random.Random, a: Assumptions) -> bool | None:
    if rng.random() >= a.ecg_recorded:
        return None  # no 12-lead: triage's chest-pain rule still suspects STEMI
    return rng.random() < a.ecg_sensitivity


def _stroke(lvo: bool, call: dt.datetime, rng: random.Random, a: Assumptions) -> dict[str, Any]:
    high = rng.random() < (a.lams_sensitivity if lvo else 1 - a.lams_specificity)
    lams = rng.randint(4, 5) if high else rng.randint(1 if lvo else 0, 3)
    onset = call - dt.timedelta(minutes=rng.uniform(*a.stroke_onset_minutes))
    return {"lams": lams, "stroke_signs": rng.random() < a.cincinnati_positive, "onset": onset}


def _major_trauma(rng: random.Random, a: Assumptions) -> dict[str, Any]:
    out: dict[str, Any] = {"trauma": True}
    if rng.random() < a.trauma_mechanism_seen:
        out["trauma_mechanisms"] = frozenset({rng.choice(_MECHANISMS)})
    if rng.random() < a.trauma_pattern_seen:
        out["injury_patterns"] = frozenset({rng.choice(_PATTERNS)})
    return out


def _minor_trauma(age: int, rng: random.Random, a: Assumptions) -> dict[str, Any]:
    out: dict[str, Any] = {"trauma": True, "fall_height_m": round(rng.uniform(0.0, 2.0), 1)}
    if rng.random() < a.minor_trauma_mechanism:
        out["trauma_mechanisms"] = frozenset({rng.choice(_MECHANISMS)})
    if age >= 65 and rng.random() < a.anticoagulated_over_65:
        out["anticoagulated"] = True
    return out
