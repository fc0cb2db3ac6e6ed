import datetime as dt
import random
import re

import pytest

from khealth.synth.identifiers import (
    is_synthetic_rrn,
    is_valid_rrn_shape,
    make_ci,
    make_mobile,
    make_rrn,
    rrn_check_digit,
)

pytestmark = pytest.mark.unit


def test_the_check_digit_matches_the_published_mod_11_rule():
    # Weights 2..9,2..5 over the first 12 digits; X = (11 - sum mod 11) mod 10.
    digits = "900101199001"
    total = sum(int(d) * w for d, w in zip(digits, (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)))
    assert rrn_check_digit(digits) == (11 - total % 11) % 10


@pytest.mark.parametrize(
    ("birth", "female", "sex_digit"),
    [
        (dt.date(1961, 3, 9), False, "1"),
        (dt.date(1988, 12, 31), True, "2"),
        (dt.date(2003, 7, 1), False, "3"),
        (dt.date(2019, 2, 28), True, "4"),
    ],
)
def test_a_resident_number_has_the_birth_date_sex_digit_marker_and_a_valid_check_digit(
    birth, female, sex_digit
):
    rrn = make_rrn(birth, female=female, serial=42)
    assert re.fullmatch(r"\d{6}-\d{7}", rrn)
    assert rrn[:6] == birth.strftime("%y%m%d")
    assert rrn[7] == sex_digit
    assert rrn[8:10] == "99"  # the synthetic marker: region code never assigned
    assert is_valid_rrn_shape(rrn)
    assert is_synthetic_rrn(rrn)


def test_a_resident_number_with_a_wrong_check_digit_is_rejected():
    rrn = make_rrn(dt.date(1975, 5, 5), female=False, serial=1)
    broken = rrn[:-1] + str((int(rrn[-1]) + 1) % 10)
    assert not is_valid_rrn_shape(broken)
    assert not is_synthetic_rrn(broken)


def test_a_real_looking_region_code_is_not_taken_for_synthetic():
    body = "750505" + "1" + "12" + "345"
    rrn = f"{body[:6]}-{body[6:]}{rrn_check_digit(body)}"
    assert is_valid_rrn_shape(rrn)
    assert not is_synthetic_rrn(rrn)


def test_the_ci_is_88_characters_of_base64_and_stable():
    rrn = make_rrn(dt.date(1990, 1, 1), female=True, serial=0)
    ci = make_ci(rrn)
    assert len(ci) == 88
    assert re.fullmatch(r"[A-Za-z0-9+/]{86}==", ci)
    assert make_ci(rrn) == ci


def test_mobile_numbers_are_in_the_unassigned_010_0xxx_block():
    rng = random.Random(1)
    for _ in range(200):
        assert re.fullmatch(r"010-0\d{3}-\d{4}", make_mobile(rng))
