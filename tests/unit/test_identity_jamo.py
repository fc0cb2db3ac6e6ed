"""Hangul names compared letter by letter (jamo)."""

from __future__ import annotations

import pytest

from khealth.identity.jamo import decompose, initial_consonant, jamo_similarity

pytestmark = pytest.mark.unit


def test_a_syllable_decomposes_into_initial_vowel_and_marked_final() -> None:
    assert decompose("김") == ("ㄱ", "ㅣ", "ㅁ\u0307")
    assert decompose("이 서연") == ("ㅇ", "ㅣ", "ㅅ", "ㅓ", "ㅇ", "ㅕ", "ㄴ\u0307")


def test_the_initial_consonant_of_a_surname_is_its_first_letter() -> None:
    assert initial_consonant("강") == initial_consonant("김") == "ㄱ"


def test_the_same_name_scores_one() -> None:
    assert jamo_similarity("김민준", "김민준") == 1.0


@pytest.mark.parametrize(
    ("typo", "why"),
    [
        ("김민존", "ㅜ/ㅗ vowel"),
        ("김민쥰", "ㅜ/ㅠ vowel"),
        ("김민주", "dropped final"),
        ("킴민준", "ㄱ/ㅋ initial"),
    ],
)
def test_a_one_letter_typo_stays_close(typo: str, why: str) -> None:
    assert jamo_similarity("김민준", typo) >= 0.88, why


def test_a_confusable_letter_costs_less_than_an_unrelated_one() -> None:
    assert jamo_similarity("김민준", "킴민준") > jamo_similarity("김민준", "심민준")


def test_different_names_score_low() -> None:
    assert jamo_similarity("김민준", "이서연") < 0.5
    assert jamo_similarity("김민준", "이서연", 0.7) == 0.0
