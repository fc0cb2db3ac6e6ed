"""Words of the EMS console and the ER board, Korean first (``?lang=en`` for English).

Page labels are rendered by the templates; the ``js`` part travels to the scripts in the page's
JSON configuration block (never executed: the Content-Security-Policy allows no inline script).
"""

from __future__ import annotations

from collections.abc import Mapping

PAGE: Mapping[str, Mapping[str, str]] = {
    "ko": {
        "ems_title": "구급차 콘솔 — AI 응급 이송",
        "er_title": "응급실 수용 보드",
        "switch": "English",
        "token_title": "토큰으로 로그인",
        "token_help": "로그인 화면은 신뢰 계층(이슈 5)과 함께 제공됩니다. 그때까지는 `khealth demo` 가 출력한 토큰을 한 번 붙여 넣으세요. 이 탭을 닫으면 지워집니다.",
        "token_label": "Bearer 토큰",
        "sign_in": "로그인",
        "sign_out": "로그아웃",
        "patient": "환자",
        "age": "나이", "sex": "성별", "male": "남", "female": "여", "unknown": "미상",
        "complaint": "주증상",
        "vitals": "활력징후",
        "respiratory_rate": "호흡수", "spo2": "산소포화도", "on_oxygen": "산소 투여 중",
        "systolic_bp": "수축기 혈압", "diastolic_bp": "이완기 혈압", "heart_rate": "맥박",
        "temperature": "체온", "glucose": "혈당", "gcs": "GCS", "pain": "통증(NRS)",
        "consciousness": "의식 (ACVPU)", "onset": "증상 발생 / 최종 정상 시각",
        "findings": "소견",
        "stemi_ecg": "12유도 심전도 STEMI", "cardiac_arrest": "심정지", "trauma": "외상",
        "stroke_signs": "뇌졸중 징후 (신시내티)", "suspected_infection": "감염 의심",
        "pregnant": "임신", "labour": "진통·분만 임박", "anticoagulated": "항응고제 복용",
        "lams": "LAMS", "race_scale": "RACE", "burns_tbsa": "화상 면적", "fall_height_m": "추락 높이",
        "gestation_weeks": "임신 주수",
        "mechanisms": "외상 기전 (2021 현장 분류)", "injuries": "손상 양상",
        "location": "구급차 위치", "location_help": "지도를 눌러 위치를 바꿀 수 있습니다.",
        "gps": "현재 위치(GPS)",
        "recommend": "추천 병원",
        "new_patient": "새 환자",
        "results": "추천 결과",
        "map": "광주광역시 응급의료기관 지도",
        "legend_ambulance": "구급차", "legend_ranked": "추천 병원", "legend_other": "기타 응급실",
        "incoming": "이송 중인 환자",
        "no_incoming": "이송 중인 환자가 없습니다.",
        "status": "우리 병원 실시간 현황",
        "beds": "가용 병상", "equipment": "장비", "acceptance": "중증질환 수용 가능 (MKioskTy)",
        "save_status": "현황 저장",
        "live_off": "실시간 연결 끊김 — 다시 연결 중",
        "live_on": "실시간 연결됨",
        "synthetic": "모든 데이터는 합성 데이터이며 실제 개인의 정보가 아닙니다.",
    },
    "en": {
        "ems_title": "Ambulance console — AI emergency routing",
        "er_title": "Emergency room board",
        "switch": "한국어",
        "token_title": "Sign in with a token",
        "token_help": "The sign-in pages arrive with the trust layer (issue 5). Until then, paste a token printed by `khealth demo` once; it is forgotten when this tab closes.",
        "token_label": "Bearer token",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "patient": "Patient",
        "age": "Age", "sex": "Sex", "male": "Male", "female": "Female", "unknown": "Unknown",
        "complaint": "Chief complaint",
        "vitals": "Vital signs",
        "respiratory_rate": "Respiratory rate", "spo2": "SpO2", "on_oxygen": "On oxygen",
        "systolic_bp": "Systolic BP", "diastolic_bp": "Diastolic BP", "heart_rate": "Heart rate",
        "temperature": "Temperature", "glucose": "Glucose", "gcs": "GCS", "pain": "Pain (NRS)",
        "consciousness": "Consciousness (ACVPU)", "onset": "Onset / last known well",
        "findings": "Findings",
        "stemi_ecg": "STEMI on 12-lead ECG", "cardiac_arrest": "Cardiac arrest", "trauma": "Injury",
        "stroke_signs": "Stroke signs (Cincinnati)", "suspected_infection": "Suspected infection",
        "pregnant": "Pregnant", "labour": "Labour / delivery imminent", "anticoagulated": "Anticoagulated",
        "lams": "LAMS", "race_scale": "RACE", "burns_tbsa": "Burned area", "fall_height_m": "Fall height",
        "gestation_weeks": "Gestation",
        "mechanisms": "Mechanism (2021 field triage)", "injuries": "Injury patterns",
        "location": "Ambulance position", "location_help": "Tap the map to move it.",
        "gps": "Use GPS",
        "recommend": "Recommend hospitals",
        "new_patient": "New patient",
        "results": "Recommendations",
        "map": "Emergency departments of Gwangju",
        "legend_ambulance": "Ambulance", "legend_ranked": "Recommended", "legend_other": "Other ERs",
        "incoming": "Incoming patients",
        "no_incoming": "No patient on the way.",
        "status": "Our live status",
        "beds": "Available beds", "equipment": "Equipment", "acceptance": "Severe-illness acceptance (MKioskTy)",
        "save_status": "Save status",
        "live_off": "Live connection lost — reconnecting",
        "live_on": "Live",
        "synthetic": "All data is synthetic; none of it describes a real person.",
    },
}  # fmt: skip

