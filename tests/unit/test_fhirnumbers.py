from __future__ import annotations

import math

import pytest

from khealth.fhir.fhirnumbers import precision_range

pytestmark = pytest.mark.unit

TEXT = [
    # the examples of R4 search 3.1.1.5.7, and the task's
    ("100", 100.0, 99.5, 100.5),
    ("100.00", 100.0, 99.995, 100.005),
    ("1e2", 100.0, 95.0, 105.0),
    ("5.40", 5.4, 5.395, 5.405),
    ("5.4", 5.4, 5.35, 5.45),
    ("0", 0.0, -0.5, 0.5),
    ("-3", -3.0, -3.5, -2.5),
    ("-0.25", -0.25, -0.255, -0.245),
    ("1.5e2", 150.0, 149.5, 150.5),
    ("1E-3", 0.001, 0.00095, 0.00105),
    ("0.001", 0.001, 0.0005, 0.0015),
]


@pytest.mark.parametrize(("text", "value", "low", "high"), TEXT)
def test_text_keeps_the_precision_it_was_written_with(
    text: str, value: float, low: float, high: float
) -> None:
    assert precision_range(text) == (value, low, high)


JSON = [
    # what orjson hands us: ints keep unit precision, floats the digits of their repr
    (100, 100.0, 99.5, 100.5),
    (100.0, 100.0, 99.95, 100.05),
    (5.4, 5.4, 5.35, 5.45),  # written "5.40": the trailing zero is lost in parsing
    (0.25, 0.25, 0.245, 0.255),
    (-7, -7.0, -7.5, -6.5),
    (1e-05, 1e-05, 5e-06, 1.5e-05),
]


@pytest.mark.parametrize(("number", "value", "low", "high"), JSON)
def test_json_numbers_use_their_shortest_written_form(
    number: float, value: float, low: float, high: float
) -> None:
    assert precision_range(number) == (value, low, high)


def test_an_int_and_an_equal_float_have_different_precisions() -> None:
    assert precision_range(100) != precision_range(100.0)


@pytest.mark.parametrize(
    "bad",
    ["", "abc", "1.", ".5", "01", "+1", "1e", "1,5", " 1", "NaN", "Infinity", "1_000"],
)
def test_it_rejects_text_outside_the_fhir_decimal_grammar(bad: str) -> None:
    with pytest.raises(ValueError):
        precision_range(bad)


@pytest.mark.parametrize("bad", [True, False, math.nan, math.inf, -math.inf, None, [1]])
def test_it_rejects_values_that_are_not_finite_numbers(bad: object) -> None:
    with pytest.raises(ValueError):
        precision_range(bad)  # type: ignore[arg-type]


def test_the_value_lies_inside_its_range_low_inclusive_high_exclusive() -> None:
    for text in ("100", "5.40", "1e2", "-0.001"):
        value, low, high = precision_range(text)
        assert low <= value < high
