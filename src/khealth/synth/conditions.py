"""Chronic and acute conditions with KCD-8 codes, their prevalence by age and sex, and drugs.

Chronic prevalence is the share of people of an age band (by age at the end of the history, or at
death) who carry the diagnosis. Figures are rounded from KNHANES 2019–2022 (국민건강영양조사:
hypertension, diabetes, hypercholesterolaemia by age and sex), the Korea Central Cancer Registry
(prevalent cancer survivors, 2021), the National Mental Health Survey 2021 and HIRA disease
statistics for the rest; tolerances in tests are checked against these same tables.
"""

from __future__ import annotations

from dataclasses import dataclass

AGE_BANDS = (0, 20, 30, 40, 50, 60, 70)


@dataclass(frozen=True)
class Drug:
    key: str
    name: str  # Korean ingredient name, strength and form
    atc: str
    product_code: str  # synthetic product code (see codes.SYNTHETIC_DRUG)
    dose: str  # 용법 in Korean
    per_day: int


@dataclass(frozen=True)
class ChronicCondition:
    key: str
    kcd: str
    display_ko: str
    display_en: str
    male: tuple[float, ...]  # prevalence per AGE_BANDS
    female: tuple[float, ...]
    department: str  # HIRA department that manages it
    drugs: tuple[str, ...] = ()
    sensitive: str | None = None  # v3-ActCode confidentiality label: PSY, ETH
    care: str = "clinic"  # clinic | hospital | tertiary
    min_age: int = 0


def _d(key: str, name: str, atc: str, n: int, dose: str = "1일 1회 1정", per_day: int = 1) -> Drug:
    return Drug(key, name, atc, f"KH{n:07d}", dose, per_day)


