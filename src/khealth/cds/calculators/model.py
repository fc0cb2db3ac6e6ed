"""The shapes every calculator shares: an input's schema, a result, the calculator itself, and
the errors for a bad input or an unknown calculator.

Error texts name the input and its allowed range but never the value given: a value is a
clinical value, and errors end up in logs (ARCHITECTURE.md, privacy invariants).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from khealth.core.errors import Issue, KhealthError, NotFound

Kind = Literal["number", "integer", "boolean", "enum"]
Choice = str | int
Value = float | int | bool | str
Detail = Mapping[str, object]


class CalculatorInputError(KhealthError):
    """422: an input is missing, of the wrong type, unknown, or outside the model's validated
    range. Each issue's ``expression`` names the input."""

    def __init__(self, issues: list[Issue] | None = None, status: int = 422) -> None:
        super().__init__(issues or [], status)

    @classmethod
    def for_input(cls, code: str, name: str, diagnostics: str) -> CalculatorInputError:
        return cls([Issue(code, diagnostics, (name,))])


class UnknownCalculator(NotFound):
    """404: no calculator has that name."""


def _number_text(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True, slots=True)
class InputSpec:
    """One input of a calculator. ``minimum``/``maximum`` are inclusive; for risk equations
    they are the validated range of the model (never extrapolated), for scores the limits of
    plausibility (``range_basis`` says which)."""

    name: str
    kind: Kind
    description: str
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Choice, ...] = ()
    required: bool = True
    default: bool | None = None
    range_basis: str = "validated range of the model"

    def range_text(self) -> str:
        if self.choices:
            return "one of " + ", ".join(str(c) for c in self.choices)
        if self.minimum is None or self.maximum is None:
            return "true or false" if self.kind == "boolean" else "any value"
        unit = f" {self.unit}" if self.unit else ""
        return f"between {_number_text(self.minimum)} and {_number_text(self.maximum)}{unit}"

    def check(self, value: float) -> float:
        """``value`` itself when inside [minimum, maximum]; otherwise a 422 naming the input and
        the range. Used by the typed functions too, so that direct callers cannot extrapolate."""
        if not math.isfinite(value):
            raise CalculatorInputError.for_input("value", self.name, f"{self.name} must be finite")
        low_ok = self.minimum is None or value >= self.minimum
        high_ok = self.maximum is None or value <= self.maximum
        if not (low_ok and high_ok):
            raise CalculatorInputError.for_input(
                "value", self.name, f"{self.name} must be {self.range_text()} ({self.range_basis})"
            )
        return value

    def as_dict(self) -> dict[str, object]:
        """The input as the calculator list shows it."""
        shown: dict[str, object] = {
            "name": self.name,
            "type": self.kind,
            "description": self.description,
            "required": self.required,
        }
        if self.unit:
            shown["unit"] = self.unit
        if self.minimum is not None:
            shown["minimum"] = self.minimum
        if self.maximum is not None:
            shown["maximum"] = self.maximum
        if self.minimum is not None or self.maximum is not None:
            shown["range_basis"] = self.range_basis
        if self.choices:
            shown["enum"] = list(self.choices)
        if self.default is not None:
            shown["default"] = self.default
        return shown

    def json_schema(self) -> dict[str, object]:
        """The input as a JSON Schema property (for the OpenAPI document)."""
        schema: dict[str, object] = {"description": self._described()}
        if self.kind == "enum":
            schema["enum"] = list(self.choices)
        else:
            schema["type"] = self.kind
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.default is not None:
            schema["default"] = self.default
        return schema

    def _described(self) -> str:
        return f"{self.description} ({self.unit})" if self.unit else self.description


@dataclass(frozen=True, slots=True)
class CalculatorResult:
    """What every calculator answers: a number, its unit, a category and the source, plus any
    detail (points per item, per-criterion flags)."""

    result: float
    unit: str
    category: str | None
    source: str
    detail: Detail = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "result": self.result,
            "unit": self.unit,
            "category": self.category,
            "source": self.source,
            "detail": dict(self.detail),
        }


class Inputs:
    """Inputs already checked against their specs (present, typed, in range), with typed
    getters for the calculators' adapters."""

    def __init__(self, values: Mapping[str, Value | None]) -> None:
        self._values = dict(values)

    def number(self, name: str) -> float:
        value = self._values[name]
        assert isinstance(value, int | float) and not isinstance(value, bool)
        return float(value)

    def optional_number(self, name: str) -> float | None:
        return None if self._values.get(name) is None else self.number(name)

    def integer(self, name: str) -> int:
        value = self._values[name]
        assert isinstance(value, int) and not isinstance(value, bool)
        return value

    def flag(self, name: str) -> bool:
        value = self._values[name]
        assert isinstance(value, bool)
        return value

    def text(self, name: str) -> str:
        value = self._values[name]
        assert isinstance(value, str)
        return value

    def optional_text(self, name: str) -> str | None:
        return None if self._values.get(name) is None else self.text(name)

    def choice(self, name: str) -> Choice:
        value = self._values[name]
        assert isinstance(value, str | int) and not isinstance(value, bool)
        return value

    def given(self, name: str) -> bool:
        return self._values.get(name) is not None


@dataclass(frozen=True, slots=True)
class Calculator:
    """A calculator as the registry lists it. ``run`` receives checked inputs."""

    name: str
    title_en: str
    title_ko: str
    unit: str
    source: str
    inputs: tuple[InputSpec, ...]
    run: Callable[[Inputs], CalculatorResult]
    categories: tuple[str, ...] = ()
    notes: str = ""

    def input(self, name: str) -> InputSpec:
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "title": {"ko": self.title_ko, "en": self.title_en},
            "unit": self.unit,
            "source": self.source,
            "inputs": [spec.as_dict() for spec in self.inputs],
            "categories": list(self.categories),
            "notes": self.notes,
        }

    def json_schema(self) -> dict[str, object]:
        """The request body as JSON Schema, generated from the inputs."""
        return {
            "title": f"{self.name} inputs",
            "type": "object",
            "properties": {spec.name: spec.json_schema() for spec in self.inputs},
            "required": [spec.name for spec in self.inputs if spec.required],
            "additionalProperties": False,
        }
