"""The LOINC codes features are read from, one row per analyte, with its unit dimension
(:mod:`khealth.cds.units`) and its Korean and English labels.

Several codes map to one analyte where laboratories report the same quantity under different
LOINC codes (mass and molar concentration, direct and calculated LDL, eGFR by equation). Keys are
the calculators' input names (``systolic_bp``, ``fasting_glucose``, ``hdl``...), so that a
feature feeds a calculator without renaming. Codes checked against LOINC 2.77 (loinc.org).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

LOINC = "http://loinc.org"
Kind = Literal["quantity", "coded"]


@dataclass(frozen=True, slots=True)
class Analyte:
    key: str
    codes: tuple[str, ...]
    dimension: str  # a units.TABLE key; "" for coded values
    label_ko: str
    label_en: str
    kind: Kind = "quantity"


ANALYTES: tuple[Analyte, ...] = (
    Analyte("height", ("8302-2", "3137-7"), "length", "신장", "Height"),
    Analyte("weight", ("29463-7", "3141-9"), "mass", "체중", "Weight"),
    Analyte("bmi", ("39156-5",), "bmi", "체질량지수", "Body mass index"),
    Analyte("waist", ("8280-0", "56086-2", "56115-9"), "length", "허리둘레", "Waist"),
    Analyte("systolic_bp", ("8480-6",), "pressure", "수축기 혈압", "Systolic blood pressure"),
    Analyte("diastolic_bp", ("8462-4",), "pressure", "이완기 혈압", "Diastolic blood pressure"),
    Analyte(
        "fasting_glucose",
        ("1558-6", "76629-5", "14771-0", "77145-1"),
        "glucose",
        "공복혈당",
        "Fasting glucose",
    ),
    Analyte("hba1c", ("4548-4", "17856-6", "59261-8", "41995-2"), "hba1c", "당화혈색소", "HbA1c"),
    Analyte(
        "total_cholesterol",
        ("2093-3", "14647-2"),
        "cholesterol",
        "총콜레스테롤",
        "Total cholesterol",
    ),
    Analyte("hdl", ("2085-9", "14646-4"), "cholesterol", "HDL 콜레스테롤", "HDL cholesterol"),
    Analyte(
        "ldl",
        ("13457-7", "18262-6", "2089-1", "22748-8", "39469-2"),
        "cholesterol",
        "LDL 콜레스테롤",
        "LDL cholesterol",
    ),
    Analyte("triglycerides", ("2571-8", "14927-8"), "triglycerides", "중성지방", "Triglycerides"),
    Analyte("hemoglobin", ("718-7", "59260-0"), "haemoglobin", "혈색소", "Haemoglobin"),
    Analyte("ast", ("1920-8", "30239-8"), "enzyme", "AST", "AST"),
    Analyte("alt", ("1742-6", "1743-4"), "enzyme", "ALT", "ALT"),
    Analyte("ggt", ("2324-2",), "enzyme", "감마지티피", "γ-GT"),
    Analyte(
        "creatinine",
        ("2160-0", "38483-4", "14682-9"),
        "creatinine",
        "혈청 크레아티닌",
        "Serum creatinine",
    ),
    Analyte(
        "egfr",
        ("98979-8", "62238-1", "33914-3", "48642-3", "48643-1", "50044-7"),
        "egfr",
        "사구체여과율(eGFR)",
        "eGFR",
    ),
    Analyte("platelets", ("777-3", "26515-7"), "cell_count", "혈소판", "Platelets"),
    Analyte(
        "acr",
        ("9318-7", "14959-1", "32294-1"),
        "acr",
        "알부민/크레아티닌 비",
        "Albumin/creatinine ratio",
    ),
    Analyte("urine_protein", ("20454-5", "5804-0"), "", "요단백", "Urine protein", "coded"),
    Analyte("smoking_status", ("72166-2",), "", "흡연 상태", "Smoking status", "coded"),
)
BY_KEY: dict[str, Analyte] = {a.key: a for a in ANALYTES}
BY_CODE: dict[str, Analyte] = {code: a for a in ANALYTES for code in a.codes}

#: urine dipstick answers as feeds write them → the checkup calculator's grades
URINE_PROTEIN_GRADES: dict[str, str] = {
    "-": "negative", "neg": "negative", "negative": "negative", "음성": "negative",
    "±": "trace", "+-": "trace", "+/-": "trace", "trace": "trace", "미량": "trace",
    "+": "1+", "+1": "1+", "1+": "1+", "+2": "2+", "2+": "2+", "++": "2+",
    "+3": "3+", "3+": "3+", "+++": "3+", "+4": "4+", "4+": "4+", "++++": "4+",
}  # fmt: skip

#: SNOMED CT and LOINC answer codes for tobacco smoking status → current | former | never
SMOKING_CODES: dict[str, str] = {
    "449868002": "current", "428041000124106": "current", "77176002": "current",
    "65568007": "current", "428071000124103": "current", "428061000124105": "current",
    "LA18976-3": "current", "LA18977-1": "current", "LA18981-3": "current",
    "LA18982-1": "current", "LA18979-7": "current",
    "8517006": "former", "LA15920-4": "former",
    "266919005": "never", "LA18978-9": "never",
}  # fmt: skip
