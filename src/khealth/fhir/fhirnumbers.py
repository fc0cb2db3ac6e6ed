"""The implicit precision of FHIR numbers (R4 search 3.1.1.5.7, "number").

A number stands for the range its significant figures imply: ``100`` is ``[99.5, 100.5)``,
``100.00`` is ``[99.995, 100.005)`` and ``5.40`` is ``[5.395, 5.405)``.  In exponent form
the spec's own example gives ``1e2`` the range ``[95, 105)``; we follow that example, so an
exponent-form number is taken one digit finer than its mantissa's last digit (a literal
reading of "one significant figure" would give ``[50, 150)``, which the spec does not use).

Limitation: index values come from parsed JSON.  orjson turns ``5.40`` into the float
``5.4`` and ``1e2`` into ``100.0``, so the written trailing zeros and notation are lost.
For a float we use its shortest ``repr`` (``5.4`` -> ``[5.35, 5.45)``, ``100.0`` ->
``[99.95, 100.05)``) and never the exponent rule; an int keeps unit precision.  Search
values arrive as text and keep their full precision.
"""

from __future__ import annotations

import functools
import math
import re
from decimal import Decimal

# The R4 decimal regex; search values use the same grammar.
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?", re.ASCII)

_FIVE = Decimal(5)


def precision_range(value: str | int | float) -> tuple[float, float, float]:
    """``(value, low, high)``: the number and its precision range, low inclusive, high exclusive.

    Text must match the FHIR decimal grammar; ints and floats are what JSON parsing gives.
    Raises ValueError for anything else (booleans, NaN, infinities, bad text).
    """
    if isinstance(value, str):
        return _text_range(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"not a FHIR number: {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    return _json_range(value)


@functools.lru_cache(maxsize=65_536)
def _text_range(text: str) -> tuple[float, float, float]:
    if _DECIMAL.fullmatch(text) is None:
        raise ValueError(f"not a FHIR decimal: {text!r}")
    number = Decimal(text)
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite by the regex
    # Exponent form is one digit finer than its mantissa (the spec's 1e2 -> [95, 105)).
    finer = 2 if "e" in text or "E" in text else 1
    return _bounds(number, _FIVE.scaleb(exponent - finer))


@functools.lru_cache(maxsize=65_536, typed=True)  # typed: 100 and 100.0 differ in precision
def _json_range(value: int | float) -> tuple[float, float, float]:
    number = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)
    return _bounds(number, _FIVE.scaleb(exponent - 1))


def _bounds(number: Decimal, half_width: Decimal) -> tuple[float, float, float]:
    # Decimal arithmetic keeps 5.4 - 0.05 exactly 5.35 before the one rounding to float.
    return float(number), float(number - half_width), float(number + half_width)
