"""The FHIR R4 Observations of one national checkup: a grouping Observation
(http://hl7.org/fhir/R4/observation.html#obsgrouping) whose ``hasMember`` are the measured
items, LOINC-coded with UCUM units, and the lifestyle questionnaire answers.

Every resource carries an identifier derived from the checkup (``<checkup id>/<item>``), so
a re-run finds the grouping Observation and adds nothing.  Codes checked against LOINC 2.77.
"""

from __future__ import annotations

import uuid
from typing import Any

from khealth.ingest.checkup_rows import CheckupRow

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
SID_CHECKUP = "https://khealth.example.org/fhir/sid/nhis-checkup"
CHECKUP_CODES = "https://khealth.example.org/fhir/CodeSystem/nhis-checkup"
FACILITY_SOURCE = "urn:khealth:facility:"

#: CSV column → (LOINC, display, UCUM unit, category, decimals)
QUANTITIES: dict[str, tuple[str, str, str, str, int]] = {
    "height_cm": ("8302-2", "Body height", "cm", "vital-signs", 1),
    "weight_kg": ("29463-7", "Body weight", "kg", "vital-signs", 1),
    "waist_cm": ("8280-0", "Waist Circumference at umbilicus by Tape measure", "cm", "vital-signs", 1),
    "bmi": ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", "vital-signs", 1),
    "fasting_glucose": ("1558-6", "Fasting glucose [Mass/volume] in Serum or Plasma", "mg/dL", "laboratory", 0),
    "total_cholesterol": ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", "laboratory", 0),
    "triglyceride": ("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", "laboratory", 0),
    "hdl": ("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "mg/dL", "laboratory", 0),
    "ldl": ("13457-7", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation", "mg/dL", "laboratory", 0),
    "hemoglobin": ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", "laboratory", 1),
    "serum_creatinine": ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", "laboratory", 2),
    "egfr": ("98979-8", "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI 2021)", "mL/min/{1.73_m2}", "laboratory", 0),
    "ast": ("1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", "laboratory", 0),
    "alt": ("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", "laboratory", 0),
    "ggt": ("2324-2", "Gamma glutamyl transferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", "laboratory", 0),
}  # fmt: skip
BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")
SYSTOLIC, DIASTOLIC = ("8480-6", "Systolic blood pressure"), ("8462-4", "Diastolic blood pressure")
URINE_PROTEIN = ("20454-5", "Protein [Presence] in Urine by Test strip")
SMOKING = ("72166-2", "Tobacco smoking status")
SMOKING_ANSWERS = {
    "never": ("266919005", "Never smoked tobacco"),
    "former": ("8517006", "Ex-smoker"),
    "current": ("77176002", "Smoker"),
}
ALCOHOL = ("74013-4", "Alcoholic drinks per day")
EXERCISE = ("89555-7", "How many days per week did you engage in moderate to strenuous physical activity in the last 30 days")  # fmt: skip


def _coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


def _quantity(value: float, unit: str, decimals: int) -> dict[str, Any]:
    number: float | int = round(value, decimals) if decimals else round(value)
    return {"value": number, "unit": unit, "system": UCUM, "code": unit}


class CheckupBuilder:
    """Builds one checkup's Observations for ``patient_id`` (ids assigned here, so that
    the grouping Observation can reference its members in the same transaction)."""

    def __init__(self, row: CheckupRow, patient_id: str, encounter_on_record: bool, when: str) -> None:  # fmt: skip
        self.row = row
        self.patient_id = patient_id
        self.encounter = encounter_on_record
        self.when = when

    def identifier(self, item: str) -> dict[str, str]:
        return {"system": SID_CHECKUP, "value": f"{self.row.checkup_id}/{item}"}

    def _observation(self, item: str, category: str, code: tuple[str, str], **value: Any) -> dict[str, Any]:  # fmt: skip
        body: dict[str, Any] = {
            "resourceType": "Observation",
            "id": str(uuid.uuid4()),
            "meta": {"source": FACILITY_SOURCE + self.row.facility_id},
            "identifier": [self.identifier(item)],
            "status": "final",
            "category": [{"coding": [_coding(CATEGORY, category, category)]}],
            "code": {"coding": [_coding(LOINC, *code)], "text": code[1]},
            "subject": {"reference": f"Patient/{self.patient_id}"},
            "effectiveDateTime": self.when,
            **value,
        }
        if self.encounter:
            body["encounter"] = {"reference": f"Encounter/{self.row.encounter_id}"}
        return body

    def members(self) -> list[dict[str, Any]]:
        row = self.row
        found = [
            self._observation(
                column,
                category,
                (loinc, display),
                valueQuantity=_quantity(row.values[column], unit, decimals),
            )
            for column, (loinc, display, unit, category, decimals) in QUANTITIES.items()
            if column in row.values
        ]
        found.append(self._blood_pressure())
        found.append(self._observation("urine_protein", "laboratory", URINE_PROTEIN, valueCodeableConcept={"text": row.urine_protein}))  # fmt: skip
        found.extend(self._questionnaire())
        return found

    def _blood_pressure(self) -> dict[str, Any]:
        v = self.row.values
        components = [
            {
                "code": {"coding": [_coding(LOINC, *code)]},
                "valueQuantity": _quantity(v[column], "mm[Hg]", 0),
            }
            for code, column in ((SYSTOLIC, "sbp"), (DIASTOLIC, "dbp"))
        ]
        return self._observation("blood_pressure", "vital-signs", BP_PANEL, component=components)

    def _questionnaire(self) -> list[dict[str, Any]]:
        row = self.row
        smoking = {"coding": [_coding(SNOMED, *SMOKING_ANSWERS[row.smoking])]}
        per_week = row.values.get("drinks_per_week", 0.0) if row.drinking else 0.0
        return [
            self._observation("smoking", "social-history", SMOKING, valueCodeableConcept=smoking),
            self._observation(
                "drinking",
                "social-history",
                ALCOHOL,
                valueQuantity=_quantity(per_week / 7, "{drinks}/d", 1),
            ),
            self._observation(
                "exercise",
                "social-history",
                EXERCISE,
                valueQuantity=_quantity(row.exercise_days, "d/wk", 0),
            ),
        ]

    def panel(self, members: list[dict[str, Any]]) -> dict[str, Any]:
        """The grouping Observation; the 판정 (verdict), when given, is its value."""
        extra: dict[str, Any] = {"hasMember": [{"reference": f"Observation/{m['id']}"} for m in members]}  # fmt: skip
        if self.row.verdict:
            extra["valueCodeableConcept"] = {"text": self.row.verdict}
        code = (
            CHECKUP_CODES,
            "general-checkup",
            "국가건강검진 일반건강검진 (NHIS general health checkup)",
        )
        body = self._observation("panel", "exam", ("", ""), **extra)
        body["code"] = {"coding": [_coding(*code)], "text": code[2]}
        return body
