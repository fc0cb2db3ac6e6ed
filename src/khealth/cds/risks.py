"""Risk scores from a person's features, through the calculator registry (one implementation
of each formula). Each assessment says which inputs it used (with the measurements behind
them, for provenance), which were missing from the record, and which were outside the model's
validated range; it never fills a missing input with a guess.

Choices, stated once:
- laboratory values count when measured within ``LAB_DAYS`` (two years, the checkup interval),
  blood pressure within ``VITAL_DAYS``; older values are reported as missing;
- ``race`` for the Pooled Cohort Equations is "other" (the guideline's rule: the white
  equations), since the city's population is Korean; the cards say the equation is US-derived;
- "diabetes" is a recorded diagnosis (E10-E14) or a current diabetes drug; "on BP treatment" a
  current antihypertensive prescription; both are missing, not false, when the caller may not
  read Conditions or MedicationRequests;
- FINDRISC's questionnaire items (activity, vegetables, family history) are not in the record:
  they come from the person's own answers or are reported missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from khealth.cds.calculators import CalculatorInputError, CalculatorResult, compute
from khealth.cds.features import Measurement, PersonFeatures

LAB_DAYS = 730
VITAL_DAYS = 730


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    calculator: str
    result: CalculatorResult | None
    inputs: Mapping[str, object]
    missing: tuple[str, ...] = ()
    out_of_range: tuple[str, ...] = ()
    evidence: tuple[Measurement, ...] = field(default=())

    @property
    def computed(self) -> bool:
        return self.result is not None


class _Inputs:
    """Collects inputs for one calculator, remembering what was missing and what was used."""

    def __init__(self, features: PersonFeatures) -> None:
        self.f = features
        self.values: dict[str, object] = {}
        self.missing: list[str] = []
        self.evidence: list[Measurement] = []

    def put(self, name: str, value: object) -> None:
        if value is None:
            self.missing.append(name)
        else:
            self.values[name] = value

    def lab(self, name: str, key: str | None = None, days: int = LAB_DAYS) -> None:
        found = self.f.latest(key or name, within_days=days)
        if found is not None:
            self.evidence.append(found)
        self.put(name, None if found is None else round(found.number, 2))

    def demographics(self) -> None:
        age = self.f.age
        self.put("age", None if age is None else int(age))
        self.put("sex", self.f.sex)

    def flag_from(self, name: str, resource_type: str, value: bool) -> None:
        self.put(name, value if self.f.knows(resource_type) else None)

    def run(self, calculator: str) -> RiskAssessment:
        if self.missing:
            return RiskAssessment(calculator, None, self.values, tuple(self.missing),
                                  evidence=tuple(self.evidence))  # fmt: skip
        try:
            result = compute(calculator, self.values)
        except CalculatorInputError as error:
            names = tuple(i.expression[0] for i in error.issues if i.expression)
            return RiskAssessment(calculator, None, self.values, out_of_range=names,
                                  evidence=tuple(self.evidence))  # fmt: skip
        return RiskAssessment(calculator, result, self.values, evidence=tuple(self.evidence))


def diabetes(features: PersonFeatures) -> bool:
    return features.diagnosed("diabetes") or features.on("diabetes")


def _cardiovascular(features: PersonFeatures, with_race: bool) -> _Inputs:
    inputs = _Inputs(features)
    inputs.demographics()
    if with_race:
        inputs.put("race", "other")
    inputs.lab("total_cholesterol")
    inputs.lab("hdl")
    inputs.lab("systolic_bp", days=VITAL_DAYS)
    inputs.flag_from("on_bp_treatment", "MedicationRequest", features.on("antihypertensive"))
    smoking = features.smoking
    inputs.put("smoker", None if smoking is None else smoking == "current")
    known = features.knows("Condition") and features.knows("MedicationRequest")
    inputs.put("diabetes", diabetes(features) if known else None)
    return inputs


def pce(features: PersonFeatures) -> RiskAssessment:
    return _cardiovascular(features, with_race=True).run("pce")


def framingham(features: PersonFeatures) -> RiskAssessment:
    return _cardiovascular(features, with_race=False).run("framingham")


def ckd_epi(features: PersonFeatures) -> RiskAssessment:
    inputs = _Inputs(features)
    inputs.demographics()
    inputs.lab("creatinine")
    acr = features.latest("acr", within_days=LAB_DAYS)
    if acr is not None:
        inputs.values["acr"] = round(acr.number, 1)
        inputs.evidence.append(acr)
    return inputs.run("ckd_epi_2021")


def fib4(features: PersonFeatures) -> RiskAssessment:
    inputs = _Inputs(features)
    age = features.age
    inputs.put("age", None if age is None else int(age))
    for name in ("ast", "alt", "platelets"):
        inputs.lab(name)
    return inputs.run("fib4")


FINDRISC_ANSWERS = ("physically_active", "daily_vegetables", "family_diabetes")


def findrisc(
    features: PersonFeatures, answers: Mapping[str, object] | None = None
) -> RiskAssessment:
    """FINDRISC with the record's age, BMI, waist and sex, "ever on BP medication" from the
    prescriptions, "ever high glucose" from any fasting glucose >= 100 mg/dL or HbA1c >= 5.7 %
    (ADA 2024 prediabetes thresholds), and the questionnaire items from ``answers``."""
    inputs = _Inputs(features)
    inputs.demographics()
    inputs.lab("bmi")
    inputs.lab("waist")
    inputs.flag_from("bp_medication", "MedicationRequest", features.ever_on("antihypertensive"))
    inputs.put("high_glucose_history", _high_glucose_ever(features))
    for name in FINDRISC_ANSWERS:
        inputs.put(name, (answers or {}).get(name))
    return inputs.run("findrisc")


def _high_glucose_ever(features: PersonFeatures) -> bool | None:
    glucose, hba1c = features.trend("fasting_glucose"), features.trend("hba1c")
    if not glucose and not hba1c:
        return None
    return any(m.number >= 100 for m in glucose) or any(m.number >= 5.7 for m in hba1c)


def egfr_value(features: PersonFeatures, days: int = LAB_DAYS) -> tuple[float, Measurement] | None:
    """The latest eGFR: as reported, or by CKD-EPI 2021 from a creatinine measured later than
    the latest reported eGFR."""
    reported = features.latest("egfr", within_days=days)
    assessed = ckd_epi(features)
    creatinine = next((m for m in assessed.evidence if m.analyte == "creatinine"), None)
    fresh = creatinine is not None and (features.as_of - creatinine.when.date()).days <= days
    newer = reported is None or (creatinine is not None and creatinine.when > reported.when)
    if assessed.result is not None and creatinine is not None and fresh and newer:
        return assessed.result.result, creatinine
    return None if reported is None else (reported.number, reported)
