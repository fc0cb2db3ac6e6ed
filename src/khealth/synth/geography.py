"""Gwangju's five districts (자치구) and Korean road-name addresses (도로명주소).

Population shares: resident registration population, Gwangju, end of 2023 (KOSIS 주민등록인구,
rounded): 동구 ≈ 101 k, 서구 ≈ 289 k, 남구 ≈ 208 k, 북구 ≈ 421 k, 광산구 ≈ 392 k of ≈ 1.41 M.
Areas (km²) and centroids (WGS84) are approximate, from the district offices' published figures.
Road names are real roads of each district; building numbers and postcodes are drawn at random
within each district's real postcode block (광주 61000–62999), so an address is plausible but
not a real building's.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from khealth.synth.streams import cumulative, weighted_choice


@dataclass(frozen=True)
class District:
    code: str  # 행정표준코드 시군구 (5 digits)
    name: str
    name_en: str
    population_share: float
    area_km2: float
    latitude: float
    longitude: float
    postcode_range: tuple[int, int]
    roads: tuple[str, ...]
    dongs: tuple[str, ...]

    @property
    def radius_deg(self) -> float:
        """Radius of a circle of the district's area, in degrees of latitude (1° ≈ 111 km)."""
        return math.sqrt(self.area_km2 / math.pi) / 111.0


DISTRICTS: tuple[District, ...] = (
    District(
        "29110",
        "동구",
        "Dong-gu",
        0.0715,
        49.3,
        35.1460,
        126.9230,
        (61400, 61499),
        ("금남로", "충장로", "제봉로", "필문대로", "백서로", "남문로", "동계천로", "의재로"),
        ("충장동", "동명동", "계림동", "산수동", "지산동", "학동", "학운동"),
    ),
    District(
        "29140",
        "서구",
        "Seo-gu",
        0.2050,
        47.8,
        35.1520,
        126.8900,
        (61900, 62099),
        ("상무대로", "상무중앙로", "운천로", "월드컵4강로", "화운로", "내방로", "풍금로", "금화로"),
        ("치평동", "쌍촌동", "화정동", "농성동", "금호동", "풍암동", "상무동"),
    ),
    District(
        "29155",
        "남구",
        "Nam-gu",
        0.1475,
        61.0,
        35.1330,
        126.9020,
        (61600, 61799),
        ("봉선로", "서문대로", "백운로", "대남대로", "송암로", "효덕로", "진월길", "제석로"),
        ("봉선동", "주월동", "월산동", "방림동", "진월동", "송암동", "효덕동"),
    ),
    District(
        "29170",
        "북구",
        "Buk-gu",
        0.2985,
        120.3,
        35.1740,
        126.9120,
        (61000, 61299),
        ("북문대로", "서하로", "우치로", "설죽로", "용봉로", "하서로", "양산로", "첨단연신로"),
        ("용봉동", "운암동", "문흥동", "두암동", "일곡동", "양산동", "신용동", "오치동"),
    ),
    District(
        "29200",
        "광산구",
        "Gwangsan-gu",
        0.2775,
        222.9,
        35.1390,
        126.7940,
        (62200, 62499),
        ("하남대로", "임방울대로", "사암로", "첨단중앙로", "수완로", "장신로", "목련로", "송정로"),
        ("수완동", "신창동", "첨단동", "운남동", "우산동", "송정동", "월곡동", "하남동"),
    ),
)

_SHARES = cumulative([d.population_share for d in DISTRICTS])
_DISTRICT_LIST = list(DISTRICTS)
CITY = "광주광역시"
CITY_CODE = "29"


@dataclass(frozen=True)
class Address:
    district: District
    road: str
    building_number: int
    detail: str  # 상세주소 (apartment/unit), may be empty
    postcode: str
    dong: str
    latitude: float
    longitude: float

    @property
    def road_line(self) -> str:
        return f"{self.road} {self.building_number}"

    @property
    def text(self) -> str:
        tail = f", {self.detail}" if self.detail else ""
        return f"{CITY} {self.district.name} {self.road_line}{tail} ({self.dong})"


def choose_district(rng: random.Random) -> District:
    return weighted_choice(rng, _DISTRICT_LIST, _SHARES)


def random_point(rng: random.Random, district: District) -> tuple[float, float]:
    """A point within the district's equivalent circle, uniform by area."""
    radius = district.radius_deg * math.sqrt(rng.random())
    angle = rng.random() * 2 * math.pi
    latitude = district.latitude + radius * math.sin(angle)
    longitude = district.longitude + radius * math.cos(angle) / math.cos(math.radians(35.15))
    return round(latitude, 6), round(longitude, 6)


def random_address(rng: random.Random, district: District, *, residential: bool = True) -> Address:
    road = rng.choice(district.roads)
    number = rng.randint(1, 420)
    if residential and rng.random() < 0.62:  # most Gwangju households live in apartments
        detail = f"{rng.randint(101, 125)}동 {rng.randint(1, 25)}{rng.randint(1, 8):02d}호"
    elif residential and rng.random() < 0.5:
        detail = f"{rng.randint(1, 5)}층"
    else:
        detail = ""
    latitude, longitude = random_point(rng, district)
    low, high = district.postcode_range
    return Address(
        district,
        road,
        number,
        detail,
        f"{rng.randint(low, high):05d}",
        rng.choice(district.dongs),
        latitude,
        longitude,
    )


def address_to_fhir(address: Address) -> dict[str, object]:
    """FHIR Address with the KR Core road-name-address extension."""
    parts: list[dict[str, object]] = [
        {"url": "district", "valueString": address.district.name},
        {"url": "roadName", "valueString": address.road},
        {"url": "detailedAddress", "valueString": str(address.building_number)},
    ]
    if address.detail:
        parts.append({"url": "complements", "valueString": address.detail})
    return {
        "extension": [{"url": KR_ROAD_NAME_ADDRESS, "extension": parts}],
        "use": "home",
        "type": "physical",
        "text": address.text,
        "line": [address.road_line, *([address.detail] if address.detail else [])],
        "city": CITY,
        "district": address.district.name,
        "postalCode": address.postcode,
        "country": "KR",
    }


KR_ROAD_NAME_ADDRESS = (
    "http://www.hl7korea.or.kr/fhir/krcore/StructureDefinition/krcore-roadNameAddress"
)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))
