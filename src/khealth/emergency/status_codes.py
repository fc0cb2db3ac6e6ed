"""The national emergency medical centre (NEMC) vocabulary of live ER status, pinned per operation.

Source: data.go.kr 15000563 "국립중앙의료원_전국 응급의료기관 정보 조회 서비스" (reference notes
§1.3, field maps after MeSawSomething/open_api_nmec_test). Two numberings of the severe-illness
acceptance flags ``MKioskTy*`` exist and clash:

* **current (27 items)** — operation 2 ``getSrsillDissAceptncPosblInfoInqire`` (중증질환자
  수용가능정보): ``MKioskTy1..27`` plus ``MKioskTy28`` = 응급실 (the gatekeeper). **Our API
  (``PUT /api/emergency/facilities/{id}/status``) and everything stored use this numbering.**
* **legacy (11 items)** — operation 5 ``getEgytBassInfoInqire`` (기본정보): ``MKioskTy1..11`` with
  ``MKioskTy25`` = 응급실. Only :func:`from_legacy` reads it.
* **acceptance messages** — operation 9 ``getEmrrmSrsillDissMsgInqire`` (``symTypCod``) and the
  NEMC board (``svdssCd``) name the category by its **Y-code** (``Y0010`` …), not by a number.

The one table (current number → Y-code → category; the legacy item that covers it)::

    cur  Y-code  category (ko)                      category (en)                      legacy
    1    Y0010   재관류중재술 심근경색               reperfusion: myocardial infarction  3
    2    Y0020   재관류중재술 뇌경색                 reperfusion: ischaemic stroke       2
    3    Y0031   뇌출혈수술 거미막하출혈             brain haemorrhage surgery: SAH      1
    4    Y0032   뇌출혈수술 거미막하출혈 외          brain haemorrhage surgery: non-SAH  1
    5    Y0041   대동맥응급 흉부                     aortic emergency: thoracic          -
    6    Y0042   대동맥응급 복부                     aortic emergency: abdominal         -
    7    Y0051   담낭담관질환 담낭                   gallbladder                         -
    8    Y0052   담낭담관질환 담도포함               biliary tract                       -
    9    Y0060   복부응급수술 (비외상)               emergency abdominal surgery         -
    10   Y0070   장중첩/폐색 (영유아)                intussusception/obstruction, infant -
    11   Y0081   응급내시경 위장관 성인              GI endoscopy, adult                 6
    12   Y0082   응급내시경 위장관 영유아            GI endoscopy, infant                6
    13   Y0091   응급내시경 기관지 성인              bronchoscopy, adult                 6
    14   Y0092   응급내시경 기관지 영유아            bronchoscopy, infant                6
    15   Y0100   저체중출생아 집중치료               low-birth-weight neonatal ICU       10
    16   Y0111   산부인과응급 분만                   obstetric: delivery                 8
    17   Y0112   산부인과응급 산과수술               obstetric surgery                   8
    18   Y0113   산부인과응급 부인과수술             gynaecological surgery              -
    19   Y0120   중증화상 전문치료                   severe burns                        11
    20   Y0131   사지접합 수족지                     replantation: hand/foot/digit       5
    21   Y0132   사지접합 수족지 외                  replantation: other limb            5
    22   Y0141   응급투석 HD                         emergency haemodialysis             7
    23   Y0142   응급투석 CRRT                       emergency CRRT                      7
    24   Y0150   정신과적응급 (폐쇄병동입원)         psychiatric emergency (closed ward) 9
    25   Y0160   안과적수술 (응급)                   emergency eye surgery               -
    26   Y0171   영상의학혈관중재 성인               interventional radiology, adult     -
    27   Y0172   영상의학혈관중재 영유아             interventional radiology, infant    -
    28   -       응급실 (gatekeeper)                 emergency room                      25

Legacy item 4 (복부손상수술, trauma abdominal surgery) has no current counterpart (current 9 is
*non*-traumatic) and is dropped by :func:`from_legacy`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from khealth.emergency.model import Capability


@dataclass(frozen=True, slots=True)
class AcceptanceItem:
    number: int  # current (operation 2) numbering: MKioskTy{number}
    y_code: str | None  # svdssCd / symTypCod of the acceptance messages; None for the gatekeeper
    ko: str
    en: str
    legacy: int | None  # the legacy (operation 5) item that covers it, if any

    @property
    def field(self) -> str:
        return f"MKioskTy{self.number}"


_ITEMS = (
    (1, "Y0010", "재관류중재술 심근경색", "reperfusion: myocardial infarction", 3),
    (2, "Y0020", "재관류중재술 뇌경색", "reperfusion: ischaemic stroke", 2),
    (3, "Y0031", "뇌출혈수술 거미막하출혈", "brain haemorrhage surgery: SAH", 1),
    (4, "Y0032", "뇌출혈수술 거미막하출혈 외", "brain haemorrhage surgery: non-SAH", 1),
    (5, "Y0041", "대동맥응급 흉부", "aortic emergency: thoracic", None),
    (6, "Y0042", "대동맥응급 복부", "aortic emergency: abdominal", None),
    (7, "Y0051", "담낭담관질환 담낭", "gallbladder", None),
    (8, "Y0052", "담낭담관질환 담도포함", "biliary tract", None),
    (9, "Y0060", "복부응급수술 (비외상)", "emergency abdominal surgery (non-trauma)", None),
    (10, "Y0070", "장중첩/폐색 (영유아)", "intussusception/obstruction (infant)", None),
    (11, "Y0081", "응급내시경 위장관 성인", "emergency GI endoscopy, adult", 6),
    (12, "Y0082", "응급내시경 위장관 영유아", "emergency GI endoscopy, infant", 6),
    (13, "Y0091", "응급내시경 기관지 성인", "emergency bronchoscopy, adult", 6),
    (14, "Y0092", "응급내시경 기관지 영유아", "emergency bronchoscopy, infant", 6),
    (15, "Y0100", "저체중출생아 집중치료", "low-birth-weight neonatal intensive care", 10),
    (16, "Y0111", "산부인과응급 분만", "obstetric emergency: delivery", 8),
    (17, "Y0112", "산부인과응급 산과수술", "obstetric emergency: obstetric surgery", 8),
    (18, "Y0113", "산부인과응급 부인과수술", "obstetric emergency: gynaecological surgery", None),
    (19, "Y0120", "중증화상 전문치료", "severe burns", 11),
    (20, "Y0131", "사지접합 수족지", "replantation: hand, foot, digit", 5),
    (21, "Y0132", "사지접합 수족지 외", "replantation: other limb", 5),
    (22, "Y0141", "응급투석 HD", "emergency haemodialysis", 7),
    (23, "Y0142", "응급투석 CRRT", "emergency CRRT", 7),
    (24, "Y0150", "정신과적응급 (폐쇄병동입원)", "psychiatric emergency (closed ward)", 9),
    (25, "Y0160", "안과적수술 (응급)", "emergency eye surgery", None),
    (26, "Y0171", "영상의학혈관중재 성인", "interventional radiology, adult", None),
    (27, "Y0172", "영상의학혈관중재 영유아", "interventional radiology, infant", None),
    (28, None, "응급실", "emergency room (gatekeeper)", 25),
)
ACCEPTANCE: tuple[AcceptanceItem, ...] = tuple(AcceptanceItem(*row) for row in _ITEMS)
BY_NUMBER: Mapping[int, AcceptanceItem] = {item.number: item for item in ACCEPTANCE}
BY_Y_CODE: Mapping[str, AcceptanceItem] = {i.y_code: i for i in ACCEPTANCE if i.y_code}
GATEKEEPER = 28
LEGACY_GATEKEEPER = 25
LEGACY_ITEMS: Mapping[int, str] = {
    1: "뇌출혈수술",
    2: "뇌경색재관류",
    3: "심근경색재관류",
    4: "복부손상수술",
    5: "사지접합",
    6: "응급내시경",
    7: "응급투석",
    8: "조산산모",
    9: "정신질환자",
    10: "신생아",
    11: "중증화상",
    25: "응급실",
}

#: Available-bed counts of operation 1 (getEmrrmRltmUsefulSckbdInfoInqire) that routing reads.
BED_FIELDS: Mapping[str, str] = {
    "hvec": "응급실 일반 병상 (ER general beds)",
    "hvoc": "수술실 (operating rooms)",
    "hvcc": "신경과 중환자실 (neuro ICU)",
    "hvncc": "신생아 중환자실 (neonatal ICU)",
    "hvccc": "흉부외과 중환자실 (thoracic-surgery ICU)",
    "hvicc": "일반 중환자실 (general ICU)",
    "hvgc": "입원실 (ward)",
    "hv2": "내과 중환자실 (medical ICU)",
    "hv3": "외과 중환자실 (surgical ICU)",
    "hv6": "신경외과 중환자실 (neurosurgical ICU)",
    "hv8": "화상 중환자실 (burn ICU)",
    "hv9": "외상 중환자실 (trauma ICU)",
    "hv10": "소아 인공호흡기 (paediatric ventilators)",
    "hv11": "인큐베이터 (incubators)",
    "hv28": "소아 응급실 병상 (paediatric ER beds)",
    "hv29": "응급실 음압 격리 (ER negative-pressure isolation)",
    "hv30": "응급실 일반 격리 (ER general isolation)",
    "hv32": "소아 중환자실 (paediatric ICU)",
    "hv34": "심장내과 중환자실 (cardiology ICU)",
    "hv38": "외상 입원실 (trauma ward)",
    "hv39": "외상 수술실 (trauma OR)",
    "hv42": "분만실 (delivery room)",
    "hv43": "화상 처치실 (burn treatment room)",
    "hv60": "외상 소생실 (trauma resuscitation room)",
}
ICU_FIELDS = ("hvicc", "hv2", "hv3", "hvcc", "hv6", "hvccc", "hv34", "hv9", "hv32", "hvncc")

#: Y/N equipment flags of operation 1.
EQUIPMENT_FIELDS: Mapping[str, str] = {
    "hvctayn": "CT",
    "hvmriayn": "MRI",
    "hvangioayn": "혈관촬영기 (angiography)",
    "hvventiayn": "인공호흡기 (ventilator)",
    "hvventisoayn": "조산아 인공호흡기 (premature-infant ventilator)",
    "hvincuayn": "인큐베이터 (incubator)",
    "hvcrrtayn": "CRRT",
    "hvecmoayn": "ECMO",
    "hvoxyayn": "고압산소 (hyperbaric oxygen)",
    "hvhypoayn": "저체온 치료기 (therapeutic hypothermia)",
}


@dataclass(frozen=True, slots=True)
class NeedMapping:
    """What live status must say for a capability: acceptance items (any one Y is enough),
    equipment flags (all must be available) and on-call departments (HIRA 진료과목 codes;
    any one present is enough)."""

    acceptance: tuple[int, ...] = ()
    equipment: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    beds: tuple[str, ...] = ()  # any one with a free bed is enough


# Korea mapping of reference notes §2.1: STEMI → MKioskTy1 & hvangioayn; ischaemic stroke/LVO
# → MKioskTy2 & hvctayn (& angio); major trauma → trauma centre & hv60/hv39; burns → MKioskTy19.
# Departments: 01 내과 (cardiology sits within it), 02 신경과, 04 외과, 06 신경외과,
# 10 산부인과, 11 소아청소년과.
NEEDS: Mapping[Capability, NeedMapping] = {
    Capability.PCI: NeedMapping((1,), ("hvangioayn",), ("01",)),
    Capability.THROMBECTOMY: NeedMapping((2,), ("hvangioayn", "hvctayn"), ("02", "06")),
    Capability.THROMBOLYSIS: NeedMapping((2,), ("hvctayn",), ("02", "06")),
    Capability.CT: NeedMapping((), ("hvctayn",)),
    Capability.TRAUMA_CENTRE: NeedMapping((), (), ("04",), ("hv60", "hv39")),
    Capability.RESUSCITATION: NeedMapping(),
    Capability.ICU: NeedMapping(beds=ICU_FIELDS),
    Capability.OBSTETRICS: NeedMapping((16, 17), (), ("10",)),
    Capability.PAEDIATRIC_EMERGENCY: NeedMapping((), (), ("11",)),
    Capability.BURNS_CENTRE: NeedMapping((19,), (), ("04",)),
}


def from_legacy(legacy: Mapping[int, bool | None]) -> dict[int, bool | None]:
    """Legacy (operation 5) flags in the current numbering: each legacy item sets every current
    item it covers; the legacy gatekeeper 25 becomes 28; legacy 4 has no counterpart."""
    current: dict[int, bool | None] = {}
    for item in ACCEPTANCE:
        if item.legacy is not None and item.legacy in legacy:
            current[item.number] = legacy[item.legacy]
    return current


def acceptance_table() -> list[dict[str, object]]:
    """The mapping as rows, for the API and the docs."""
    return [
        {"field": i.field, "number": i.number, "y_code": i.y_code, "ko": i.ko, "en": i.en,
         "legacy_field": f"MKioskTy{i.legacy}" if i.legacy is not None else None}
        for i in ACCEPTANCE
    ]  # fmt: skip
