"""EMS incidents with their true conditions, and emergency-department capacity over time.

Incident rate: ≈ 1.8 M 119 ambulance transports a year for 51.7 M people (NFA 119 statistics,
2023), i.e. ≈ 9.5 per 100,000 people a day, with a daytime peak. Condition mix rounded from NFA
and NEDIS summaries: cardiac arrest ≈ 2.5 % (OHCA ≈ 0.6 per 1,000 a year), STEMI 2 %, stroke with
large-vessel occlusion 2 %, other stroke 3 %, major trauma 4 %, sepsis 4 %; the rest minor.
Pre-KTAS levels follow the KTAS first-order considerations (reference notes §1.1–1.2).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from khealth.synth.clinical_resources import KST, instant
from khealth.synth.config import SynthConfig
from khealth.synth.facilities import ON_CALL_DEPARTMENTS, Facility, FacilityIndex
from khealth.synth.geography import choose_district, distance_km, random_point
from khealth.synth.streams import cumulative, stream, weighted_choice

DAILY_RATE = 9.5e-5
_HOURLY = (
    3,
    2.5,
    2,
    2,
    2,
    2.5,
    3.5,
    4.5,
    5.5,
    6,
    6,
    6,
    5.5,
    5.5,
    5.5,
    5.5,
    5.5,
    5.5,
    5.5,
    5.5,
    5,
    4.5,
    4,
    3.5,
)


@dataclass(frozen=True)
class TrueCondition:
    key: str
    kcd: str
    complaint: str  # chief complaint as a crew records it, Korean
    weight: float
    ktas: tuple[int, int]
    capability: str | None


CONDITIONS: tuple[TrueCondition, ...] = (
    TrueCondition("cardiac_arrest", "I46.9", "의식 없음, 호흡 없음", 2.5, (1, 1), "pci"),
    TrueCondition("stemi", "I21.3", "흉통, 식은땀", 2.0, (2, 2), "pci"),
    TrueCondition(
        "stroke_lvo", "I63.5", "한쪽 팔다리 마비, 말이 어눌함", 2.0, (2, 2), "thrombectomy"
    ),
    TrueCondition("stroke_other", "I63.9", "어지러움, 한쪽 저림", 3.0, (2, 3), None),
    TrueCondition("major_trauma", "T07", "교통사고, 다발성 외상", 4.0, (1, 2), "trauma"),
    TrueCondition("sepsis", "A41.9", "고열, 의식 저하", 4.0, (2, 2), None),
    TrueCondition("respiratory_distress", "J96.0", "호흡곤란", 6.0, (2, 3), None),
    TrueCondition("burn", "T30.0", "화상", 0.5, (2, 3), "burns"),
    TrueCondition("obstetric", "O47.9", "임신 중 복통, 출혈", 1.0, (2, 3), "obstetric"),
    TrueCondition("paediatric_fever", "R50.9", "소아 고열, 경련", 4.0, (3, 3), "paediatric"),
    TrueCondition("seizure", "R56.8", "경련", 3.0, (2, 3), None),
    TrueCondition("syncope", "R55", "실신", 5.0, (3, 3), None),
    TrueCondition("intoxication", "T51.0", "음주 후 의식 저하", 5.0, (3, 4), None),
    TrueCondition("abdominal_pain", "R10.4", "복통", 12.0, (3, 4), None),
    TrueCondition("minor_trauma", "S09.9", "낙상, 찰과상", 25.0, (4, 5), None),
    TrueCondition("other_minor", "R68.8", "전신 쇠약감", 21.0, (4, 5), None),
)
_CONDITION_WEIGHTS = cumulative([c.weight for c in CONDITIONS])


def nearest_emergency(
    rng: random.Random,
    facilities: FacilityIndex,
    latitude: float,
    longitude: float,
    options: Sequence[Facility] | None = None,
) -> Facility:
    """One of the three nearest emergency facilities (60/25/15 %), as crews and patients choose."""
    candidates = sorted(
        options or facilities.emergency,
        key=lambda f: (distance_km(latitude, longitude, f.latitude, f.longitude), f.id),
    )[:3]
    return weighted_choice(rng, candidates, cumulative([0.6, 0.25, 0.15][: len(candidates)]))


def _vitals(rng: random.Random, condition: TrueCondition, age: int) -> dict[str, Any]:
    key = condition.key
    if key == "cardiac_arrest":
        return {
            "sbp": 0,
            "dbp": 0,
            "heart_rate": 0,
            "resp_rate": 0,
            "spo2": None,
            "gcs": 3,
            "temperature": round(rng.gauss(36.0, 0.5), 1),
        }
    sbp = rng.gauss(
        150 if key.startswith("stroke") else 95 if key in ("sepsis", "major_trauma") else 130, 18
    )
    heart = rng.gauss(115 if key in ("sepsis", "major_trauma", "respiratory_distress") else 85, 14)
    spo2 = rng.gauss(88 if key in ("respiratory_distress", "sepsis") else 97, 3)
    gcs = (
        3 + int(12 * rng.random()) if key in ("major_trauma", "stroke_lvo", "intoxication") else 15
    )
    febrile = key in ("sepsis", "paediatric_fever")
    return {
        "sbp": round(sbp),
        "dbp": round(sbp * 0.62),
        "heart_rate": round(heart),
        "resp_rate": round(rng.gauss(26 if spo2 < 92 else 18, 3)),
        "spo2": min(100, round(spo2)),
        "gcs": gcs,
        "temperature": round(rng.gauss(39.0 if febrile else 36.7, 0.4), 1),
    }


def incidents(config: SynthConfig, population: int | None = None) -> Iterator[dict[str, Any]]:
    """Time-ordered EMS incidents over the `emergency_days` before `today`."""
    people = population if population is not None else config.citizens
    hourly_weights = [w / sum(_HOURLY) for w in _HOURLY]
    start = config.today - dt.timedelta(days=config.emergency_days)
    number = 0
    for day_offset in range(config.emergency_days):
        day = start + dt.timedelta(days=day_offset)
        rng = stream(config.seed, "ems", day.isoformat())
        for hour in range(24):
            expected = people * DAILY_RATE * hourly_weights[hour]
            for minute in sorted(rng.randrange(60) for _ in range(_poisson(rng, expected))):
                number += 1
                moment = dt.datetime.combine(day, dt.time(hour, minute), KST)
                yield _incident(rng, number, moment, people)


def _poisson(rng: random.Random, mean: float) -> int:
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, product, count = math.exp(-mean), rng.random(), 0
    while product > limit:
        product *= rng.random()
        count += 1
    return count


def _incident(rng: random.Random, number: int, moment: dt.datetime, people: int) -> dict[str, Any]:
    condition = weighted_choice(rng, list(CONDITIONS), _CONDITION_WEIGHTS)
    district = choose_district(rng)
    latitude, longitude = random_point(rng, district)
    if condition.key == "paediatric_fever":
        age = rng.randint(0, 9)
    elif condition.key == "obstetric":
        age = rng.randint(22, 42)
    else:
        age = min(99, max(0, int(rng.gauss(62, 20))))
    identified = people > 0 and rng.random() > 0.05
    return {
        "id": f"ems-{moment.strftime('%Y%m%d')}-{number:06d}",
        "time": instant(moment),
        "latitude": latitude,
        "longitude": longitude,
        "district": district.name,
        "citizen_id": f"c{rng.randrange(people):07d}" if identified else None,
        "age": age,
        "sex": rng.choice(("male", "female")) if condition.key != "obstetric" else "female",
        "chief_complaint": condition.complaint,
        "vitals": _vitals(rng, condition, age),
        "pre_ktas": rng.randint(*condition.ktas),
        "true_condition": condition.key,
        "true_condition_kcd": condition.kcd,
        "required_capability": condition.capability,
    }


def capacity(config: SynthConfig, facilities: FacilityIndex) -> Iterator[dict[str, Any]]:
    """Each emergency department's state every `capacity_interval_minutes`, time-ordered."""
    step = dt.timedelta(minutes=config.capacity_interval_minutes)
    moment = dt.datetime.combine(
        config.today - dt.timedelta(days=config.emergency_days), dt.time(0, 0), KST
    )
    end = dt.datetime.combine(config.today, dt.time(0, 0), KST)
    rng = stream(config.seed, "capacity")
    load = {f.id: rng.uniform(0.5, 0.9) for f in facilities.emergency}
    while moment < end:
        diurnal = 0.75 + 0.25 * math.sin((moment.hour - 9) / 24 * 2 * math.pi)
        for facility in facilities.emergency:
            load[facility.id] = min(
                1.15, max(0.2, 0.85 * load[facility.id] + 0.15 * diurnal + rng.gauss(0, 0.04))
            )
            yield _snapshot(rng, facility, moment, load[facility.id])
        moment += step


