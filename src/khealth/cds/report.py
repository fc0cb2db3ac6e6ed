"""The personal health report for the citizen app: the latest national checkup with a judgement
per item, trends per item for charts, risks explained in plain Korean (or English), and
concrete next steps (screening due, lifestyle, see a doctor), each with its source.

Everything here is support, not diagnosis: the report carries a disclaimer, the texts say
"범위입니다" / "상담해 보세요", and a risk that lacks an input says which input is missing rather
than guessing it. Pure: it takes :class:`PersonFeatures` (read through the record service by
:func:`khealth.cds.features.gather`) and returns JSON-ready dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from khealth.cds import risks, screening
from khealth.cds.analytes import BY_KEY
from khealth.cds.calculators import checkup
from khealth.cds.features import Measurement, PersonFeatures

Lang = Literal["ko", "en"]
Json = dict[str, Any]

CHECKUP_ITEMS = ("height", "weight", "bmi", "waist", "systolic_bp", "diastolic_bp",
                 "fasting_glucose", "total_cholesterol", "hdl", "ldl", "triglycerides",
                 "hemoglobin", "ast", "alt", "ggt", "creatinine", "egfr", "urine_protein")  # fmt: skip
TREND_ITEMS = (*CHECKUP_ITEMS[:-1], "hba1c")
DISCLAIMER = {
    "ko": "이 보고서는 건강 관리를 돕는 참고 정보이며 의학적 진단이 아닙니다. 결과에 대한 판단과 "
          "치료는 의사와 상담하세요.",
    "en": "This report is information to support your health care, not a medical diagnosis. "
          "Talk to a doctor about your results and any treatment.",
}  # fmt: skip
JUDGEMENT_TEXT = {
    checkup.NORMAL_A: ("정상 범위입니다.", "Within the normal range."),
    checkup.NORMAL_B: ("경계 범위입니다. 생활습관 관리가 도움이 됩니다.",
                       "Borderline. Lifestyle changes can help."),
    checkup.SUSPECTED: ("질환이 의심되는 범위입니다. 의사와 상담해 확인 검사를 받아보세요.",
                        "In the range where a condition is suspected. See a doctor for a "
                        "confirming test."),
    checkup.UNCLASSIFIED: ("판정 기준이 없는 값입니다.", "The checkup table gives no grade."),
}  # fmt: skip
INPUT_LABELS = {
    "age": ("나이", "age"), "sex": ("성별", "sex"),
    "total_cholesterol": ("총콜레스테롤(최근 2년)", "total cholesterol (last 2 years)"),
    "hdl": ("HDL 콜레스테롤(최근 2년)", "HDL cholesterol (last 2 years)"),
    "systolic_bp": ("수축기 혈압(최근 2년)", "systolic blood pressure (last 2 years)"),
    "on_bp_treatment": ("혈압약 복용 여부", "blood pressure treatment"),
    "smoker": ("흡연 여부", "smoking status"), "diabetes": ("당뇨병 여부", "diabetes"),
    "creatinine": ("혈청 크레아티닌(최근 2년)", "serum creatinine (last 2 years)"),
    "bmi": ("체질량지수(최근 2년)", "BMI (last 2 years)"),
    "waist": ("허리둘레(최근 2년)", "waist (last 2 years)"),
    "bp_medication": ("혈압약 복용 경험", "ever on blood pressure medication"),
    "high_glucose_history": ("혈당 검사 기록", "a glucose test result"),
    "physically_active": ("하루 30분 이상 신체활동 (직접 답변)", "30 minutes of activity daily (your answer)"),
    "daily_vegetables": ("매일 채소·과일 섭취 (직접 답변)", "vegetables or fruit daily (your answer)"),
    "family_diabetes": ("가족 중 당뇨병 (직접 답변)", "diabetes in the family (your answer)"),
}  # fmt: skip


def _t(lang: Lang, ko: str, en: str) -> str:
    return ko if lang == "ko" else en


def _label(key: str, lang: Lang) -> str:
    analyte = BY_KEY[key]
    return analyte.label_ko if lang == "ko" else analyte.label_en


def health_report(
    features: PersonFeatures, lang: Lang = "ko", answers: Mapping[str, object] | None = None
) -> Json:
    latest = latest_checkup(features, lang)
    assessed = [
        risks.pce(features), risks.framingham(features), risks.ckd_epi(features),
        risks.findrisc(features, answers),
    ]  # fmt: skip
    return {
        "patient": {
            "id": features.patient_ids[0],
            "sex": features.sex,
            "age": None if features.age is None else int(features.age),
        },
        "as_of": features.as_of.isoformat(),
        "language": lang,
        "latest_checkup": latest,
        "trends": trends(features, lang),
        "risks": [explain_risk(a, lang) for a in assessed],
        "next_steps": next_steps(features, latest, assessed, lang),
        "not_readable": list(features.unreadable),
        "disclaimer": DISCLAIMER[lang],
    }


# -- checkup and trends -----------------------------------------------------------------------


def latest_checkup(features: PersonFeatures, lang: Lang) -> Json | None:
    by_encounter: dict[str, dict[str, Measurement]] = {}
    for key in CHECKUP_ITEMS:
        for m in features.trend(key):
            encounter = (m.provenance.encounter or "").removeprefix("Encounter/")
            if encounter in features.checkup_encounters:
                by_encounter.setdefault(encounter, {})[key] = m
    if not by_encounter:
        return None
    values = max(by_encounter.values(), key=lambda v: max(m.when for m in v.values()))
    judged = _judge(features, values)
    items = [_item(key, m, judged, lang) for key, m in values.items()]
    worst = max(judged.values(), key=checkup.SEVERITY.__getitem__) if judged else None
    first = next(iter(values.values()))
    return {
        "date": max(m.when for m in values.values()).date().isoformat(),
        "facility": first.provenance.facility,
        "items": items,
        "overall": worst,
        "overall_label": None if worst is None else _judgement_label(worst, lang),
        "source": {"label": checkup.SOURCE},
    }


def _judge(features: PersonFeatures, values: Mapping[str, Measurement]) -> dict[str, str]:
    if features.sex is None:
        return {}
    given = {k: m.value for k, m in values.items() if k not in ("height", "weight")}
    return checkup.judge_all(features.sex, given)


def _judgement_label(judgement: str, lang: Lang) -> str:
    english = {"normal_a": "normal (A)", "normal_b": "borderline (B)",
               "suspected_disease": "suspected disease", "unclassified": "no grade"}  # fmt: skip
    return checkup.LABELS_KO[judgement] if lang == "ko" else english[judgement]


def _item(key: str, m: Measurement, judged: Mapping[str, str], lang: Lang) -> Json:
    judgement = judged.get("blood_pressure" if key.endswith("_bp") else key)
    value = round(m.value, 2) if isinstance(m.value, float) else m.value
    item: Json = {"item": key, "label": _label(key, lang), "value": value, "unit": m.unit,
                  "judgement": judgement, "provenance": m.provenance.as_dict()}  # fmt: skip
    if judgement is not None:
        ko, en = JUDGEMENT_TEXT[judgement]
        item["judgement_label"] = _judgement_label(judgement, lang)
        item["explanation"] = _t(lang, ko, en)
    return item


def trends(features: PersonFeatures, lang: Lang) -> dict[str, Json]:
    shown: dict[str, Json] = {}
    for key in TREND_ITEMS:
        series = features.trend(key)
        if not series:
            continue
        shown[key] = {
            "label": _label(key, lang),
            "unit": series[-1].unit,
            "points": [{"date": m.when.date().isoformat(), "value": round(m.number, 2),
                        "facility": m.provenance.facility,
                        "observation": m.provenance.resource} for m in series],
        }  # fmt: skip
    return shown


# -- risks --------------------------------------------------------------------------------------

RISK_TITLES = {
    "pce": ("10년 심뇌혈관질환(ASCVD) 위험", "10-year ASCVD risk"),
    "framingham": ("10년 심혈관질환 위험 (프레이밍햄)", "10-year cardiovascular risk (Framingham)"),
    "ckd_epi_2021": ("콩팥 기능 (eGFR)", "Kidney function (eGFR)"),
    "findrisc": ("10년 당뇨병 위험 점수 (FINDRISC)", "10-year diabetes risk score (FINDRISC)"),
}  # fmt: skip


def explain_risk(assessed: risks.RiskAssessment, lang: Lang) -> Json:
    ko, en = RISK_TITLES[assessed.calculator]
    shown: Json = {"name": assessed.calculator, "title": _t(lang, ko, en),
                   "computed": assessed.computed,
                   "missing_inputs": [_input_label(n, lang) for n in assessed.missing],
                   "out_of_range_inputs": [_input_label(n, lang) for n in assessed.out_of_range],
                   "inputs_used": dict(assessed.inputs),
                   "evidence": [m.as_dict() for m in assessed.evidence]}  # fmt: skip
    result = assessed.result
    if result is None:
        shown["explanation"] = _not_computed(assessed, lang)
        return shown
    shown |= {"result": round(result.result, 1), "unit": result.unit, "category": result.category,
              "source": {"label": result.source},
              "explanation": _explanation(assessed.calculator, result.result,
                                          str(result.category), lang)}  # fmt: skip
    return shown


def _input_label(name: str, lang: Lang) -> str:
    ko, en = INPUT_LABELS.get(name, (name, name))
    return _t(lang, ko, en)


def _not_computed(assessed: risks.RiskAssessment, lang: Lang) -> str:
    if assessed.missing:
        names = ", ".join(_input_label(n, lang) for n in assessed.missing)
        return _t(
            lang,
            f"기록에 다음 정보가 없어 계산하지 않았습니다(추정하지 않음): {names}.",
            f"Not calculated: the record lacks {names} (we do not guess them).",
        )
    names = ", ".join(_input_label(n, lang) for n in assessed.out_of_range)
    return _t(
        lang,
        f"이 계산식이 검증된 범위를 벗어난 값이 있어 계산하지 않았습니다: {names}.",
        f"Not calculated: outside the range the formula was validated for: {names}.",
    )


def _explanation(name: str, value: float, category: str, lang: Lang) -> str:
    if name == "pce":
        return _t(
            lang,
            f"앞으로 10년 안에 심근경색이나 뇌졸중이 생길 가능성을 미국에서 만든 공식으로 "
            f"추정하면 약 {value:.1f}%입니다. 이 공식은 한국인의 위험을 실제보다 높게 "
            "추정하는 경향이 있어 참고용입니다.",
            f"An estimated {value:.1f}% chance of a heart attack or stroke in the next 10 "
            "years, by a US formula that tends to over-estimate risk for Koreans.",
        )
    if name == "framingham":
        return _t(
            lang,
            f"10년 안에 협심증·심근경색·뇌졸중·심부전 등이 생길 가능성은 약 {value:.1f}%로 "
            "추정됩니다 (참고용).",
            f"About {value:.1f}% chance of a heart or blood-vessel disease in 10 years "
            "(an estimate).",
        )
    if name == "ckd_epi_2021":
        return _t(
            lang,
            f"콩팥이 혈액을 거르는 능력(eGFR)은 {value:.0f}로, KDIGO {category} 단계입니다. "
            "60 미만이 3개월 이상 지속되면 만성콩팥병을 의심합니다.",
            f"Your kidneys filter blood at about {value:.0f} (eGFR, KDIGO {category}). "
            "Below 60 for more than 3 months suggests chronic kidney disease.",
        )
    return _t(lang,
              f"당뇨병 위험 점수는 {value:.0f}점입니다 ({category}).",
              f"Your diabetes risk score is {value:.0f} points ({category}).")  # fmt: skip


# -- next steps ---------------------------------------------------------------------------------


def _step(kind: str, title: str, text: str, label: str, url: str | None = None) -> Json:
    source: Json = {"label": label}
    if url:
        source["url"] = url
    return {"kind": kind, "title": title, "text": text, "source": source}


def next_steps(
    features: PersonFeatures, latest: Json | None, assessed: list[risks.RiskAssessment], lang: Lang
) -> list[Json]:
    steps = _doctor_steps(latest, assessed, lang)
    steps += _screening_steps(features, lang)
    steps += _lifestyle_steps(features, latest, lang)
    return steps


def _doctor_steps(
    latest: Json | None, assessed: list[risks.RiskAssessment], lang: Lang
) -> list[Json]:
    steps = []
    suspected = [i["label"] for i in (latest or {}).get("items", [])
                 if i.get("judgement") == checkup.SUSPECTED]  # fmt: skip
    if suspected:
        names = ", ".join(dict.fromkeys(suspected))
        steps.append(_step("see_doctor", _t(lang, "의사와 상담하세요", "See a doctor"),
                           _t(lang, f"질환의심 범위의 항목이 있습니다({names}). 가까운 의원에서 "
                              "확인 검사를 받아보세요. 고혈압·당뇨병 질환의심은 확진검사가 무료입니다.",
                              f"Some results are in the suspected range ({names}). A clinic can "
                              "do a confirming test; for blood pressure and glucose it is free."),
                           checkup.SOURCE))  # fmt: skip
    for a in assessed:
        high = a.result is not None and (
            (a.calculator == "pce" and a.result.result >= 7.5)
            or (a.calculator == "ckd_epi_2021" and a.result.result < 60)
        )
        if high and a.result is not None:
            steps.append(_step("see_doctor", _t(lang, "위험도에 대해 상담하세요", "Talk about your risk"),
                               _t(lang, f"{RISK_TITLES[a.calculator][0]} 결과를 의사와 함께 "
                                  "확인해 보세요.", f"Review your {RISK_TITLES[a.calculator][1]} "
                                  "with a doctor."), a.result.source))  # fmt: skip
    return steps


def _screening_steps(features: PersonFeatures, lang: Lang) -> list[Json]:
    steps = []
    for s in screening.screening_steps(features):
        p = s.programme
        name = _t(lang, p.name_ko, p.name_en)
        condition = _t(lang, p.condition_ko, p.condition_en)
        when = _t(lang, f"{p.interval_months}개월마다", f"every {p.interval_months} months")
        if s.due:
            last = (_t(lang, f"마지막 기록: {s.last_done.isoformat()}.",
                       f"Last recorded: {s.last_done.isoformat()}.") if s.last_done
                    else _t(lang, "기록에서 찾지 못했습니다(이미 받으셨다면 무시하세요).",
                            "None found in your record (ignore this if you already had it)."))  # fmt: skip
            text = _t(lang, f"{name} 대상입니다({when}{', ' + condition if condition else ''}). {last}",
                      f"You are eligible for {name} ({when}{', ' + condition if condition else ''}). {last}")  # fmt: skip
        else:
            text = _t(lang, f"{name}: 다음 검진 시기가 아직 아닙니다.", f"{name}: not yet due.")
        step = _step("screening", name, text, screening.SOURCE_LABEL, screening.SOURCE_URL)
        step |= {
            "programme": p.key,
            "due": s.due,
            "last_done": None if s.last_done is None else s.last_done.isoformat(),
        }
        steps.append(step)
    return steps


def _lifestyle_steps(features: PersonFeatures, latest: Json | None, lang: Lang) -> list[Json]:
    judged = {i["item"]: i.get("judgement") for i in (latest or {}).get("items", [])}
    steps = []
    if features.smoking == "current":
        steps.append(_step("lifestyle", _t(lang, "금연", "Stop smoking"),
                           _t(lang, "보건소 금연클리닉(무료)이나 금연상담전화 1544-9030에서 도움을 받을 수 "
                              "있습니다.", "Public health centres run free stop-smoking clinics; "
                              "quitline 1544-9030."),
                           "국가금연지원센터", "https://www.nosmokeguide.go.kr"))  # fmt: skip
    bmi = features.latest("bmi", within_days=risks.LAB_DAYS)
    if bmi is not None and bmi.number >= 23:
        steps.append(_step("lifestyle", _t(lang, "체중 관리", "Weight"),
                           _t(lang, f"체질량지수 {bmi.number:.1f}: 3–6개월에 체중의 5–10% 감량을 "
                              "목표로 식사량 조절과 운동을 해보세요.", f"BMI {bmi.number:.1f}: aim to "
                              "lose 5-10% of your weight over 3-6 months."),
                           "대한비만학회 비만 진료지침 2022"))  # fmt: skip
    if judged.get("systolic_bp") in (checkup.NORMAL_B, checkup.SUSPECTED):
        steps.append(_step("lifestyle", _t(lang, "혈압 관리", "Blood pressure"),
                           _t(lang, "싱겁게 드세요(소금 하루 5 g 미만). 규칙적인 운동과 절주가 혈압을 "
                              "낮춥니다.", "Eat less salt (under 5 g a day); regular exercise "
                              "and less alcohol lower blood pressure."),
                           "대한고혈압학회 고혈압 진료지침 2022"))  # fmt: skip
    if judged.get("fasting_glucose") in (checkup.NORMAL_B, checkup.SUSPECTED):
        steps.append(_step("lifestyle", _t(lang, "혈당 관리", "Blood glucose"),
                           _t(lang, "단 음료와 정제 탄수화물을 줄이고 주 150분 이상 운동하세요.",
                              "Cut sugary drinks and refined carbohydrates; exercise 150 minutes "
                              "a week."), "대한당뇨병학회 당뇨병 진료지침 2023"))  # fmt: skip
    steps.append(_step("lifestyle", _t(lang, "신체 활동", "Physical activity"),
                       _t(lang, "일주일에 150분 이상 중강도 유산소 운동과 주 2회 근력 운동을 권합니다.",
                          "At least 150 minutes of moderate activity a week, and muscle "
                          "strengthening twice a week."),
                       "WHO guidelines on physical activity and sedentary behaviour, 2020",
                       "https://www.who.int/publications/i/item/9789240015128"))  # fmt: skip
    return steps
