"""The city's participating facilities: the Korean mix, emergency tiers, capabilities, staff.

Mix (432 facilities), scaled from HIRA's 요양기관 현황 for 광주광역시 (2024: 2 상급종합병원,
≈ 21 종합병원, ≈ 95 병원, ≈ 55–60 요양병원, ≈ 1,000 의원, 5 보건소) to the ≈ 430 facilities that
took part: every hospital and a quarter of the clinics. Emergency tiers follow the designation
pattern of the city: one 권역응급의료센터 (regional, with the trauma centre), five
지역응급의료센터 and twelve 지역응급의료기관. Names are fictional (place word + invented word +
kind); any resemblance to a real facility is accidental.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from khealth.synth.geography import DISTRICTS, Address, District, random_address
from khealth.synth.names import choose_given_name, choose_surname
from khealth.synth.streams import stream

TIER_REGIONAL = "regional-emergency-center"  # 권역응급의료센터
TIER_LOCAL_CENTER = "local-emergency-center"  # 지역응급의료센터
TIER_LOCAL_INSTITUTION = "local-emergency-institution"  # 지역응급의료기관
TIER_DISPLAY = {
    TIER_REGIONAL: "권역응급의료센터",
    TIER_LOCAL_CENTER: "지역응급의료센터",
    TIER_LOCAL_INSTITUTION: "지역응급의료기관",
}
CAPABILITIES = ("pci", "thrombectomy", "trauma", "paediatric", "obstetric", "burns", "dialysis")
CAPABILITY_DISPLAY = {
    "pci": "관상동맥중재술(PCI)",
    "thrombectomy": "뇌혈관 혈전제거술",
    "trauma": "중증외상",
    "paediatric": "소아응급",
    "obstetric": "분만·산과응급",
    "burns": "화상",
    "dialysis": "혈액투석",
}
# On-call rota departments that emergency routing cares about.
ON_CALL_DEPARTMENTS = ("01", "02", "04", "06", "10", "11")

_PLACES = (
    "빛고을",
    "무등",
    "영산",
    "서석",
    "금남",
    "첨단",
    "수완",
    "운암",
    "봉선",
    "풍암",
    "하남",
    "송정",
    "용봉",
    "일곡",
    "진월",
    "월산",
    "화정",
    "치평",
    "극락",
    "양림",
    "충장",
    "산수",
    "상무",
    "신창",
)
_WORDS = (
    "새봄",
    "한빛",
    "늘봄",
    "참사랑",
    "푸른",
    "맑은",
    "바른",
    "온누리",
    "다온",
    "해솔",
    "미래",
    "사랑",
    "하나",
    "으뜸",
    "좋은",
    "새솔",
    "빛나",
    "든든",
    "우리",
    "예담",
)
_CLINIC_MIX: tuple[tuple[str, int], ...] = (
    ("01", 70),
    ("23", 25),
    ("11", 25),
    ("13", 22),
    ("05", 25),
    ("14", 12),
    ("12", 12),
    ("10", 12),
    ("03", 10),
    ("15", 8),
    ("02", 5),
    ("21", 6),
    ("00", 25),
)
_CLINIC_SUFFIX = {"00": "의원", "23": "가정의학과의원"}
_GENERAL_DEPARTMENTS = (
    "01",
    "02",
    "03",
    "04",
    "05",
    "06",
    "07",
    "09",
    "10",
    "11",
    "12",
    "13",
    "14",
    "15",
    "16",
    "21",
    "23",
    "24",
)
_HOSPITAL_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("병원", ("01", "04", "05", "16", "23")),
    ("정형외과병원", ("05", "21", "16", "09")),
    ("척추관절병원", ("05", "06", "21", "16")),
    ("여성병원", ("10", "11", "16")),
    ("내과병원", ("01", "16", "23")),
    ("안과병원", ("12",)),
    ("정신병원", ("03",)),
    ("화상전문병원", ("04", "08", "14")),
)


@dataclass(frozen=True)
class Practitioner:
    id: str
    name: str
    female: bool
    department: str
    license_number: str


@dataclass(frozen=True)
class Facility:
    id: str  # Organization id; also the stem of its other resources' ids
    code: str  # synthetic 8-digit 요양기관기호 (prefix 99)
    name: str
    org_type: str  # HIRA 종별 code
    district: District
    address: Address
    departments: tuple[str, ...]
    practitioners: tuple[Practitioner, ...]
    beds: int = 0
    icu_beds: int = 0
    ed_beds: int = 0
    ct: int = 0
    mri: int = 0
    angio: int = 0
    emergency_tier: str | None = None
    capabilities: frozenset[str] = field(default_factory=frozenset)
    speaks_hl7v2: bool = False
    phone: str = ""

    @property
    def latitude(self) -> float:
        return self.address.latitude

    @property
    def longitude(self) -> float:
        return self.address.longitude

    def doctor_for(self, department: str, rng: random.Random) -> Practitioner:
        matching = [p for p in self.practitioners if p.department == department]
        return rng.choice(matching or list(self.practitioners))

    def on_call(self, department: str, weekday: int) -> Practitioner | None:
        """The doctor on call in `department` on a weekday (0 = Monday): a weekly rotation."""
        matching = [p for p in self.practitioners if p.department == department]
        return matching[weekday % len(matching)] if matching else None


@dataclass(frozen=True)
class _Plan:
    org_type: str
    name: str
    departments: tuple[str, ...]
    district: District | None = None


def _plans(rng: random.Random) -> list[_Plan]:
    plans = [
        _Plan("01", "빛고을대학교병원", (*_GENERAL_DEPARTMENTS, "17", "08"), DISTRICTS[0]),
        _Plan("01", "무등대학교병원", (*_GENERAL_DEPARTMENTS, "08"), DISTRICTS[0]),
    ]
    used: set[str] = set()

    def unique(base: str) -> str:
        name, n = base, 2
        while name in used:
            name, n = f"{base}{n}", n + 1
        used.add(name)
        return name

    for _ in range(21):
        word = rng.choice(_PLACES) + rng.choice(
            ("기독", "성심", "보훈", "한국", "중앙", "제일", "시민")
        )
        plans.append(_Plan("11", unique(word + "병원"), _GENERAL_DEPARTMENTS))
    kinds = [
        kind for kind in _HOSPITAL_KINDS for _ in range(1 if kind[0] in ("화상전문병원",) else 2)
    ]
    for index in range(92):
        kind, departments = kinds[index] if index < len(kinds) else rng.choice(_HOSPITAL_KINDS[:5])
        plans.append(
            _Plan("21", unique(rng.choice(_PLACES) + rng.choice(_WORDS) + kind), departments)
        )
    for _ in range(55):
        plans.append(
            _Plan(
                "28",
                unique(rng.choice(_WORDS) + rng.choice(_PLACES) + "요양병원"),
                ("01", "21", "23"),
            )
        )
    for department, count in _CLINIC_MIX:
        from khealth.synth.codes import DEPARTMENTS

        suffix = _CLINIC_SUFFIX.get(department, DEPARTMENTS[department] + "의원")
        for _ in range(count):
            stem = rng.choice(_WORDS) + rng.choice(("", "연세", "서울", "속편한", "튼튼", "밝은"))
            plans.append(_Plan("31", unique(rng.choice(_PLACES) + stem + suffix), (department,)))
    for district in DISTRICTS:
        plans.append(_Plan("71", f"{district.name}보건소", ("01", "23", "11"), district))
    return plans


_STAFF = {"01": (110, 130), "11": (30, 55), "21": (4, 12), "28": (3, 6), "31": (1, 3), "71": (2, 4)}


def _practitioners(rng: random.Random, facility_id: str, plan: _Plan) -> tuple[Practitioner, ...]:
    low, high = _STAFF[plan.org_type]
    count = max(
        rng.randint(low, high), len(plan.departments) if plan.org_type in ("01", "11") else 1
    )
    out = []
    for index in range(count):
        female = rng.random() < 0.28  # share of women among Korean physicians, ≈ 2023
        birth_year = rng.randint(1958, 1994)
        name = choose_surname(rng) + choose_given_name(rng, birth_year=birth_year, female=female)
        department = plan.departments[index % len(plan.departments)]
        license_number = f"9{rng.randint(0, 99999):05d}"
        out.append(
            Practitioner(f"{facility_id}-pr{index}", name, female, department, license_number)
        )
    return tuple(out)


def _resources(rng: random.Random, plan: _Plan) -> dict[str, int]:
    org = plan.org_type
    if org == "01":
        return {
            "beds": rng.randint(800, 1100),
            "icu_beds": rng.randint(80, 120),
            "ct": rng.randint(4, 6),
            "mri": rng.randint(3, 5),
            "angio": rng.randint(2, 4),
        }
    if org == "11":
        return {
            "beds": rng.randint(200, 600),
            "icu_beds": rng.randint(10, 40),
            "ct": rng.randint(2, 3),
            "mri": rng.randint(1, 2),
            "angio": rng.randint(0, 1),
        }
    if org == "21":
        return {
            "beds": rng.randint(30, 250),
            "icu_beds": 0,
            "ct": int(rng.random() < 0.7),
            "mri": int(rng.random() < 0.4),
            "angio": 0,
        }
    if org == "28":
        return {"beds": rng.randint(100, 300), "icu_beds": 0, "ct": 0, "mri": 0, "angio": 0}
    return {
        "beds": rng.randint(0, 2) * 5 if org == "31" else 0,
        "icu_beds": 0,
        "ct": 0,
        "mri": 0,
        "angio": 0,
    }


def build_facilities(seed: int, *, hl7v2_share: float = 0.3) -> list[Facility]:
    """All facilities of the city. Depends only on `seed`, not on the number of citizens."""
    rng = stream(seed, "facilities")
    plans = _plans(rng)
    facilities = [_facility(rng, plan, index, hl7v2_share) for index, plan in enumerate(plans)]
    return _designate_emergency(facilities)


def _facility(rng: random.Random, plan: _Plan, index: int, hl7v2_share: float) -> Facility:
    from khealth.synth.identifiers import make_landline
    from khealth.synth.streams import cumulative, weighted_choice

    district = plan.district or weighted_choice(
        rng, list(DISTRICTS), cumulative([d.population_share for d in DISTRICTS])
    )
    code = f"99{int(plan.org_type):02d}{index:04d}"
    facility_id = f"org-{code}"
    resources = _resources(rng, plan)
    capabilities: set[str] = set()
    # Dialysis in hospitals, and in some internal-medicine clinics (인공신장실).
    internal_clinic = plan.org_type == "31" and plan.departments[0] == "01"
    if plan.org_type in ("01", "11") or (internal_clinic and rng.random() < 0.2):
        capabilities.add("dialysis")
    if "10" in plan.departments and plan.org_type in ("01", "11", "21"):
        capabilities.add("obstetric")
    if plan.name.endswith("화상전문병원"):
        capabilities.add("burns")
    return Facility(
        id=facility_id,
        code=code,
        name=plan.name,
        org_type=plan.org_type,
        district=district,
        address=random_address(rng, district, residential=False),
        departments=plan.departments,
        practitioners=_practitioners(rng, facility_id, plan),
        capabilities=frozenset(capabilities),
        speaks_hl7v2=plan.org_type in ("01", "11", "21") and rng.random() < hl7v2_share,
        phone=make_landline(rng),
        beds=resources["beds"],
        icu_beds=resources["icu_beds"],
        ct=resources["ct"],
        mri=resources["mri"],
        angio=resources["angio"],
    )


def _designate_emergency(facilities: list[Facility]) -> list[Facility]:
    from dataclasses import replace

    tertiary = [f for f in facilities if f.org_type == "01"]
    general = [f for f in facilities if f.org_type == "11"]
    hospitals = [f for f in facilities if f.org_type == "21" and "04" in f.departments]
    tiers: dict[str, tuple[str, set[str], int]] = {
        tertiary[0].id: (
            TIER_REGIONAL,
            {"pci", "thrombectomy", "trauma", "paediatric", "burns"},
            40,
        ),
        tertiary[1].id: (TIER_LOCAL_CENTER, {"pci", "thrombectomy", "paediatric"}, 30),
    }
    for rank, facility in enumerate(general[:4]):
        extra = (
            {"pci"}
            | ({"thrombectomy"} if rank == 0 else set())
            | ({"paediatric"} if rank < 2 else set())
        )
        tiers[facility.id] = (TIER_LOCAL_CENTER, extra, 20)
    for facility in [*general[4:12], *hospitals[:4]]:
        tiers[facility.id] = (TIER_LOCAL_INSTITUTION, set(), 10)
    out = []
    for facility in facilities:
        if facility.id in tiers:
            tier, extra, ed_beds = tiers[facility.id]
            angio = max(facility.angio, 2 if extra & {"pci", "thrombectomy"} else 0)
            facility = replace(
                facility,
                emergency_tier=tier,
                capabilities=facility.capabilities | extra,
                ed_beds=ed_beds,
                angio=angio,
                departments=tuple(dict.fromkeys((*facility.departments, "24"))),
            )
        out.append(facility)
    return out


class FacilityIndex:
    """Lookups a citizen's care pathway needs: facilities by kind, district and department."""

    def __init__(self, facilities: Sequence[Facility]) -> None:
        self.all = list(facilities)
        self.by_id = {f.id: f for f in facilities}
        self.tertiary = [f for f in facilities if f.org_type == "01"]
        self.general = [f for f in facilities if f.org_type == "11"]
        self.long_term_care = [f for f in facilities if f.org_type == "28"]
        self.emergency = [f for f in facilities if f.emergency_tier]
        self._clinics: dict[tuple[str, str], list[Facility]] = {}
        self._hospitals: dict[str, list[Facility]] = {}
        self.health_centre: dict[str, Facility] = {}
        for f in facilities:
            if f.org_type == "31":
                self._clinics.setdefault((f.district.code, f.departments[0]), []).append(f)
                self._clinics.setdefault(("*", f.departments[0]), []).append(f)
            elif f.org_type == "21":
                self._hospitals.setdefault(f.district.code, []).append(f)
                self._hospitals.setdefault("*", []).append(f)
            elif f.org_type == "71":
                self.health_centre[f.district.code] = f

    def clinic(self, rng: random.Random, district: District, department: str) -> Facility:
        local = self._clinics.get((district.code, department))
        if local and rng.random() < 0.8:
            return rng.choice(local)
        return rng.choice(self._clinics.get(("*", department)) or self._clinics[("*", "01")])

    def hospital(self, rng: random.Random, district: District) -> Facility:
        local = self._hospitals.get(district.code)
        return rng.choice(local if local and rng.random() < 0.7 else self._hospitals["*"])
