"""The one list of calculators. The API (``/api/cds/calculators``) and the documentation are
generated from it: name, titles, source, and each input's type, unit, range and whether it is
required."""

from __future__ import annotations

from collections.abc import Mapping

from khealth.cds.calculators import (
    bmi,
    checkup,
    ckd_epi,
    fib4,
    findrisc,
    framingham,
    metabolic,
    news2,
    pce,
    qsofa,
)
from khealth.cds.calculators.model import Calculator, CalculatorResult, UnknownCalculator
from khealth.cds.calculators.parsing import parse_inputs
from khealth.core.errors import Issue

_CALCULATORS: tuple[Calculator, ...] = (
    pce.CALCULATOR,
    framingham.CALCULATOR,
    ckd_epi.CALCULATOR,
    fib4.CALCULATOR,
    findrisc.CALCULATOR,
    news2.CALCULATOR,
    qsofa.CALCULATOR,
    bmi.CALCULATOR,
    metabolic.CALCULATOR,
    checkup.CALCULATOR,
)
_BY_NAME: dict[str, Calculator] = {c.name: c for c in _CALCULATORS}


def all_calculators() -> tuple[Calculator, ...]:
    return _CALCULATORS


def get_calculator(name: str) -> Calculator:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownCalculator([Issue("not-found", "no calculator has that name")]) from None


def compute(name: str, raw: Mapping[str, object]) -> CalculatorResult:
    """Check ``raw`` against the calculator's inputs and run it; a
    :class:`~khealth.cds.calculators.model.CalculatorInputError` names every bad input."""
    calculator = get_calculator(name)
    return calculator.run(parse_inputs(calculator, raw))
