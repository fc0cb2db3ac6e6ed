"""Citizens: age pyramid, sex, households, names, identifiers, lifestyle and chronic conditions.

Age pyramid: Gwangju resident registration population by five-year band, end of 2023 (KOSIS,
rounded; percent of all residents). Male share per band from the same table (≈ 51 % in children,
falling to ≈ 30 % above 90); overall ≈ 49.3 % male. Household sizes: 2023 Census for Gwangju
(1 person 35 %, 2 persons 28 %, 3 persons 19 %, 4 persons 14 %, 5+ 4 %). Members of a household
share an address and a landline; ages are drawn independently (see docs/synth.md, limits).
Lifestyle: KNHANES 2022 (current smoking men 32 % / women 6 %; monthly drinking 73 % / 50 %).
Annual mortality by age: Statistics Korea 2022 life table, rounded.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from khealth.synth.conditions import CHRONIC, ChronicCondition, prevalence
from khealth.synth.config import SynthConfig
from khealth.synth.geography import Address, choose_district, random_address
from khealth.synth.identifiers import make_ci, make_landline, make_mobile, make_rrn
from khealth.synth.names import choose_given_name, choose_surname
from khealth.synth.streams import cumulative, stream, weighted_choice

# (lower age of band, percent of population, male share)
AGE_PYRAMID: tuple[tuple[int, float, float], ...] = (
    (0, 3.2, 0.513),
    (5, 4.3, 0.514),
    (10, 4.8, 0.515),
    (15, 4.9, 0.515),
    (20, 6.3, 0.52),
    (25, 6.6, 0.525),
    (30, 5.8, 0.52),
    (35, 5.9, 0.51),
    (40, 7.2, 0.505),
    (45, 7.8, 0.50),
    (50, 8.3, 0.495),
    (55, 8.2, 0.49),
    (60, 7.6, 0.485),
    (65, 6.2, 0.47),
    (70, 4.3, 0.45),
    (75, 3.6, 0.42),
    (80, 2.6, 0.37),
    (85, 1.4, 0.31),
    (90, 0.6, 0.25),
)
_AGE_CUMULATIVE = cumulative([p for _, p, _ in AGE_PYRAMID])
_BANDS = list(range(len(AGE_PYRAMID)))
HOUSEHOLD_SIZES = ((1, 35.0), (2, 28.0), (3, 19.0), (4, 14.0), (5, 4.0))
_HOUSEHOLD_CUMULATIVE = cumulative([w for _, w in HOUSEHOLD_SIZES])
_ANNUAL_MORTALITY = (
    (0, 0.0003),
    (40, 0.0012),
    (50, 0.003),
    (60, 0.007),
    (70, 0.02),
    (80, 0.065),
    (90, 0.18),
)


@dataclass(frozen=True)
class Lifestyle:
    smoking: str  # never | former | current
    drinks_per_week: float
    exercise_days: int


@dataclass(frozen=True)
class Body:
    height_cm: float
    bmi: float
    # Stable per-person z-scores for analytes, so repeated measurements of one person agree.
    z: dict[str, float]


@dataclass(frozen=True)
class Diagnosis:
    condition: ChronicCondition
    onset: dt.date


@dataclass(frozen=True)
class Citizen:
    id: str
    index: int
    household: str
    surname: str
    given_name: str
    female: bool
    birth_date: dt.date
    rrn: str
    ci: str
    mobile: str
    landline: str
    address: Address
    lifestyle: Lifestyle
    body: Body
    diagnoses: tuple[Diagnosis, ...]
    death_date: dt.date | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.surname + self.given_name

    def age_on(self, day: dt.date) -> int:
        years = day.year - self.birth_date.year
        return years - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))

    def has(self, key: str, on: dt.date) -> bool:
        return any(d.condition.key == key and d.onset <= on for d in self.diagnoses)


@dataclass
class _Household:
    id: str
    address: Address
    landline: str
    surname: str
    size: int


class CitizenFactory:
    """Generates citizens one at a time, in index order, with bounded state.

    The only state kept across citizens is the RRN serial counter per (birth date, sex), which
    makes resident numbers unique within the city (≈ 60 k small ints for a full city).
    """

    def __init__(self, config: SynthConfig) -> None:
        self.config = config
        self._serials: dict[tuple[dt.date, bool], int] = {}

    def citizens(self, start: int = 0, stop: int | None = None) -> Iterator[Citizen]:
        """Citizens `start` … `stop - 1`, exactly as a run from 0 would make them.

        A shard starting later replays the cheap first draws of every earlier household and
        citizen (size; birth date and sex) to find its household and RRN serials.
        """
        stop = self.config.citizens if stop is None else min(stop, self.config.citizens)
        index, household_number = 0, 0
        while index < stop:
            household = self._household(household_number)
            for _ in range(min(household.size, stop - index)):
                if index >= start:
                    yield self._citizen(index, household)
                else:
                    self._next_serial(*_birth_and_sex(self.config, index))
                index += 1
            household_number += 1

    def _next_serial(self, birth_date: dt.date, female: bool) -> int:
        serial = self._serials.get((birth_date, female), 0)
        self._serials[(birth_date, female)] = serial + 1
        return serial

    def _household(self, number: int) -> _Household:
        rng = stream(self.config.seed, "household", number)
        size = weighted_choice(rng, [s for s, _ in HOUSEHOLD_SIZES], _HOUSEHOLD_CUMULATIVE)
        district = choose_district(rng)
        return _Household(
            f"h{number:07d}",
            random_address(rng, district),
            make_landline(rng),
            choose_surname(rng),
            size,
        )

    def _citizen(self, index: int, household: _Household) -> Citizen:
        rng = stream(self.config.seed, "citizen", index)
        today = self.config.today
        band, birth_date, female = _first_draws(rng, today)
        surname = household.surname if rng.random() < 0.55 else choose_surname(rng)
        given = choose_given_name(rng, birth_year=birth_date.year, female=female)
        serial = self._next_serial(birth_date, female)
        rrn = make_rrn(birth_date, female=female, serial=serial % 1000)
        lifestyle = _lifestyle(rng, female=female, age=band[0])
        death_date = _death_date(rng, birth_date, self.config)
        reference_day = death_date or today
        age_now = (reference_day - birth_date).days // 365
        return Citizen(
            id=f"c{index:07d}",
            index=index,
            household=household.id,
            surname=surname,
            given_name=given,
            female=female,
            birth_date=birth_date,
            rrn=rrn,
            ci=make_ci(rrn),
            mobile=make_mobile(rng),
            landline=household.landline,
            address=household.address,
            lifestyle=lifestyle,
            body=_body(rng, female=female, birth_year=birth_date.year),
            diagnoses=_diagnoses(rng, birth_date, age_now, female, reference_day, lifestyle),
            death_date=death_date,
        )


def _first_draws(
    rng: random.Random, today: dt.date
) -> tuple[tuple[int, float, float], dt.date, bool]:
    band = AGE_PYRAMID[weighted_choice(rng, _BANDS, _AGE_CUMULATIVE)]
    age_days = int((band[0] + rng.random() * (5 if band[0] < 90 else 10)) * 365.25)
    return band, today - dt.timedelta(days=age_days), rng.random() >= band[2]


def _birth_and_sex(config: SynthConfig, index: int) -> tuple[dt.date, bool]:
    _, birth_date, female = _first_draws(stream(config.seed, "citizen", index), config.today)
    return birth_date, female


def _lifestyle(rng: random.Random, *, female: bool, age: int) -> Lifestyle:
    if age < 19:
        return Lifestyle("never", 0.0, rng.randint(0, 7))
    roll = rng.random()
    current, former = (0.06, 0.05) if female else (0.32, 0.30)
    smoking = "current" if roll < current else "former" if roll < current + former else "never"
    drinks = 0.0
    if rng.random() < (0.50 if female else 0.73):
        drinks = round(rng.lognormvariate(1.0 if female else 1.8, 0.8), 1)
    return Lifestyle(smoking, drinks, min(7, int(rng.expovariate(0.45))))


_ANALYTES = ("sbp", "glucose", "tc", "hdl", "tg", "hb", "ast", "alt", "ggt", "creatinine", "waist")


def _body(rng: random.Random, *, female: bool, birth_year: int) -> Body:
    # Secular trend of adult height, Korea (KNHANES): about +0.2 cm per birth year, 1950→1995.
    cohort = min(max(birth_year, 1945), 1995) - 1945
    height = (152.5 if female else 164.5) + 0.19 * cohort + rng.gauss(0, 5.3 if female else 5.8)
    bmi = rng.gauss(23.0 if female else 24.5, 3.3 if female else 3.2)
    z = {name: rng.gauss(0, 1) for name in _ANALYTES}
    return Body(round(height, 1), max(16.0, bmi), z)


def _death_date(rng: random.Random, birth_date: dt.date, config: SynthConfig) -> dt.date | None:
    for year in range(config.history_years):
        day = config.history_start + dt.timedelta(days=int(365.25 * year))
        age = (day - birth_date).days / 365.25
        if age < 0:
            continue
        rate = 0.0
        for lower, annual in _ANNUAL_MORTALITY:
            if age >= lower:
                rate = annual
        if rng.random() < rate:
            death = day + dt.timedelta(days=rng.randint(0, 364))
            return min(death, config.today - dt.timedelta(days=1))
    return None


def _diagnoses(
    rng: random.Random,
    birth_date: dt.date,
    age: int,
    female: bool,
    reference_day: dt.date,
    lifestyle: Lifestyle,
) -> tuple[Diagnosis, ...]:
    out = []
    for condition in CHRONIC:
        p = prevalence(condition, age, female=female)
        if condition.key in ("copd", "lung_cancer") and lifestyle.smoking == "never":
            p *= 0.3
        if p and rng.random() < p:
            earliest = max(condition.min_age, 1 if age < 20 else 18)
            onset_age = rng.uniform(max(earliest, age - 25), age) if age > earliest else age
            onset = birth_date + dt.timedelta(days=int(onset_age * 365.25))
            out.append(Diagnosis(condition, min(onset, reference_day)))
    return tuple(out)
