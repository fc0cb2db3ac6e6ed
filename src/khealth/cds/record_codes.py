"""Code groups the features and cards ask about: medication classes by WHO ATC code (with
ingredient names as a fallback for orders that carry no ATC coding) and diagnosis groups by
KCD-8 / ICD-10 code prefix (KCD-8 is ICD-10 based, so one prefix table serves both).

ATC: WHO Collaborating Centre for Drug Statistics Methodology, ATC index 2024.
"""

from __future__ import annotations

from collections.abc import Iterable

ATC = "http://www.whocc.no/atc"
KCD8 = "http://www.hl7korea.or.kr/CodeSystem/kostat-kcd-8"
ICD10_SYSTEMS = frozenset(
    {KCD8, "http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cm",
     "http://www.who.int/classifications/icd10"}
)  # fmt: skip

# class → ATC prefixes. Antihypertensives: C02 antihypertensives, C03 diuretics, C07 beta
# blockers, C08 calcium channel blockers, C09 agents on the renin-angiotensin system.
ATC_CLASSES: dict[str, tuple[str, ...]] = {
    "antihypertensive": ("C02", "C03", "C07", "C08", "C09"),
    "statin": ("C10AA", "C10BA", "C10BX"),
    "diabetes": ("A10",),
    "metformin": ("A10BA02", "A10BD"),  # alone, and the combinations that contain it
}

# class → ingredient names (English and Korean, lower case) for orders without ATC.
NAME_CLASSES: dict[str, tuple[str, ...]] = {
    "antihypertensive": ("amlodipine", "losartan", "valsartan", "telmisartan", "olmesartan",
                         "candesartan", "irbesartan", "lisinopril", "enalapril", "ramipril",
                         "perindopril", "hydrochlorothiazide", "indapamide", "chlorthalidone",
                         "carvedilol", "bisoprolol", "atenolol", "metoprolol", "nebivolol",
                         "nifedipine", "암로디핀", "로사르탄", "발사르탄", "텔미사르탄",
                         "올메사르탄", "칸데사르탄", "이르베사르탄", "히드로클로로티아지드",
                         "인다파미드", "카르베딜롤", "비소프롤롤", "아테놀롤", "니페디핀"),
    "statin": ("atorvastatin", "rosuvastatin", "simvastatin", "pravastatin", "pitavastatin",
               "fluvastatin", "lovastatin", "아토르바스타틴", "로수바스타틴", "심바스타틴",
               "프라바스타틴", "피타바스타틴"),
    "diabetes": ("metformin", "glimepiride", "gliclazide", "sitagliptin", "linagliptin",
                 "gemigliptin", "dapagliflozin", "empagliflozin", "pioglitazone", "insulin",
                 "메트포르민", "글리메피리드", "글리클라지드", "시타글립틴", "리나글립틴",
                 "제미글립틴", "다파글리플로진", "엠파글리플로진", "피오글리타존", "인슐린"),
    "metformin": ("metformin", "메트포르민"),
}  # fmt: skip

# group → KCD-8 / ICD-10 code prefixes
DIAGNOSIS_GROUPS: dict[str, tuple[str, ...]] = {
    "diabetes": ("E10", "E11", "E12", "E13", "E14"),
    "hypertension": ("I10", "I11", "I12", "I13", "I15"),
    "dyslipidaemia": ("E78",),
    "ckd": ("N18",),
    "ascvd": ("I20", "I21", "I22", "I23", "I24", "I25", "I63", "I64", "I65", "I66", "I70"),
    "chronic_liver_disease": ("B18", "K70", "K73", "K74", "K76.0"),
}


def classes_of(atc_codes: Iterable[str], names: Iterable[str]) -> frozenset[str]:
    """Every class an order belongs to, by its ATC codes, else by the ingredient in its name."""
    codes = [c.upper() for c in atc_codes]
    found = {
        name for name, prefixes in ATC_CLASSES.items()
        if any(c.startswith(p) for c in codes for p in prefixes)
    }  # fmt: skip
    if not codes:
        text = " ".join(names).lower()
        found |= {name for name, words in NAME_CLASSES.items() if any(w in text for w in words)}
    return frozenset(found)


def in_group(code: str, group: str) -> bool:
    return any(code.upper().startswith(p) for p in DIAGNOSIS_GROUPS[group])
