"""From a JSON object to checked :class:`Inputs`: every input present, of its type and inside its
range, and no input the calculator does not know (a misspelt optional input would otherwise be
ignored without a word). All problems are reported at once, each naming its input."""

from __future__ import annotations

from collections.abc import Mapping

from khealth.cds.calculators.model import (
    Calculator,
    CalculatorInputError,
    Inputs,
    InputSpec,
    Value,
)
from khealth.core.errors import Issue


def parse_inputs(calculator: Calculator, raw: Mapping[str, object]) -> Inputs:
    issues: list[Issue] = []
    values: dict[str, Value | None] = {}
    known = {spec.name for spec in calculator.inputs}
    for name in sorted(set(raw) - known):
        issues.append(Issue("invalid", f"{name} is not an input of {calculator.name}", (name,)))
    for spec in calculator.inputs:
        try:
            values[spec.name] = _parse_one(spec, raw.get(spec.name))
        except CalculatorInputError as error:
            issues.extend(error.issues)
    if issues:
        raise CalculatorInputError(issues)
    return Inputs(values)


def _parse_one(spec: InputSpec, value: object) -> Value | None:
    if value is None:
        if spec.required:
            raise CalculatorInputError.for_input("required", spec.name, f"{spec.name} is required")
        return spec.default
    if spec.kind == "boolean":
        return _boolean(spec, value)
    if spec.kind == "enum":
        return _choice(spec, value)
    if spec.kind == "integer":
        return _integer(spec, value)
    return _number(spec, value)


def _invalid(spec: InputSpec, what: str) -> CalculatorInputError:
    return CalculatorInputError.for_input("invalid", spec.name, f"{spec.name} must be {what}")


def _boolean(spec: InputSpec, value: object) -> bool:
    if not isinstance(value, bool):
        raise _invalid(spec, "true or false")
    return value


def _choice(spec: InputSpec, value: object) -> str | int:
    # bool is an int in Python: true must not pass for the choice 1
    if isinstance(value, bool) or not isinstance(value, str | int) or value not in spec.choices:
        raise _invalid(spec, spec.range_text())
    return value


def _number(spec: InputSpec, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(spec, "a number")
    return spec.check(float(value))


def _integer(spec: InputSpec, value: object) -> int:
    number = _number(spec, value)
    if not number.is_integer():
        raise _invalid(spec, "a whole number")
    return int(number)
