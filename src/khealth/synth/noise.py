"""Identity noise for record linkage: what a facility registers differs from the citizen.

Each facility registration independently draws each kind of noise with the rate configured in
`NoiseRates`; the kinds applied are written to the ground-truth file so that rates can be
measured. Hangul typos work on jamo (initial, vowel, final): confusable vowels (ㅐ/ㅔ, ㅓ/ㅗ,
ㅕ/ㅛ, ㅜ/ㅡ, ㅢ/ㅣ, ㅙ/ㅞ/ㅚ), tense/aspirated initials (ㄱ/ㅋ/ㄲ, ㄷ/ㅌ, ㅂ/ㅍ, ㅈ/ㅊ,
ㅅ/ㅆ), and a dropped or added final consonant, the common errors of Korean name entry.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from khealth.synth.citizens import Citizen
from khealth.synth.config import NoiseRates
from khealth.synth.geography import Address, choose_district, random_address
from khealth.synth.identifiers import make_mobile

_HANGUL_BASE, _HANGUL_LAST = 0xAC00, 0xD7A3
_INITIAL_SWAPS = {
    0: (15, 1),
    15: (0,),
    1: (0,),
    3: (16,),
    16: (3,),
    7: (17,),
    17: (7,),
    12: (14,),
    14: (12,),
    9: (10,),
    10: (9,),
}
_VOWEL_SWAPS = {
    1: (5,),
    5: (1,),
    4: (8,),
    8: (4,),
    6: (12,),
    12: (6,),
    13: (18,),
    18: (13,),
    19: (20,),
    20: (19,),
    11: (10, 15),
    10: (11, 15),
    15: (10, 11),
    0: (2,),
    2: (0,),
}


@dataclass(frozen=True)
class Registration:
    """The demographics one facility holds for a citizen, and the noise applied."""

    surname: str
    given_name: str
    birth_date: dt.date
    address: Address
    mobile: str
    rrn: str | None
    kinds: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.surname + self.given_name


def hangul_typo(rng: random.Random, text: str) -> str:
    positions = [i for i, ch in enumerate(text) if _HANGUL_BASE <= ord(ch) <= _HANGUL_LAST]
    if not positions:
        return text
    for _ in range(8):  # some syllables have no confusable part of the chosen kind
        position = rng.choice(positions)
        changed = _typo_syllable(rng, text[position])
        if changed != text[position]:
            return text[:position] + changed + text[position + 1 :]
    return text


def _typo_syllable(rng: random.Random, syllable: str) -> str:
    offset = ord(syllable) - _HANGUL_BASE
    initial, vowel, final = offset // 588, (offset % 588) // 28, offset % 28
    kind = rng.random()
    if kind < 0.5 and vowel in _VOWEL_SWAPS:
        vowel = rng.choice(_VOWEL_SWAPS[vowel])
    elif kind < 0.75 and initial in _INITIAL_SWAPS:
        initial = rng.choice(_INITIAL_SWAPS[initial])
    else:
        final = 0 if final else rng.choice((4, 8, 21))  # drop, or add ㄴ/ㄹ/ㅇ
    return chr(_HANGUL_BASE + initial * 588 + vowel * 28 + final)


def wrong_birth_date(rng: random.Random, birth_date: dt.date) -> dt.date:
    """Day and month transposed when that is a valid different date, else a one-digit slip."""
    if birth_date.day <= 12 and birth_date.day != birth_date.month and rng.random() < 0.6:
        return birth_date.replace(month=birth_date.day, day=birth_date.month)
    if rng.random() < 0.5:
        return birth_date + dt.timedelta(days=rng.choice((-1, 1)))
    try:
        return birth_date.replace(year=birth_date.year + rng.choice((-10, -1, 1, 10)))
    except ValueError:  # 29 February
        return birth_date + dt.timedelta(days=1)


def register(rng: random.Random, citizen: Citizen, rates: NoiseRates) -> Registration:
    kinds: list[str] = []
    surname, given = citizen.surname, citizen.given_name
    if rng.random() < rates.name_typo:
        kinds.append("name_typo")
        if rng.random() < 0.2:
            surname = hangul_typo(rng, surname)
        else:
            given = hangul_typo(rng, given)
    birth_date = citizen.birth_date
    if rng.random() < rates.birth_date_error:
        kinds.append("birth_date_error")
        birth_date = wrong_birth_date(rng, birth_date)
    address = citizen.address
    if rng.random() < rates.address_changed:
        kinds.append("address_changed")
        address = random_address(rng, choose_district(rng))
    mobile = citizen.mobile
    if rng.random() < rates.phone_changed:
        kinds.append("phone_changed")
        mobile = make_mobile(rng)
    rrn: str | None = citizen.rrn
    if rng.random() < rates.rrn_missing:
        kinds.append("rrn_missing")
        rrn = None
    return Registration(surname, given, birth_date, address, mobile, rrn, tuple(kinds))