def _snapshot(
    rng: random.Random, facility: Facility, moment: dt.datetime, load: float
) -> dict[str, Any]:
    occupied = round(facility.ed_beds * load)
    icu_free = max(0, round(facility.icu_beds * rng.uniform(0.0, 0.15)))
    on_call = {}
    for department in ON_CALL_DEPARTMENTS:
        doctor = facility.on_call(department, moment.weekday())
        if doctor is not None:
            on_call[department] = f"{doctor.id}-role" if rng.random() > 0.05 else None
    # Sorted before drawing: a frozenset iterates in hash-seed order, which differs per process.
    available = [c for c in sorted(facility.capabilities) if rng.random() > 0.08]
    return {
        "time": instant(moment),
        "facility_id": facility.id,
        "emergency_tier": facility.emergency_tier,
        "ed_beds_total": facility.ed_beds,
        "ed_beds_available": max(0, facility.ed_beds - occupied),
        "ed_patients": occupied,
        "icu_beds_available": icu_free,
        "ct_available": facility.ct > 0 and rng.random() > 0.05,
        "mri_available": facility.mri > 0 and rng.random() > 0.1,
        "angiography_available": facility.angio > 0 and rng.random() > 0.1,
        "capabilities_available": available,
        "on_call": on_call,
        "saturated": occupied >= facility.ed_beds,
    }