DRUGS: dict[str, Drug] = {
    d.key: d
    for d in (
        _d("amlodipine", "암로디핀베실산염 5mg 정", "C08CA01", 1),
        _d("losartan", "로사르탄칼륨 50mg 정", "C09CA01", 2),
        _d("telmisartan", "텔미사르탄 40mg 정", "C09CA07", 3),
        _d("hctz", "히드로클로로티아지드 12.5mg 정", "C03AA03", 4),
        _d("metformin", "메트포르민염산염 500mg 서방정", "A10BA02", 5, "1일 2회 1정", 2),
        _d("glimepiride", "글리메피리드 2mg 정", "A10BB12", 6),
        _d("sitagliptin", "시타글립틴인산염 100mg 정", "A10BH01", 7),
        _d("dapagliflozin", "다파글리플로진 10mg 정", "A10BK01", 8),
        _d("atorvastatin", "아토르바스타틴칼슘 10mg 정", "C10AA05", 9),
        _d("rosuvastatin", "로수바스타틴칼슘 10mg 정", "C10AA07", 10),
        _d("ezetimibe", "에제티미브 10mg 정", "C10AX09", 11),
        _d("aspirin", "아스피린 100mg 장용정", "B01AC06", 12),
        _d("clopidogrel", "클로피도그렐황산수소염 75mg 정", "B01AC04", 13),
        _d("apixaban", "아픽사반 5mg 정", "B01AF02", 14, "1일 2회 1정", 2),
        _d("furosemide", "푸로세미드 40mg 정", "C03CA01", 15),
        _d("carvedilol", "카르베딜롤 6.25mg 정", "C07AG02", 16, "1일 2회 1정", 2),
        _d(
            "budesonide_formoterol",
            "부데소니드·포르모테롤 흡입제",
            "R03AK07",
            17,
            "1일 2회 1흡입",
            2,
        ),
        _d("montelukast", "몬테루카스트나트륨 10mg 정", "R03DC03", 18),
        _d("tiotropium", "티오트로퓸브롬화물 흡입제", "R03BB04", 19),
        _d("alendronate", "알렌드론산나트륨 70mg 정", "M05BA04", 20, "주 1회 1정", 1),
        _d("celecoxib", "세레콕시브 200mg 캡슐", "M01AH01", 21),
        _d("acetaminophen", "아세트아미노펜 650mg 서방정", "N02BE01", 22, "1일 3회 1정", 3),
        _d("eperisone", "에페리손염산염 50mg 정", "M03BX09", 23, "1일 3회 1정", 3),
        _d("escitalopram", "에스시탈로프람옥살산염 10mg 정", "N06AB10", 24),
        _d("sertraline", "설트랄린염산염 50mg 정", "N06AB06", 25),
        _d("alprazolam", "알프라졸람 0.25mg 정", "N05BA12", 26, "1일 2회 1정", 2),
        _d("aripiprazole", "아리피프라졸 10mg 정", "N05AX12", 27),
        _d("naltrexone", "날트렉손염산염 50mg 정", "N07BB04", 28),
        _d("donepezil", "도네페질염산염 5mg 정", "N06DA02", 29),
        _d("levodopa", "레보도파·카르비도파 100/25mg 정", "N04BA02", 30, "1일 3회 1정", 3),
        _d("entecavir", "엔테카비르 0.5mg 정", "J05AF10", 31),
        _d("levothyroxine", "레보티록신나트륨 50mcg 정", "H03AA01", 32),
        _d("esomeprazole", "에스오메프라졸마그네슘 20mg 정", "A02BC05", 33),
        _d("rebamipide", "레바미피드 100mg 정", "A02BX14", 34, "1일 3회 1정", 3),
        _d("cetirizine", "세티리진염산염 10mg 정", "R06AE07", 35),
        _d(
            "fluticasone_nasal",
            "플루티카손프로피오네이트 비강분무제",
            "R01AD08",
            36,
            "1일 1회 2분무",
            1,
        ),
        _d("hydrocortisone_cream", "히드로코르티손 1% 크림", "D07AA02", 37, "1일 2회 환부 도포", 2),
        _d("tamsulosin", "탐스로신염산염 0.2mg 캡슐", "G04CA02", 38),
        _d("allopurinol", "알로푸리놀 100mg 정", "M04AA01", 39),
        _d("tamoxifen", "타목시펜시트르산염 20mg 정", "L02BA01", 40),
        _d("capecitabine", "카페시타빈 500mg 정", "L01BC06", 41, "1일 2회 3정", 6),
        _d("bicalutamide", "비칼루타미드 50mg 정", "L02BB03", 42),
        _d(
            "amoxicillin_clavulanate",
            "아목시실린·클라불란산칼륨 625mg 정",
            "J01CR02",
            43,
            "1일 3회 1정",
            3,
        ),
        _d("azithromycin", "아지트로마이신 250mg 정", "J01FA10", 44),
        _d("levofloxacin", "레보플록사신 500mg 정", "J01MA12", 45),
        _d("oseltamivir", "오셀타미비르인산염 75mg 캡슐", "J05AH02", 46, "1일 2회 1캡슐", 2),
        _d("ibuprofen", "이부프로펜 200mg 정", "M01AE01", 47, "1일 3회 1정", 3),
        _d("trimebutine", "트리메부틴말레산염 100mg 정", "A03AA05", 48, "1일 3회 1정", 3),
        _d("loperamide", "로페라미드염산염 2mg 캡슐", "A07DA03", 49, "1일 2회 1캡슐", 2),
        _d("pseudoephedrine", "슈도에페드린염산염 60mg 정", "R01BA02", 50, "1일 3회 1정", 3),
    )
}

_ADULT = (0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)


def _scale(values: tuple[float, ...], factor: float) -> tuple[float, ...]:
    return tuple(v * factor for v in values)


