"""Code systems and identifier systems used in the generated resources.

KR Core code-system URIs (``http://www.hl7korea.or.kr/CodeSystem/...``) as listed in the KR Core
IG 2.0.0; LOINC, UCUM, SNOMED CT, WHO ATC and CVX by their standard URIs. Identifier systems the
platform defines itself live under `KHEALTH_SID`. Drug product codes are *synthetic* (a local
code system), because the generator must not pass invented numbers off as HIRA EDI codes; the ATC
code on every MedicationRequest is real.
"""

from __future__ import annotations

KR_CS = "http://www.hl7korea.or.kr/CodeSystem/"
KCD8 = KR_CS + "kostat-kcd-8"
HIRA_ORG_TYPES = KR_CS + "hira-healthcare-organization-types"
HIRA_DEPARTMENT = KR_CS + "hira-medical-department"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
ATC = "http://www.whocc.no/atc"
CVX = "http://hl7.org/fhir/sid/cvx"
DICOM_DCM = "http://dicom.nema.org/resources/ontology/DCM"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
ENDPOINT_CONNECTION = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"
DOCUMENT_TYPE_LOINC = LOINC
SERVICE_CATEGORY = "http://terminology.hl7.org/CodeSystem/service-category"

KHEALTH = "https://khealth.example.org/fhir/"
KHEALTH_SID = KHEALTH + "sid/"
SID_RRN = KHEALTH_SID + "kr-rrn"
SID_CI = KHEALTH_SID + "kr-ci"
SID_HIRA_FACILITY = KHEALTH_SID + "hira-facility-code"
SID_LICENSE = KHEALTH_SID + "mohw-medical-license"
SID_MRN_PREFIX = KHEALTH_SID + "mrn/"
SYNTHETIC_DRUG = KHEALTH + "CodeSystem/synthetic-drug-product"
EMERGENCY_TIER = KHEALTH + "CodeSystem/emergency-tier"
CAPABILITY = KHEALTH + "CodeSystem/facility-capability"
ENCOUNTER_TYPE = KHEALTH + "CodeSystem/encounter-type"
EXT_BEDS = KHEALTH + "StructureDefinition/bed-count"

# HIRA 요양기관 종별 codes.
ORG_TYPE_DISPLAY = {
    "01": "상급종합병원",
    "11": "종합병원",
    "21": "병원",
    "28": "요양병원",
    "31": "의원",
    "41": "치과병원",
    "51": "치과의원",
    "71": "보건소",
    "93": "한의원",
}

# HIRA 진료과목 codes.
DEPARTMENTS = {
    "00": "일반의",
    "01": "내과",
    "02": "신경과",
    "03": "정신건강의학과",
    "04": "외과",
    "05": "정형외과",
    "06": "신경외과",
    "07": "흉부외과",
    "08": "성형외과",
    "09": "마취통증의학과",
    "10": "산부인과",
    "11": "소아청소년과",
    "12": "안과",
    "13": "이비인후과",
    "14": "피부과",
    "15": "비뇨의학과",
    "16": "영상의학과",
    "21": "재활의학과",
    "23": "가정의학과",
    "24": "응급의학과",
    "49": "치과",
    "80": "한방",
}


def coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    out = {"system": system, "code": code}
    if display is not None:
        out["display"] = display
    return out


def concept(system: str, code: str, display: str, text: str | None = None) -> dict[str, object]:
    return {"coding": [coding(system, code, display)], "text": text or display}
