"""CDS Hooks cards (https://cds-hooks.hl7.org/1.0/#card-attributes) built from a person's
features: what each card says, when, and with which indicator, source, links and suggestions.

Wording: Korean first (the summary is Korean; the detail gives Korean, then English), and as
support, never as a diagnosis ("consider", "review", "결과 확인"); every detail ends with the
values used, each with its date and facility, and the disclaimer. Summaries are kept under 140
characters as the specification requires (:class:`Card` refuses a longer one).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from khealth.cds import risks
from khealth.cds.analytes import BY_KEY, LOINC
from khealth.cds.features import Measurement, PersonFeatures

Indicator = Literal["info", "warning", "critical"]
SUMMARY_LIMIT = 140
SOURCE_LABEL = "K-Health 위험도 엔진"
DISCLAIMER = "_임상 판단을 돕는 참고 정보이며 진단이 아닙니다. Decision support, not a diagnosis._"
PCE_URL = "https://doi.org/10.1161/01.cir.0000437741.48606.98"
KDIGO_URL = "https://kdigo.org/guidelines/ckd-evaluation-and-management/"
ADA_URL = "https://doi.org/10.2337/dc24-S002"
METFORMIN_URL = "https://www.fda.gov/drugs/drug-safety-and-availability/fda-drug-safety-communication-fda-revises-warnings-regarding-use-diabetes-medicine-metformin-certain"
FIB4_URL = "https://doi.org/10.1002/hep.21178"
KSH_URL = "https://www.koreanhypertension.org"
PCE_CATEGORY_KO = {"low": "낮음", "borderline": "경계", "intermediate": "중간", "high": "높음"}


@dataclass(frozen=True, slots=True)
class Suggestion:
    label: str
    resource: dict[str, Any]
    recommended: bool = False
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "uuid": self.uuid, "isRecommended": self.recommended,
                "actions": [{"type": "create", "description": self.label,
                             "resource": self.resource}]}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Card:
    summary: str
    indicator: Indicator
    detail: str
    source_url: str
    topic: str  # a stable code of what the card is about, for feedback statistics
    links: tuple[tuple[str, str], ...] = ()  # (label, absolute url)
    suggestions: tuple[Suggestion, ...] = ()
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        if len(self.summary) >= SUMMARY_LIMIT:
            raise ValueError("a card summary must be shorter than 140 characters")

    def as_dict(self) -> dict[str, Any]:
        card: dict[str, Any] = {
            "uuid": self.uuid,
            "summary": self.summary,
            "indicator": self.indicator,
            "detail": self.detail,
            "source": {"label": SOURCE_LABEL, "url": self.source_url,
                       "topic": {"system": "https://khealth.example.org/fhir/CodeSystem/cds-topic",
                                 "code": self.topic}},
            "links": [{"label": label, "url": url, "type": "absolute"}
                      for label, url in self.links],
        }  # fmt: skip
        if self.suggestions:
            card["suggestions"] = [s.as_dict() for s in self.suggestions]
            card["selectionBehavior"] = "at-most-one"
        return card


# -- patient-view ------------------------------------------------------------------------


def patient_view(features: PersonFeatures, base_url: str) -> list[Card]:
    cards = [
        _pce(features, base_url, ordering=False),
        _kidney(features, base_url),
        _glycaemia(features, base_url),
        _blood_pressure(features),
        _fib4(features, base_url),
    ]
    return [c for c in cards if c is not None]


def _pce(features: PersonFeatures, base_url: str, ordering: bool) -> Card | None:
    assessed = risks.pce(features)
    link = (("계산 근거: PCE 계산기", f"{base_url}/api/cds/calculators/pce"),)
    if assessed.result is None:
        return (
            _lipids_missing(features, assessed, link)
            if ordering or _lipids_only(assessed)
            else None
        )
    value, category = assessed.result.result, str(assessed.result.category)
    indicator: Indicator = "warning" if category in ("intermediate", "high") else "info"
    summary = f"10년 ASCVD 위험 {value:.1f}% ({PCE_CATEGORY_KO[category]}) — PCE 추정"
    detail = "\n\n".join([
        f"**10년 죽상경화성 심혈관질환 위험 {value:.1f}%** (2013 ACC/AHA PCE, 분류: "
        f"{PCE_CATEGORY_KO[category]}). 미국 코호트 기반 공식으로 한국인에서는 위험을 높게 "
        "추정하는 경향이 있습니다. 스타틴 치료 논의 시 참고하십시오.",
        f"10-year ASCVD risk {value:.1f}% ({category}) by the Pooled Cohort Equations; "
        "US-derived, tends to over-estimate risk in Korean adults.",
        _inputs_text(assessed.inputs, assessed.evidence),
        DISCLAIMER,
    ])  # fmt: skip
    return Card(summary, indicator, detail, PCE_URL, "ascvd-risk", link)


def _lipids_only(assessed: risks.RiskAssessment) -> bool:
    return bool(assessed.missing) and set(assessed.missing) <= {"total_cholesterol", "hdl"}


def _lipids_missing(
    features: PersonFeatures, assessed: risks.RiskAssessment, link: tuple[tuple[str, str], ...]
) -> Card | None:
    age = features.age
    if age is None or not 40 <= age < 80:
        return None
    missing = ", ".join(assessed.missing or assessed.out_of_range)
    detail = "\n\n".join([
        f"PCE 10년 위험을 계산하지 못했습니다. 없거나 범위를 벗어난 입력: {missing}. "
        "최근 2년 내 지질 검사 결과가 없으면 검사를 고려하십시오.",
        f"The 10-year ASCVD risk could not be computed; missing or out of range: {missing}.",
        DISCLAIMER,
    ])  # fmt: skip
    suggestions: tuple[Suggestion, ...] = ()
    if set(assessed.missing) & {"total_cholesterol", "hdl"}:
        suggestions = (_order("지질 검사(총콜레스테롤·HDL·LDL·TG) 주문", "57698-3",
                              "Lipid panel with direct LDL - Serum or Plasma", features),)  # fmt: skip
    return Card("10년 ASCVD 위험 계산 불가 — 입력값 부족", "info", detail, PCE_URL,
                "ascvd-risk-missing", link, suggestions)  # fmt: skip


def _kidney(features: PersonFeatures, base_url: str) -> Card | None:
    found = risks.egfr_value(features)
    if found is None or found[0] >= 60:
        return None
    value, evidence = found
    stage = _g_stage(value)
    indicator: Indicator = "critical" if value < 30 else "warning"
    summary = f"eGFR {value:.0f} (KDIGO {stage}) — 신장 기능 저하 소견, 약물 용량 검토 고려"
    detail = "\n\n".join([
        f"최근 eGFR {value:.0f} mL/min/1.73m² (KDIGO {stage}). 3개월 이상 지속되는지 확인이 "
        "필요하며, 신장으로 배설되는 약물의 용량 검토를 고려하십시오.",
        f"Latest eGFR {value:.0f} ({stage}); CKD needs the abnormality for more than 3 months.",
        _trend_text(features, "egfr"),
        _evidence_text((evidence,)),
        DISCLAIMER,
    ])  # fmt: skip
    link = (("계산 근거: CKD-EPI 2021", f"{base_url}/api/cds/calculators/ckd_epi_2021"),)
    return Card(summary, indicator, detail, KDIGO_URL, "kidney-function", link)


def _g_stage(egfr: float) -> str:
    for lower, stage in ((90, "G1"), (60, "G2"), (45, "G3a"), (30, "G3b"), (15, "G4")):
        if egfr >= lower:
            return stage
    return "G5"


def _glycaemia(features: PersonFeatures, base_url: str) -> Card | None:
    if not (features.knows("Condition") and features.knows("MedicationRequest")):
        return None
    if risks.diabetes(features):
        return None
    hba1c = features.latest("hba1c", within_days=risks.LAB_DAYS)
    glucose = features.latest("fasting_glucose", within_days=risks.LAB_DAYS)
    recent_hba1c = features.latest("hba1c", within_days=180)
    suggestions = () if recent_hba1c else (
        _order("당화혈색소(HbA1c) 검사 주문", "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood",
               features),
    )  # fmt: skip
    evidence = tuple(m for m in (hba1c, glucose) if m is not None)
    if (hba1c and hba1c.number >= 6.5) or (glucose and glucose.number >= 126):
        summary = "당뇨병 기준 범위의 혈당 수치 — 진단 기록 없음, 확인 검사 고려"
        indicator: Indicator = "warning"
    elif (glucose and glucose.number >= 100) or (hba1c and hba1c.number >= 5.7):
        summary = "공복혈당장애·당뇨병 전단계 범위 수치 — 추적 검사 고려"
        indicator = "info"
    else:
        return None
    detail = "\n\n".join([
        "당뇨병 진단 기록이나 당뇨병 약 처방이 없는 환자에서 기준 범위의 수치가 있습니다 "
        "(진단 기준: HbA1c ≥6.5% 또는 공복혈당 ≥126 mg/dL, 반복 확인 필요).",
        "Glucose values in the diabetes or prediabetes range without a recorded diagnosis; "
        "ADA criteria need confirmation by a repeat test.",
        _evidence_text(evidence),
        DISCLAIMER,
    ])  # fmt: skip
    return Card(summary, indicator, detail, ADA_URL, "glycaemia", (), suggestions)


def _blood_pressure(features: PersonFeatures) -> Card | None:
    if not features.knows("MedicationRequest") or features.on("antihypertensive"):
        return None
    readings = [m for m in features.trend("systolic_bp")
                if (features.as_of - m.when.date()).days <= 365][-3:]  # fmt: skip
    high = [m for m in readings if m.number >= 140]
    if len(high) < 2:
        return None
    detail = "\n\n".join([
        f"최근 1년 수축기 혈압 {len(readings)}회 중 {len(high)}회가 140 mmHg 이상이며 "
        "혈압약 처방이 없습니다. 가정혈압 확인과 재측정을 고려하십시오.",
        f"{len(high)} of the last {len(readings)} systolic readings are >= 140 mmHg with no "
        "current antihypertensive.",
        _evidence_text(tuple(high)),
        DISCLAIMER,
    ])  # fmt: skip
    summary = f"최근 수축기 혈압 {len(high)}회 140 이상 — 혈압약 처방 없음, 재측정 고려"
    return Card(summary, "warning", detail, KSH_URL, "blood-pressure")


def _fib4(features: PersonFeatures, base_url: str) -> Card | None:
    assessed = risks.fib4(features)
    if assessed.result is None or assessed.result.category == "low":
        return None
    value, category = assessed.result.result, str(assessed.result.category)
    indicator: Indicator = "warning" if category == "high" else "info"
    label = "높음" if category == "high" else "불확정"
    detail = "\n\n".join([
        f"FIB-4 지수 {value:.2f} (간섬유화 위험 {label}). 탄성초음파 등 추가 평가를 고려하십시오.",
        f"FIB-4 {value:.2f} ({category} fibrosis risk).",
        _inputs_text(assessed.inputs, assessed.evidence),
        DISCLAIMER,
    ])  # fmt: skip
    link = (("계산 근거: FIB-4", f"{base_url}/api/cds/calculators/fib4"),)
    return Card(f"FIB-4 {value:.2f} — 간섬유화 위험 {label}", indicator, detail, FIB4_URL,
                "liver-fibrosis", link)  # fmt: skip


# -- order-select --------------------------------------------------------------------------


def order_select(
    features: PersonFeatures, order_classes: frozenset[str], base_url: str
) -> list[Card]:
    """Cards for the classes of the selected draft orders (statin, antihypertensive,
    metformin)."""
    cards: list[Card | None] = []
    if order_classes & {"statin", "antihypertensive"}:
        cards.append(_pce(features, base_url, ordering=True))
    if "metformin" in order_classes:
        cards.append(_metformin(features, base_url))
    return [c for c in cards if c is not None]


def _metformin(features: PersonFeatures, base_url: str) -> Card | None:
    found = risks.egfr_value(features, days=365)
    link = (("계산 근거: CKD-EPI 2021", f"{base_url}/api/cds/calculators/ckd_epi_2021"),)
    if found is None:
        detail = "\n\n".join([
            "최근 1년 내 eGFR 또는 크레아티닌 결과가 없습니다. 메트포르민 시작 전 신기능 확인을 "
            "고려하십시오.", "No eGFR or creatinine within a year; check kidney function "
            "before starting metformin.", DISCLAIMER])  # fmt: skip
        suggestion = _order("혈청 크레아티닌(eGFR) 검사 주문", "2160-0",
                            "Creatinine [Mass/volume] in Serum or Plasma", features)  # fmt: skip
        return Card("메트포르민 처방 — 최근 1년 eGFR 결과 없음, 신기능 확인 고려", "info",
                    detail, METFORMIN_URL, "metformin-egfr", link, (suggestion,))  # fmt: skip
    value, evidence = found
    if value >= 45:
        return None
    if value < 30:
        summary = f"eGFR {value:.0f} (<30): 메트포르민은 허가사항상 금기입니다 — 처방 재검토"
        indicator: Indicator = "critical"
    else:
        summary = f"eGFR {value:.0f} (30–44): 메트포르민 신규 시작은 권장되지 않음 — 용량 검토"
        indicator = "warning"
    detail = "\n\n".join([
        "FDA(2016) 허가사항: eGFR <30 금기, 30–45에서 신규 시작 권장하지 않음. 투약 중이면 "
        "위험·이익을 재평가하십시오.",
        "FDA 2016 labelling: contraindicated below eGFR 30; starting not recommended at 30-45.",
        _evidence_text((evidence,)),
        DISCLAIMER,
    ])  # fmt: skip
    return Card(summary, indicator, detail, METFORMIN_URL, "metformin-egfr", link)


# -- pieces ----------------------------------------------------------------------------------


def _order(label: str, loinc: str, display: str, features: PersonFeatures) -> Suggestion:
    request = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "code": {"coding": [{"system": LOINC, "code": loinc, "display": display}], "text": label},
        "subject": {"reference": f"Patient/{features.patient_ids[0]}"},
    }
    return Suggestion(label, request)


def _value_text(m: Measurement) -> str:
    analyte = BY_KEY[m.analyte]
    value = f"{round(m.value, 1):g}" if isinstance(m.value, float) else m.value
    facility = m.provenance.facility or "기관 미상"
    return (f"- {analyte.label_ko} {value} {m.unit} ({m.when.date().isoformat()}, {facility}, "
            f"{m.provenance.resource})")  # fmt: skip


def _evidence_text(evidence: tuple[Measurement, ...]) -> str:
    lines = [_value_text(m) for m in evidence]
    return "사용한 값 (values used):\n\n" + "\n".join(lines) if lines else ""


def _inputs_text(inputs: Mapping[str, object], evidence: tuple[Measurement, ...]) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in inputs.items())
    return f"입력 (inputs): {shown}\n\n{_evidence_text(evidence)}"


def _trend_text(features: PersonFeatures, key: str) -> str:
    recent = features.trend(key)[-4:]
    if len(recent) < 2:
        return ""
    points = ", ".join(f"{m.when.date().isoformat()} {m.number:.0f}" for m in recent)
    return f"추이 (trend): {points}"