CHRONIC: tuple[ChronicCondition, ...] = (
    ChronicCondition(
        "hypertension",
        "I10",
        "본태성(원발성) 고혈압",
        "Essential hypertension",
        (0, 0.01, 0.10, 0.22, 0.36, 0.50, 0.64),
        (0, 0.005, 0.03, 0.10, 0.24, 0.44, 0.68),
        "01",
        ("amlodipine", "losartan", "telmisartan", "hctz"),
    ),
    ChronicCondition(
        "diabetes",
        "E11.9",
        "합병증을 동반하지 않은 2형 당뇨병",
        "Type 2 diabetes mellitus",
        (0, 0.003, 0.03, 0.09, 0.18, 0.27, 0.30),
        (0, 0.002, 0.02, 0.05, 0.10, 0.20, 0.28),
        "01",
        ("metformin", "glimepiride", "sitagliptin", "dapagliflozin"),
    ),
    ChronicCondition(
        "dyslipidaemia",
        "E78.5",
        "상세불명의 고지질혈증",
        "Hyperlipidaemia",
        (0, 0.01, 0.08, 0.16, 0.24, 0.32, 0.34),
        (0, 0.005, 0.04, 0.10, 0.26, 0.42, 0.45),
        "01",
        ("atorvastatin", "rosuvastatin", "ezetimibe"),
    ),
    ChronicCondition(
        "ckd",
        "N18.3",
        "만성 콩팥병(3기)",
        "Chronic kidney disease, stage 3",
        (0, 0, 0.003, 0.008, 0.02, 0.05, 0.12),
        (0, 0, 0.003, 0.008, 0.02, 0.05, 0.12),
        "01",
        ("losartan",),
        care="hospital",
        min_age=30,
    ),
    ChronicCondition(
        "ihd",
        "I20.9",
        "상세불명의 협심증",
        "Angina pectoris",
        (0, 0, 0.002, 0.01, 0.03, 0.06, 0.10),
        (0, 0, 0.001, 0.004, 0.015, 0.04, 0.08),
        "01",
        ("aspirin", "clopidogrel", "atorvastatin"),
        care="tertiary",
    ),
    ChronicCondition(
        "stroke",
        "I63.9",
        "상세불명의 뇌경색증",
        "Cerebral infarction",
        (0, 0, 0.001, 0.005, 0.014, 0.035, 0.07),
        (0, 0, 0.001, 0.003, 0.01, 0.025, 0.06),
        "02",
        ("clopidogrel", "atorvastatin"),
        care="tertiary",
    ),
    ChronicCondition(
        "af",
        "I48.9",
        "상세불명의 심방세동",
        "Atrial fibrillation",
        (0, 0, 0.001, 0.003, 0.008, 0.02, 0.05),
        (0, 0, 0.001, 0.002, 0.005, 0.015, 0.045),
        "01",
        ("apixaban",),
        care="hospital",
    ),
    ChronicCondition(
        "heart_failure",
        "I50.9",
        "상세불명의 심부전",
        "Heart failure",
        (0, 0, 0, 0.002, 0.006, 0.02, 0.05),
        (0, 0, 0, 0.001, 0.005, 0.018, 0.05),
        "01",
        ("furosemide", "carvedilol"),
        care="hospital",
    ),
    ChronicCondition(
        "asthma",
        "J45.9",
        "상세불명의 천식",
        "Asthma",
        (0.04, 0.02, 0.02, 0.02, 0.025, 0.03, 0.05),
        (0.03, 0.025, 0.025, 0.025, 0.03, 0.035, 0.05),
        "01",
        ("budesonide_formoterol", "montelukast"),
    ),
    ChronicCondition(
        "copd",
        "J44.9",
        "상세불명의 만성 폐쇄성 폐질환",
        "COPD",
        (0, 0, 0, 0.005, 0.02, 0.06, 0.12),
        (0, 0, 0, 0.002, 0.006, 0.015, 0.04),
        "01",
        ("tiotropium",),
        care="hospital",
    ),
    ChronicCondition(
        "osteoporosis",
        "M81.9",
        "상세불명의 골다공증",
        "Osteoporosis",
        (0, 0, 0, 0.002, 0.01, 0.04, 0.08),
        (0, 0, 0, 0.005, 0.05, 0.20, 0.40),
        "05",
        ("alendronate",),
    ),
    ChronicCondition(
        "knee_oa",
        "M17.9",
        "상세불명의 무릎관절증",
        "Knee osteoarthritis",
        (0, 0, 0.002, 0.015, 0.06, 0.15, 0.25),
        (0, 0, 0.003, 0.025, 0.10, 0.25, 0.40),
        "05",
        ("celecoxib", "acetaminophen"),
    ),
    ChronicCondition(
        "depression",
        "F32.9",
        "상세불명의 우울병 에피소드",
        "Depressive episode",
        (0.005, 0.02, 0.02, 0.02, 0.02, 0.025, 0.03),
        (0.008, 0.04, 0.04, 0.04, 0.04, 0.045, 0.05),
        "03",
        ("escitalopram", "sertraline"),
        sensitive="PSY",
    ),
    ChronicCondition(
        "anxiety",
        "F41.9",
        "상세불명의 불안장애",
        "Anxiety disorder",
        (0.003, 0.015, 0.015, 0.015, 0.015, 0.02, 0.02),
        (0.005, 0.03, 0.03, 0.03, 0.03, 0.03, 0.03),
        "03",
        ("alprazolam",),
        sensitive="PSY",
    ),
    ChronicCondition(
        "schizophrenia",
        "F20.9",
        "상세불명의 조현병",
        "Schizophrenia",
        _scale(_ADULT, 0.003),
        _scale(_ADULT, 0.003),
        "03",
        ("aripiprazole",),
        sensitive="PSY",
        care="hospital",
    ),
    ChronicCondition(
        "alcohol_use",
        "F10.2",
        "알코올 사용에 의한 의존증후군",
        "Alcohol dependence",
        _scale(_ADULT, 0.012),
        _scale(_ADULT, 0.003),
        "03",
        ("naltrexone",),
        sensitive="ETH",
    ),
    ChronicCondition(
        "dementia",
        "G30.9",
        "상세불명의 알츠하이머병",
        "Alzheimer disease",
        (0, 0, 0, 0, 0.002, 0.015, 0.09),
        (0, 0, 0, 0, 0.002, 0.02, 0.12),
        "02",
        ("donepezil",),
        care="hospital",
        min_age=50,
    ),
    ChronicCondition(
        "parkinson",
        "G20",
        "파킨슨병",
        "Parkinson disease",
        (0, 0, 0, 0, 0.001, 0.004, 0.012),
        (0, 0, 0, 0, 0.001, 0.004, 0.012),
        "02",
        ("levodopa",),
        care="hospital",
    ),
    ChronicCondition(
        "hepatitis_b",
        "B18.1",
        "델타-병원체가 없는 만성 바이러스 B형 간염",
        "Chronic hepatitis B",
        _scale(_ADULT, 0.03),
        _scale(_ADULT, 0.025),
        "01",
        ("entecavir",),
        care="hospital",
    ),
    ChronicCondition(
        "hypothyroidism",
        "E03.9",
        "상세불명의 갑상선기능저하증",
        "Hypothyroidism",
        _scale(_ADULT, 0.007),
        _scale(_ADULT, 0.03),
        "01",
        ("levothyroxine",),
    ),
    ChronicCondition(
        "gerd",
        "K21.9",
        "식도염을 동반하지 않은 위-식도역류병",
        "GERD",
        (0, 0.05, 0.07, 0.08, 0.09, 0.10, 0.10),
        (0, 0.05, 0.07, 0.08, 0.09, 0.10, 0.10),
        "01",
        ("esomeprazole",),
    ),
    ChronicCondition(
        "allergic_rhinitis",
        "J30.4",
        "상세불명의 알레르기비염",
        "Allergic rhinitis",
        (0.15, 0.12, 0.10, 0.08, 0.07, 0.05, 0.04),
        (0.13, 0.12, 0.10, 0.09, 0.07, 0.05, 0.04),
        "13",
        ("cetirizine", "fluticasone_nasal"),
    ),
    ChronicCondition(
        "atopic_dermatitis",
        "L20.9",
        "상세불명의 아토피성 피부염",
        "Atopic dermatitis",
        (0.08, 0.03, 0.02, 0.01, 0.005, 0.005, 0.005),
        (0.08, 0.03, 0.02, 0.01, 0.005, 0.005, 0.005),
        "14",
        ("hydrocortisone_cream",),
    ),
    ChronicCondition(
        "bph",
        "N40",
        "전립선증식증",
        "Benign prostatic hyperplasia",
        (0, 0, 0, 0.02, 0.10, 0.20, 0.35),
        (0, 0, 0, 0, 0, 0, 0),
        "15",
        ("tamsulosin",),
    ),
    ChronicCondition(
        "gout",
        "M10.9",
        "상세불명의 통풍",
        "Gout",
        (0, 0.005, 0.015, 0.02, 0.025, 0.03, 0.03),
        (0, 0, 0, 0.002, 0.004, 0.006, 0.008),
        "01",
        ("allopurinol",),
    ),
    ChronicCondition(
        "cataract",
        "H25.9",
        "상세불명의 노년백내장",
        "Senile cataract",
        (0, 0, 0, 0.01, 0.04, 0.15, 0.35),
        (0, 0, 0, 0.01, 0.05, 0.18, 0.40),
        "12",
    ),
    ChronicCondition(
        "stomach_cancer",
        "C16.9",
        "상세불명의 위의 악성 신생물",
        "Stomach cancer",
        (0, 0, 0.001, 0.004, 0.012, 0.025, 0.04),
        (0, 0, 0.001, 0.003, 0.006, 0.012, 0.018),
        "04",
        ("capecitabine",),
        care="tertiary",
    ),
    ChronicCondition(
        "colorectal_cancer",
        "C18.9",
        "상세불명의 결장의 악성 신생물",
        "Colon cancer",
        (0, 0, 0.001, 0.003, 0.01, 0.02, 0.03),
        (0, 0, 0.001, 0.002, 0.006, 0.012, 0.018),
        "04",
        ("capecitabine",),
        care="tertiary",
    ),
    ChronicCondition(
        "thyroid_cancer",
        "C73",
        "갑상선의 악성 신생물",
        "Thyroid cancer",
        (0, 0.001, 0.003, 0.005, 0.006, 0.006, 0.005),
        (0, 0.004, 0.012, 0.02, 0.025, 0.02, 0.012),
        "04",
        ("levothyroxine",),
        care="tertiary",
    ),
    ChronicCondition(
        "lung_cancer",
        "C34.9",
        "상세불명의 기관지 또는 폐의 악성 신생물",
        "Lung cancer",
        (0, 0, 0, 0.001, 0.003, 0.008, 0.014),
        (0, 0, 0, 0.001, 0.002, 0.004, 0.006),
        "01",
        (),
        care="tertiary",
    ),
    ChronicCondition(
        "breast_cancer",
        "C50.9",
        "상세불명의 유방의 악성 신생물",
        "Breast cancer",
        (0, 0, 0, 0, 0, 0, 0),
        (0, 0, 0.002, 0.008, 0.014, 0.014, 0.01),
        "04",
        ("tamoxifen",),
        care="tertiary",
    ),
    ChronicCondition(
        "liver_cancer",
        "C22.0",
        "간세포암종",
        "Hepatocellular carcinoma",
        (0, 0, 0, 0.001, 0.004, 0.006, 0.007),
        (0, 0, 0, 0.0003, 0.001, 0.002, 0.003),
        "01",
        ("entecavir",),
        care="tertiary",
    ),
    ChronicCondition(
        "prostate_cancer",
        "C61",
        "전립선의 악성 신생물",
        "Prostate cancer",
        (0, 0, 0, 0, 0.002, 0.01, 0.025),
        (0, 0, 0, 0, 0, 0, 0),
        "15",
        ("bicalutamide",),
        care="tertiary",
    ),
)
CHRONIC_BY_KEY = {c.key: c for c in CHRONIC}


