"""What the training pipeline reads from a FHIR record: the codes behind every feature and
outcome, in one place so that the model card can cite them.

Observations are recognised by LOINC, conditions by KCD-8 (the Korean ICD-10 modification, so
ICD-10 ranges apply), prescriptions by WHO ATC. Units are normalised to the checkup's units
(mg/dL, mmHg, kg/m², cm, U/L, mL/min/1.73 m²); a value in an unknown unit is ignored rather
than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

LOINC = "http://loinc.org"
KCD8 = "http://www.hl7korea.or.kr/CodeSystem/kostat-kcd-8"
ATC = "http://www.whocc.no/atc"
SNOMED = "http://snomed.info/sct"
CHECKUP_ENCOUNTER = "national-health-checkup"


@dataclass(frozen=True, slots=True)
class Analyte:
    """One numeric observation kept as its latest value before the index date."""

    feature: str
    loinc: str
    units: dict[str, float]  # UCUM code -> factor to the feature's unit


_MG_DL = {"mg/dL": 1.0}
ANALYTES: tuple[Analyte, ...] = (
    Analyte("bmi", "39156-5", {"kg/m2": 1.0}),
    Analyte("waist", "8280-0", {"cm": 1.0}),
    # mmol/L -> mg/dL: glucose ×18.016, cholesterol ×38.67, triglyceride ×88.57
    Analyte("glucose", "1558-6", {"mg/dL": 1.0, "mmol/L": 18.016}),
    Analyte("hba1c", "4548-4", {"%": 1.0}),
    Analyte("total_cholesterol", "2093-3", {"mg/dL": 1.0, "mmol/L": 38.67}),
    Analyte("hdl", "2085-9", {"mg/dL": 1.0, "mmol/L": 38.67}),
    Analyte("ldl", "13457-7", {"mg/dL": 1.0, "mmol/L": 38.67}),
    Analyte("triglyceride", "2571-8", {"mg/dL": 1.0, "mmol/L": 88.57}),
    Analyte("hemoglobin", "718-7", {"g/dL": 1.0}),
    Analyte("ast", "1920-8", {"U/L": 1.0}),
    Analyte("alt", "1742-6", {"U/L": 1.0}),
    Analyte("ggt", "2324-2", {"U/L": 1.0}),
    Analyte("creatinine", "2160-0", {"mg/dL": 1.0, "umol/L": 1 / 88.4}),
    Analyte("egfr", "98979-8", {"mL/min/{1.73_m2}": 1.0}),
    Analyte("drinks_per_day", "74013-4", {"{drinks}/d": 1.0}),
    Analyte("exercise_days", "89555-7", {"/wk": 1.0}),
)
ANALYTE_BY_LOINC = {a.loinc: a for a in ANALYTES}
BP_PANEL = "85354-9"
SYSTOLIC = "8480-6"
DIASTOLIC = "8462-4"
URINE_PROTEIN = "20454-5"
SMOKING_STATUS = "72166-2"
# SNOMED CT smoking status -> (current, former)
SMOKING = {
    "266919005": (0.0, 0.0),  # never smoked tobacco
    "8517006": (0.0, 1.0),  # ex-smoker
    "449868002": (1.0, 0.0),  # smokes tobacco daily
    "77176002": (1.0, 0.0),  # smoker
}
URINE_PROTEIN_GRADE = {"-": 0.0, "±": 1.0, "+1": 2.0, "+2": 3.0, "+3": 4.0, "+4": 4.0}

# KCD-8 / ICD-10 code ranges, compared on the first three characters ("I20" <= code[:3] <= "I25").
DIAGNOSIS_GROUPS: dict[str, tuple[tuple[str, str], ...]] = {
    "dx_hypertension": (("I10", "I15"),),
    "dx_diabetes": (("E10", "E14"),),
    "dx_dyslipidaemia": (("E78", "E78"),),
    "dx_ckd": (("N18", "N18"),),
    "dx_ischaemic_heart": (("I20", "I25"),),
    "dx_cerebrovascular": (("I60", "I69"),),
    "dx_atrial_fibrillation": (("I48", "I48"),),
    "dx_heart_failure": (("I50", "I50"),),
    "dx_copd": (("J44", "J44"),),
    "dx_depression": (("F32", "F33"),),
    "dx_cancer": (("C00", "C97"),),
    "dx_liver": (("B18", "B18"), ("K70", "K77")),
    "dx_gout": (("M10", "M10"),),
}
# WHO ATC prefixes of the drug classes kept as "ever prescribed before the index date".
DRUG_CLASSES: dict[str, tuple[str, ...]] = {
    "rx_antihypertensive": ("C02", "C03", "C07", "C08", "C09"),
    "rx_lipid_lowering": ("C10",),
    "rx_antidiabetic": ("A10",),
    "rx_antithrombotic": ("B01",),
    "rx_nsaid": ("M01A",),
}
DISTRICTS: dict[str, str] = {  # Patient.address.district -> feature suffix
    "동구": "dong_gu",
    "서구": "seo_gu",
    "남구": "nam_gu",
    "북구": "buk_gu",
    "광산구": "gwangsan_gu",
}

# Outcome code ranges.
TYPE2_DIABETES = (("E11", "E11"),)
ANY_DIABETES = (("E10", "E14"),)
CARDIOVASCULAR = (("I20", "I25"), ("I60", "I69"))
CKD_STAGE_3_PLUS = ("N18.3", "N18.4", "N18.5")


def in_ranges(code: str, ranges: tuple[tuple[str, str], ...]) -> bool:
    head = code[:3]
    return any(low <= head <= high for low, high in ranges)


def in_drug_class(atc: str, prefixes: tuple[str, ...]) -> bool:
    return any(atc.startswith(p) for p in prefixes)
