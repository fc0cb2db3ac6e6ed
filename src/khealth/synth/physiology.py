"""Vital signs and laboratory values that move with age, sex, conditions and treatment.

Each analyte is a population baseline by age and sex (KNHANES 2019–2022 means, rounded) plus the
person's stable z-score, plus the effect of a condition (untreated in its first months, treated
afterwards), plus visit-to-visit noise. eGFR uses CKD-EPI 2021 (Inker et al., NEJM 2021;385:1737,
race-free): 142 × min(Scr/κ,1)^α × max(Scr/κ,1)^−1.200 × 0.9938^age × 1.012 [female],
κ = 0.7 (F) / 0.9 (M), α = −0.241 (F) / −0.302 (M).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass

from khealth.synth.citizens import Citizen

# Treatment takes effect about three months after diagnosis.
_TREATMENT_DELAY = dt.timedelta(days=90)


@dataclass(frozen=True)
class Analyte:
    key: str
    loinc: str
    display: str
    unit: str  # UCUM
    decimals: int
    category: str  # vital-signs | laboratory | exam | survey


ANALYTES: dict[str, Analyte] = {
    a.key: a
    for a in (
        Analyte("height", "8302-2", "Body height", "cm", 1, "vital-signs"),
        Analyte("weight", "29463-7", "Body weight", "kg", 1, "vital-signs"),
        Analyte("bmi", "39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", 1, "vital-signs"),
        Analyte(
            "waist", "8280-0", "Waist Circumference at umbilicus by Tape measure", "cm", 1, "exam"
        ),
        Analyte("sbp", "8480-6", "Systolic blood pressure", "mm[Hg]", 0, "vital-signs"),
        Analyte("dbp", "8462-4", "Diastolic blood pressure", "mm[Hg]", 0, "vital-signs"),
        Analyte("heart_rate", "8867-4", "Heart rate", "/min", 0, "vital-signs"),
        Analyte("resp_rate", "9279-1", "Respiratory rate", "/min", 0, "vital-signs"),
        Analyte("temperature", "8310-5", "Body temperature", "Cel", 1, "vital-signs"),
        Analyte(
            "spo2",
            "59408-5",
            "Oxygen saturation in Arterial blood by Pulse oximetry",
            "%",
            0,
            "vital-signs",
        ),
        Analyte(
            "glucose",
            "1558-6",
            "Fasting glucose [Mass/volume] in Serum or Plasma",
            "mg/dL",
            0,
            "laboratory",
        ),
        Analyte(
            "hba1c", "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 1, "laboratory"
        ),
        Analyte(
            "tc", "2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 0, "laboratory"
        ),
        Analyte(
            "hdl",
            "2085-9",
            "Cholesterol in HDL [Mass/volume] in Serum or Plasma",
            "mg/dL",
            0,
            "laboratory",
        ),
        Analyte(
            "ldl",
            "13457-7",
            "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation",
            "mg/dL",
            0,
            "laboratory",
        ),
        Analyte(
            "tg",
            "2571-8",
            "Triglyceride [Mass/volume] in Serum or Plasma",
            "mg/dL",
            0,
            "laboratory",
        ),
        Analyte("hb", "718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 1, "laboratory"),
        Analyte(
            "ast",
            "1920-8",
            "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
            "U/L",
            0,
            "laboratory",
        ),
        Analyte(
            "alt",
            "1742-6",
            "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
            "U/L",
            0,
            "laboratory",
        ),
        Analyte(
            "ggt",
            "2324-2",
            "Gamma glutamyl transferase [Enzymatic activity/volume] in Serum or Plasma",
            "U/L",
            0,
            "laboratory",
        ),
        Analyte(
            "creatinine",
            "2160-0",
            "Creatinine [Mass/volume] in Serum or Plasma",
            "mg/dL",
            2,
            "laboratory",
        ),
        Analyte(
            "egfr",
            "98979-8",
            "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] "
            "in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI 2021)",
            "mL/min/{1.73_m2}",
            0,
            "laboratory",
        ),
        Analyte(
            "wbc",
            "6690-2",
            "Leukocytes [#/volume] in Blood by Automated count",
            "10*3/uL",
            1,
            "laboratory",
        ),
        Analyte(
            "platelets",
            "777-3",
            "Platelets [#/volume] in Blood by Automated count",
            "10*3/uL",
            0,
            "laboratory",
        ),
        Analyte(
            "crp",
            "1988-5",
            "C reactive protein [Mass/volume] in Serum or Plasma",
            "mg/L",
            1,
            "laboratory",
        ),
    )
}
URINE_PROTEIN_LOINC = "20454-5"
BP_PANEL_LOINC = "85354-9"
SMOKING_LOINC = "72166-2"
ALCOHOL_LOINC = "74013-4"
EXERCISE_LOINC = "89555-7"


def _treated(citizen: Citizen, key: str, day: dt.date) -> bool | None:
    """None if the person does not have the condition on `day`, else whether it is treated."""
    for diagnosis in citizen.diagnoses:
        if diagnosis.condition.key == key and diagnosis.onset <= day:
            return day - diagnosis.onset >= _TREATMENT_DELAY
    return None


class Physiology:
    """Draws measurements for one citizen; `rng` is the citizen's stream."""

    def __init__(self, citizen: Citizen, rng: random.Random) -> None:
        self.c = citizen
        self.rng = rng

    def _age(self, day: dt.date) -> int:
        return max(0, self.c.age_on(day))

    def weight(self, day: dt.date) -> float:
        height = self.height(day)
        return self.bmi(day) * (height / 100) ** 2

    def height(self, day: dt.date) -> float:
        age = self._age(day)
        if age >= 18:
            return self.c.body.height_cm - max(0, age - 60) * 0.08
        adult = self.c.body.height_cm
        return 50 + (adult - 50) * (1 - math.exp(-age / 5.5)) if age < 18 else adult

    def bmi(self, day: dt.date) -> float:
        age = self._age(day)
        if age < 18:
            return 15.5 + 0.35 * max(0, age - 5) + self.c.body.bmi - 23.5
        drift = min(age - 18, 45) * (0.05 if self.c.female else 0.02)
        return self.c.body.bmi + drift - 1.0

    def waist(self, day: dt.date) -> float:
        slope, intercept = (2.3, 22.0) if self.c.female else (2.5, 25.0)
        return (
            slope * self.bmi(day) + intercept + 3.5 * self.c.body.z["waist"] + self.rng.gauss(0, 1)
        )

    def blood_pressure(self, day: dt.date) -> tuple[int, int]:
        age = self._age(day)
        base = (
            104 + 0.42 * max(0, age - 20) + (0 if self.c.female else 6) + 0.8 * (self.bmi(day) - 23)
        )
        treated = _treated(self.c, "hypertension", day)
        if treated is not None:
            base += 9 if treated else 26
        sbp = base + 8 * self.c.body.z["sbp"] + self.rng.gauss(0, 6)
        dbp = 0.5 * sbp + 12 + self.rng.gauss(0, 5) - max(0, age - 60) * 0.2
        return round(max(80, sbp)), round(max(45, min(dbp, sbp - 20)))

    def glucose(self, day: dt.date) -> float:
        age = self._age(day)
        treated = _treated(self.c, "diabetes", day)
        if treated is None:
            value = (
                88
                + 0.18 * max(0, age - 20)
                + 0.9 * (self.bmi(day) - 23)
                + 7 * self.c.body.z["glucose"]
            )
            return max(65.0, value + self.rng.gauss(0, 5))
        value = (132 if treated else 168) + 22 * self.c.body.z["glucose"] + self.rng.gauss(0, 12)
        return max(95.0, value)

    def hba1c(self, glucose: float) -> float:
        # ADAG relation (Nathan 2008): mean glucose = 28.7 × A1c − 46.7; the day's mean glucose
        # runs about 20 % above the fasting value.
        return max(4.3, (1.2 * glucose + 46.7) / 28.7 + self.rng.gauss(0, 0.25))

    def lipids(self, day: dt.date) -> dict[str, float]:
        age = self._age(day)
        female = self.c.female
        tc = 168 + 0.55 * min(max(0, age - 20), 35) + (12 if female and age >= 52 else 0)
        treated = _treated(self.c, "dyslipidaemia", day)
        if treated is not None:
            tc = 165.0 if treated else 245.0
        tc += 25 * self.c.body.z["tc"] + self.rng.gauss(0, 8)
        hdl = (57 if female else 48) + 10 * self.c.body.z["hdl"] - 0.8 * (self.bmi(day) - 23)
        hdl = max(25.0, hdl + self.rng.gauss(0, 3))
        tg_median = (90 if female else 125) + 6 * (self.bmi(day) - 23)
        if self.c.has("diabetes", day):
            tg_median += 30
        tg = max(35.0, tg_median * math.exp(0.4 * self.c.body.z["tg"] + self.rng.gauss(0, 0.12)))
        ldl = max(30.0, tc - hdl - tg / 5)  # Friedewald
        return {"tc": max(100.0, tc), "hdl": hdl, "tg": tg, "ldl": ldl}

    def hemoglobin(self, day: dt.date) -> float:
        age = self._age(day)
        value = (13.3 if self.c.female else 15.1) + 0.9 * self.c.body.z["hb"]
        if age >= 70:
            value -= 0.7
        if self.c.has("ckd", day):
            value -= 1.5
        return max(7.0, value + self.rng.gauss(0, 0.3))

    def liver(self, day: dt.date) -> dict[str, float]:
        male = not self.c.female
        boost = 1.0 + (0.6 if self.c.has("hepatitis_b", day) else 0.0)
        drinks = self.c.lifestyle.drinks_per_week + (40 if self.c.has("alcohol_use", day) else 0)
        ast = (
            21 * boost * math.exp(0.3 * self.c.body.z["ast"] + self.rng.gauss(0, 0.1))
            + 0.08 * drinks
        )
        alt = (
            (24 if male else 16)
            * boost
            * math.exp(0.45 * self.c.body.z["alt"] + self.rng.gauss(0, 0.12))
        )
        alt += 0.6 * max(0.0, self.bmi(day) - 25)
        ggt = (30 if male else 17) * math.exp(0.5 * self.c.body.z["ggt"] + self.rng.gauss(0, 0.1))
        ggt *= 1 + drinks / 25
        return {"ast": ast, "alt": alt, "ggt": ggt}

    def creatinine(self, day: dt.date) -> float:
        age = self._age(day)
        value = (0.68 if self.c.female else 0.92) + 0.002 * max(0, age - 40)
        value *= math.exp(0.12 * self.c.body.z["creatinine"] + self.rng.gauss(0, 0.04))
        if self.c.has("ckd", day):
            value *= 1.75
        return value

    def egfr(self, creatinine: float, day: dt.date) -> float:
        female = self.c.female
        kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
        ratio = creatinine / kappa
        value = 142 * min(ratio, 1) ** alpha * max(ratio, 1) ** -1.200 * 0.9938 ** self._age(day)
        return float(value * (1.012 if female else 1.0))

    def urine_protein(self, day: dt.date) -> str:
        risk = (
            0.03
            + (0.25 if self.c.has("ckd", day) else 0)
            + (0.08 if self.c.has("diabetes", day) else 0)
        )
        roll = self.rng.random()
        if roll < risk:
            return "+1" if roll > risk / 3 else "+2"
        return "±" if roll < risk + 0.03 else "-"

    def routine_vitals(self, day: dt.date, *, febrile: bool = False) -> dict[str, float]:
        age = self._age(day)
        return {
            "heart_rate": self.rng.gauss(100 if age < 6 else 74, 9) + (15 if febrile else 0),
            "resp_rate": self.rng.gauss(24 if age < 6 else 16, 2),
            "temperature": self.rng.gauss(38.4, 0.5) if febrile else self.rng.gauss(36.6, 0.25),
            "spo2": min(100.0, self.rng.gauss(97.5 if not self.c.has("copd", day) else 93.5, 1.0)),
        }