JS: Mapping[str, Mapping[str, str]] = {
    "ko": {
        "signed_in_as": "로그인됨", "bad_token": "토큰이 유효하지 않거나 만료되었습니다.",
        "error": "오류", "loading": "불러오는 중…",
        "ktas": "Pre-KTAS", "news2": "NEWS2", "qsofa": "qSOFA", "shock_index": "쇼크지수",
        "pathway": "의심 경로", "none": "없음", "window": "치료 가능 시간 남음",
        "minutes": "분", "eta": "도착 예정", "definitive": "최종 치료까지", "beds": "병상",
        "fresh": "최신", "stale": "오래됨", "no_status": "현황 미보고", "ago": "분 전",
        "declines": "최근 거절", "choose": "이 병원으로 이송",
        "pending": "병원 응답 대기 중", "accepted": "수용 승인", "declined": "수용 거절",
        "cancelled": "취소됨", "arrived": "도착", "in-progress": "진료 중",
        "declined_next": "거절되었습니다. 다음 추천 병원을 확인하세요.",
        "cancel": "통보 취소", "meets": "필요 치료 가능", "not_meets": "필요 치료 불확실/불가",
        "accept": "수용", "decline": "거절", "reason": "거절 사유", "arrive": "도착 처리",
        "save_ok": "저장되었습니다.", "unknown_facility": "이 병원은 응급의료기관 목록에 없습니다.",
        "flag_Y": "가능", "flag_N": "불가", "flag_null": "미상", "countdown_late": "도착 예정 시각 지남",
        "on_call": "당직 전문의", "to": "→", "rules": "적용된 분류 규칙",
        "choose_reason": "— 거절 사유 선택 —", "reason_needed": "거절 사유를 선택하세요.",
    },
    "en": {
        "signed_in_as": "Signed in", "bad_token": "The token is invalid or has expired.",
        "error": "Error", "loading": "Loading…",
        "ktas": "Pre-KTAS", "news2": "NEWS2", "qsofa": "qSOFA", "shock_index": "Shock index",
        "pathway": "Suspected pathway", "none": "none", "window": "treatment window left",
        "minutes": "min", "eta": "ETA", "definitive": "to definitive care", "beds": "beds",
        "fresh": "fresh", "stale": "stale", "no_status": "no status reported", "ago": "min ago",
        "declines": "recent refusals", "choose": "Take the patient here",
        "pending": "Waiting for the hospital", "accepted": "Accepted", "declined": "Declined",
        "cancelled": "Cancelled", "arrived": "Arrived", "in-progress": "In treatment",
        "declined_next": "Declined. See the next recommendation.",
        "cancel": "Cancel notification", "meets": "can treat", "not_meets": "treatment uncertain",
        "accept": "Accept", "decline": "Decline", "reason": "Reason", "arrive": "Mark arrived",
        "save_ok": "Saved.", "unknown_facility": "This is not a listed emergency facility.",
        "flag_Y": "yes", "flag_N": "no", "flag_null": "unknown", "countdown_late": "past ETA",
        "on_call": "On call", "to": "→", "rules": "Rules that fired",
        "choose_reason": "— choose a reason —", "reason_needed": "Choose a reason for the decline.",
    },
}  # fmt: skip

