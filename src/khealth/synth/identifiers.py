"""Identifiers shaped like Korean ones, but unmistakably synthetic.

Resident registration number (주민등록번호), ``YYMMDD-GHIJKLX``:
  * ``YYMMDD`` is the citizen's synthetic birth date and ``G`` the real sex/century digit
    (1/2 born 1900–1999, 3/4 born 2000–2099, odd = male);
  * **the synthetic marker**: ``HI`` (the old birth-registration region code) is always ``99``.
    Region codes were assigned from 00 (Seoul) to 95 (Jeju); 96–99 were never assigned, so no
    RRN issued before October 2020 carries ``99`` there;
  * ``JKL`` is a serial, unique per birth date and sex within one generated city;
  * ``X`` is the pre-2020 mod-11 check digit (weights 2,3,4,5,6,7,8,9,2,3,4,5), which is valid.
  `is_synthetic_rrn` checks both the marker and the check digit.

CI (연계정보): 88 characters, base64 of HMAC-SHA-512 over the RRN with the public key
``khealth-synthetic-ci-v1``; a real CI uses a secret key held by identity-verification agencies,
so no real CI can be computed this way.

Mobile phones: ``010-0XXX-XXXX``. Korean 010 numbers are issued with a middle block starting
2–9; a middle block starting with 0 is not assigned to subscribers, so these numbers cannot ring
anyone.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import random

SYNTHETIC_REGION = "99"
_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
_CI_KEY = b"khealth-synthetic-ci-v1"


def rrn_check_digit(first12: str) -> int:
    total = sum(int(digit) * weight for digit, weight in zip(first12, _WEIGHTS, strict=True))
    return (11 - total % 11) % 10


def sex_century_digit(birth_date: dt.date, *, female: bool) -> int:
    if birth_date.year < 1900:
        base = 9
    elif birth_date.year < 2000:
        base = 1
    else:
        base = 3
    if base == 9:
        return 0 if female else 9
    return base + (1 if female else 0)


def make_rrn(birth_date: dt.date, *, female: bool, serial: int) -> str:
    if not 0 <= serial <= 999:
        raise ValueError(f"RRN serial must be within 0..999, got {serial}")
    front = birth_date.strftime("%y%m%d")
    body = f"{front}{sex_century_digit(birth_date, female=female)}{SYNTHETIC_REGION}{serial:03d}"
    return f"{front}-{body[6:]}{rrn_check_digit(body)}"


def is_valid_rrn_shape(rrn: str) -> bool:
    digits = rrn.replace("-", "")
    if len(rrn) != 14 or rrn[6] != "-" or not digits.isdigit() or len(digits) != 13:
        return False
    return rrn_check_digit(digits[:12]) == int(digits[12])


def is_synthetic_rrn(rrn: str) -> bool:
    return is_valid_rrn_shape(rrn) and rrn[8:10] == SYNTHETIC_REGION


def make_ci(rrn: str) -> str:
    digest = hmac.new(_CI_KEY, rrn.encode(), hashlib.sha512).digest()
    return base64.b64encode(digest).decode()


def make_mobile(rng: random.Random) -> str:
    return f"010-0{rng.randint(0, 999):03d}-{rng.randint(0, 9999):04d}"


def make_landline(rng: random.Random) -> str:
    """Gwangju area code 062; exchange 0xx is likewise unassigned."""
    return f"062-0{rng.randint(10, 99)}-{rng.randint(0, 9999):04d}"
