"""Validated clinical calculators: pure, typed functions, each citing its paper and version
beside its coefficients, and one registry (:mod:`.registry`) that lists them with their input
schema so that the API and the documentation come from one place.

NEWS2 and qSOFA live here once; the emergency module imports them from here.
"""

from khealth.cds.calculators.model import (
    Calculator,
    CalculatorInputError,
    CalculatorResult,
    InputSpec,
    UnknownCalculator,
)
from khealth.cds.calculators.registry import all_calculators, compute, get_calculator

__all__ = [
    "Calculator",
    "CalculatorInputError",
    "CalculatorResult",
    "InputSpec",
    "UnknownCalculator",
    "all_calculators",
    "compute",
    "get_calculator",
]