PATHWAYS: Mapping[str, tuple[str, str]] = {
    "stemi": ("급성 심근경색 (STEMI)", "STEMI"),
    "stroke_lvo": ("대혈관 폐색 뇌졸중", "stroke, large-vessel occlusion"),
    "stroke": ("뇌졸중", "stroke"),
    "major_trauma": ("중증 외상", "major trauma"),
    "cardiac_arrest": ("심정지", "cardiac arrest"),
    "sepsis": ("패혈증", "sepsis"),
    "obstetric": ("산과 응급", "obstetric emergency"),
    "paediatric": ("소아 응급", "paediatric emergency"),
    "burns": ("중증 화상", "severe burns"),
}

KTAS: Mapping[int, tuple[str, str]] = {
    1: ("소생", "resuscitation"),
    2: ("긴급", "emergent"),
    3: ("응급", "urgent"),
    4: ("준응급", "less urgent"),
    5: ("비응급", "non-urgent"),
}

MECHANISMS: Mapping[str, tuple[str, str]] = {
    "ejection": ("차량 밖으로 이탈", "ejection"),
    "intrusion": ("탑승 공간 함몰", "intrusion into the occupant space"),
    "extrication": ("끼임 — 구출 필요", "extrication needed"),
    "death_in_compartment": ("동승자 사망", "death in the same compartment"),
    "child_unrestrained": ("안전장치 없는 소아", "unrestrained child"),
    "vehicle_telemetry": ("차량 원격정보 중상 시사", "telemetry suggests severe injury"),
    "rider_separated": ("이륜차 등에서 이탈", "rider separated from vehicle"),
    "pedestrian_struck": ("보행자·자전거 충돌", "pedestrian or cyclist struck"),
    "penetrating": ("관통상 (자상·총상)", "penetrating injury"),
}

INJURIES: Mapping[str, tuple[str, str]] = {
    "penetrating_central": ("머리·목·몸통 관통상", "penetrating head, neck or torso"),
    "skull_deformity": ("두개골 변형", "skull deformity"),
    "spinal_deficit": ("척수 손상 의심 (신경 결손)", "spinal injury with deficit"),
    "chest_wall_instability": ("흉벽 불안정 (동요흉)", "chest wall instability"),
    "pelvic_fracture": ("골반 골절 의심", "suspected pelvic fracture"),
    "long_bone_fractures": ("근위 장골 2곳 이상 골절", "2+ proximal long-bone fractures"),
    "mangled_extremity": ("으깨진·무맥 사지", "mangled or pulseless extremity"),
    "amputation": ("손목·발목 위 절단", "amputation above wrist or ankle"),
    "active_bleeding": ("지혈대·패킹 필요 출혈", "bleeding needing tourniquet or packing"),
}

COMPLAINTS: tuple[str, ...] = (
    "흉통", "호흡곤란", "의식저하", "편마비", "언어장애", "복통", "외상", "발열", "경련",
    "화상", "분만", "실신", "두통", "토혈",
)  # fmt: skip

# The ER board's status form: the fields a charge nurse updates most; the rest of a loaded
# snapshot is kept as it was when the form is saved (a PUT replaces the whole snapshot).
BOARD_BEDS: tuple[str, ...] = ("hvec", "hvoc", "hvicc", "hvcc", "hv34", "hv60", "hv28", "hv42")
BOARD_EQUIPMENT: tuple[str, ...] = ("hvctayn", "hvmriayn", "hvangioayn", "hvventiayn", "hvecmoayn")