@dataclass(frozen=True)
class AcuteCondition:
    key: str
    kcd: str
    display_ko: str
    department: str
    drugs: tuple[str, ...]
    weight_child: float
    weight_adult: float
    weight_elderly: float


ACUTE: tuple[AcuteCondition, ...] = (
    AcuteCondition(
        "uri",
        "J06.9",
        "상세불명의 급성 상기도감염",
        "13",
        ("acetaminophen", "pseudoephedrine"),
        10,
        6,
        4,
    ),
    AcuteCondition(
        "bronchitis",
        "J20.9",
        "상세불명의 급성 기관지염",
        "01",
        ("amoxicillin_clavulanate", "acetaminophen"),
        4,
        3,
        4,
    ),
    AcuteCondition(
        "influenza",
        "J11.1",
        "기타 호흡기 증상을 동반한 인플루엔자",
        "01",
        ("oseltamivir",),
        2,
        1,
        1,
    ),
    AcuteCondition(
        "gastroenteritis",
        "A09.9",
        "상세불명 기원의 위장염 및 결장염",
        "01",
        ("loperamide", "trimebutine"),
        3,
        2,
        1,
    ),
    AcuteCondition(
        "gastritis", "K29.7", "상세불명의 위염", "01", ("rebamipide", "esomeprazole"), 0.3, 4, 4
    ),
    AcuteCondition(
        "otitis_media",
        "H66.9",
        "상세불명의 중이염",
        "13",
        ("amoxicillin_clavulanate",),
        4,
        0.3,
        0.2,
    ),
    AcuteCondition("conjunctivitis", "H10.9", "상세불명의 결막염", "12", (), 1.5, 1, 1),
    AcuteCondition(
        "uti", "N39.0", "부위가 명시되지 않은 요로감염", "01", ("levofloxacin",), 0.3, 1.2, 2
    ),
    AcuteCondition("back_pain", "M54.5", "요통", "05", ("eperisone", "ibuprofen"), 0.1, 4, 5),
    AcuteCondition(
        "ankle_sprain", "S93.4", "발목의 염좌 및 긴장", "05", ("ibuprofen",), 1.5, 1.5, 0.5
    ),
    AcuteCondition(
        "dermatitis", "L30.9", "상세불명의 피부염", "14", ("hydrocortisone_cream",), 1.5, 1.5, 1
    ),
    AcuteCondition(
        "covid19", "U07.1", "코로나바이러스감염증-19", "01", ("acetaminophen",), 1, 1, 1
    ),
)


def prevalence(condition: ChronicCondition, age: int, *, female: bool) -> float:
    band = 0
    for index, lower in enumerate(AGE_BANDS):
        if age >= lower:
            band = index
    return (condition.female if female else condition.male)[band]
