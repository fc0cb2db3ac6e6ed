"""Hangul names compared letter by letter (jamo), the level at which Korean typos happen.

A precomposed syllable (U+AC00..U+D7A3) is initial × 588 + vowel × 28 + final; comparing
syllables whole would score 김민준/김민존 as one wrong character out of three, while only one of
eight letters differs.  Confusable letters (ㅐ/ㅔ, ㄱ/ㅋ/ㄲ, a dropped final consonant…) cost half
an edit, so a keyboard or hearing slip stays close and a different name does not.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

_BASE, _LAST = 0xAC00, 0xD7A3
_INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_FINALS = ("", *"ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ")
_CONFUSABLE = (
    "ㅐㅔ", "ㅒㅖ", "ㅓㅗ", "ㅕㅛ", "ㅜㅡ", "ㅢㅣ", "ㅙㅞㅚ", "ㄱㅋㄲ", "ㄷㅌㄸ",
    "ㅂㅍㅃ", "ㅈㅊㅉ", "ㅅㅆ",
)  # fmt: skip
_GROUP = {letter: n for n, group in enumerate(_CONFUSABLE) for letter in group}
#: a final consonant is marked so that initial ㄴ and final ㄴ are different letters
_FINAL_MARK = "\u0307"


def decompose(text: str) -> tuple[str, ...]:
    """The letters of ``text``: each Hangul syllable as initial, vowel and (marked) final;
    anything else as itself. Spaces are dropped (names are written with or without them)."""
    letters: list[str] = []
    for ch in text:
        code = ord(ch) - _BASE
        if 0 <= code <= _LAST - _BASE:
            letters.append(_INITIALS[code // 588])
            letters.append(_VOWELS[(code % 588) // 28])
            if code % 28:
                letters.append(_FINALS[code % 28] + _FINAL_MARK)
        elif not ch.isspace():
            letters.append(ch.lower())
    return tuple(letters)


def initial_consonant(text: str) -> str:
    """The first letter of a name (ㄱ for 김, 강, 고): a blocking key that survives vowel typos
    and a wrongly tensed initial only partly, so blocking uses several keys."""
    letters = decompose(text)
    return letters[0] if letters else ""


def _substitution_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    plain_a, plain_b = a.rstrip(_FINAL_MARK), b.rstrip(_FINAL_MARK)
    same_slot = (a != plain_a) == (b != plain_b)
    if same_slot and _GROUP.get(plain_a, -1) == _GROUP.get(plain_b, -2):
        return 0.5
    return 1.0


def _indel_cost(letter: str) -> float:
    return 0.5 if letter.endswith(_FINAL_MARK) else 1.0  # a dropped/added final consonant


# The distance runs on small integers with the costs tabled once (it is the hot loop of
# linkage); any other character gets a code of its own on first sight.
#: every letter :func:`decompose` makes of a Hangul syllable
HANGUL_LETTERS: tuple[str, ...] = (*_INITIALS, *_VOWELS, *(f + _FINAL_MARK for f in _FINALS[1:]))
_ALPHABET: list[str] = list(HANGUL_LETTERS)
_CODE = {letter: i for i, letter in enumerate(_ALPHABET)}
_SUBSTITUTE = [[_substitution_cost(x, y) for y in _ALPHABET] for x in _ALPHABET]
_INDEL = [_indel_cost(x) for x in _ALPHABET]


def _code(letter: str) -> int:
    code = _CODE.get(letter)
    if code is None:
        code = _CODE[letter] = len(_ALPHABET)
        _ALPHABET.append(letter)
        for row, x in zip(_SUBSTITUTE, _ALPHABET, strict=False):
            row.append(_substitution_cost(x, letter))
        _SUBSTITUTE.append([_substitution_cost(letter, y) for y in _ALPHABET])
        _INDEL.append(_indel_cost(letter))
    return code


def jamo_distance(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """Weighted Levenshtein distance over letters (Wagner–Fischer, two rows)."""
    return _distance(tuple(_code(x) for x in a), tuple(_code(y) for y in b))


def _distance(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    indel, substitute = _INDEL, _SUBSTITUTE
    previous = [0.0]
    for y in b:
        previous.append(previous[-1] + indel[y])
    for x in a:
        row, cost_x = substitute[x], indel[x]
        left = previous[0] + cost_x
        current = [left]
        for j, y in enumerate(b):
            left = min(previous[j + 1] + cost_x, left + indel[y], previous[j] + row[y])
            current.append(left)
        previous = current
    return previous[-1]


@functools.lru_cache(maxsize=200_000)
def jamo_similarity(a: str, b: str, floor: float = 0.0) -> float:
    """1.0 for the same letters, falling by each weighted edit over the longer name's length;
    0.0 for any pair that cannot reach ``floor``."""
    if a == b:
        return 1.0
    letters_a, letters_b = _letters(a), _letters(b)
    longest = max(len(letters_a), len(letters_b))
    if longest == 0:
        return 0.0
    # Each letter outside the common multiset costs at least half an edit: a cheap bound
    # that settles most pairs of unrelated names without the quadratic distance.
    common = sum((_counts(a) & _counts(b)).values())
    if 1.0 - 0.5 * (longest - common) / longest < floor:
        return 0.0
    return max(0.0, 1.0 - _distance(letters_a, letters_b) / longest)


@functools.lru_cache(maxsize=200_000)
def _letters(text: str) -> tuple[int, ...]:
    return tuple(_code(x) for x in decompose(text))


@functools.lru_cache(maxsize=200_000)
def _counts(text: str) -> Counter[str]:
    return Counter(decompose(text))


def similarities(a: Sequence[str], b: Sequence[str]) -> npt.NDArray[np.float64]:
    """:func:`jamo_similarity` (exact, no floor) of many pairs at once: the same
    Wagner–Fischer recurrence, run for every pair together in NumPy (a step per cell of
    the longest pair's table instead of a Python loop per cell per pair), pairs grouped
    by the length of their first name so that short names do not pay for long ones."""
    letters_a, letters_b = [_letters(x) for x in a], [_letters(y) for y in b]
    result = np.zeros(len(letters_a), dtype=np.float64)
    if not letters_a:
        return result
    substitute, indel = np.array(_SUBSTITUTE), np.array([*_INDEL, 0.0])  # pad: code −1
    lengths = np.fromiter(map(len, letters_a), np.int64, len(letters_a))
    for length in np.unique(lengths).tolist():
        group = np.flatnonzero(lengths == length)
        x, len_x = _padded([letters_a[i] for i in group])
        y, len_y = _padded([letters_b[i] for i in group])
        distance = _distances(x, y, len_y, substitute, indel)
        longest = np.maximum(len_x, len_y)
        similarity = np.maximum(0.0, 1.0 - distance / np.maximum(longest, 1))
        result[group] = np.where(longest == 0, 0.0, similarity)
    result[[i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x == y]] = 1.0
    return result


def _distances(
    x: npt.NDArray[np.int64], y: npt.NDArray[np.int64], len_y: npt.NDArray[np.int64],
    substitute: npt.NDArray[np.float64], indel: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:  # fmt: skip
    """Weighted edit distance of each row of ``x`` (all of one length) to that of ``y``
    (padded with −1: the cells past a word's end are computed and never read)."""
    cost_y = indel[y]
    previous = np.concatenate([np.zeros((len(x), 1)), np.cumsum(cost_y, axis=1)], axis=1)
    for i in range(x.shape[1]):
        cost_x = indel[x[:, i]]
        row = substitute[x[:, i][:, None], y]
        current = np.empty_like(previous)
        current[:, 0] = left = previous[:, 0] + cost_x
        for j in range(y.shape[1]):
            left = np.minimum(np.minimum(previous[:, j + 1] + cost_x, left + cost_y[:, j]), previous[:, j] + row[:, j])  # fmt: skip
            current[:, j + 1] = left
        previous = current
    distance: npt.NDArray[np.float64] = previous[np.arange(len(x)), len_y]
    return distance


def _padded(words: list[tuple[int, ...]]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    lengths = np.fromiter(map(len, words), np.int64, len(words))
    codes = np.full((len(words), int(lengths.max(initial=0))), -1, np.int64)
    for row, word in enumerate(words):
        codes[row, : len(word)] = word
    return codes, lengths
