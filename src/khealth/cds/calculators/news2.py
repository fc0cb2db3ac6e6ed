"""NEWS2, the National Early Warning Score 2: 0-20 points from seven physiological parameters,
with the clinical response band.

Source: Royal College of Physicians. National Early Warning Score (NEWS) 2: Standardising the
assessment of acute-illness severity in the NHS. Updated report of a working party. London:
RCP, 2017 (chart 1, the scoring table; chart 2, thresholds and triggers). Reproduced with
acknowledgement, as the RCP permits. SpO2 scale 2 is only for confirmed hypercapnic respiratory
failure with a prescribed target of 88-92 %.

This is the one implementation: the emergency module imports it from here. Each band is
written as its upper edge, so an integer reading falls where the chart puts it and a
fractional one in the band it has not yet left. Ranges are plausibility limits: NEWS2 bands
every value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast

from khealth.cds.calculators.model import Calculator, CalculatorResult, Inputs, InputSpec

Consciousness = Literal["A", "C", "V", "P", "U"]
SpO2Scale = Literal[1, 2]

SOURCE = (
    "Royal College of Physicians. National Early Warning Score (NEWS) 2. London: RCP, 2017 "
    "(chart 1 scoring, chart 2 response thresholds)"
)

_PLAUSIBLE = "plausibility limits; NEWS2 bands every value"
RESPIRATORY_RATE = InputSpec(
    "respiratory_rate", "integer", "respiration rate", "breaths/min", 0, 100,
    range_basis=_PLAUSIBLE,
)  # fmt: skip
SPO2 = InputSpec("spo2", "integer", "oxygen saturation", "%", 0, 100, range_basis="a percentage")
SPO2_SCALE = InputSpec(
    "spo2_scale", "enum", "SpO2 scale: 1 usually, 2 for hypercapnic respiratory failure",
    choices=(1, 2),
)  # fmt: skip
ON_OXYGEN = InputSpec("on_oxygen", "boolean", "on supplemental oxygen (false: room air)")
SYSTOLIC_BP = InputSpec(
    "systolic_bp", "integer", "systolic blood pressure", "mmHg", 0, 300, range_basis=_PLAUSIBLE
)
HEART_RATE = InputSpec(
    "heart_rate", "integer", "pulse", "beats/min", 0, 300, range_basis=_PLAUSIBLE
)
CONSCIOUSNESS = InputSpec(
    "consciousness", "enum", "ACVPU: alert, new confusion, voice, pain, unresponsive",
    choices=("A", "C", "V", "P", "U"),
)  # fmt: skip
TEMPERATURE = InputSpec(
    "temperature", "number", "temperature", "°C", 25, 45, range_basis=_PLAUSIBLE
)

# RCP 2017 chart 1: (upper edge of the band, points), lowest band first; above the last, the
# final points value applies.
RESPIRATION_BANDS = ((8, 3), (11, 1), (20, 0), (24, 2))
RESPIRATION_ABOVE = 3
SPO2_SCALE_1_BANDS = ((91, 3), (93, 2), (95, 1))
SPO2_SCALE_1_ABOVE = 0
SPO2_SCALE_2_LOW_BANDS = ((83, 3), (85, 2), (87, 1))  # 88 and above: see spo2_points
SPO2_SCALE_2_ON_OXYGEN_BANDS = ((92, 0), (94, 1), (96, 2))
SPO2_SCALE_2_ON_OXYGEN_ABOVE = 3
SYSTOLIC_BANDS = ((90, 3), (100, 2), (110, 1), (219, 0))
SYSTOLIC_ABOVE = 3
PULSE_BANDS = ((40, 3), (50, 1), (90, 0), (110, 1), (130, 2))
PULSE_ABOVE = 3
TEMPERATURE_BANDS = ((35.0, 3), (36.0, 1), (38.0, 0), (39.0, 1))
TEMPERATURE_ABOVE = 2
OXYGEN_POINTS = 2
NEW_CONFUSION_OR_WORSE_POINTS = 3


@dataclass(frozen=True, slots=True)
class News2:
    points: Mapping[str, int]
    total: int
    response: str  # low, low-medium, medium, high


def banded(value: float, bands: tuple[tuple[float, int], ...], above: int) -> int:
    for upper, points in bands:
        if value <= upper:
            return points
    return above


def spo2_points(spo2: float, scale: SpO2Scale, on_oxygen: bool) -> int:
    if scale == 1:
        return banded(spo2, SPO2_SCALE_1_BANDS, SPO2_SCALE_1_ABOVE)
    if spo2 <= SPO2_SCALE_2_LOW_BANDS[-1][0]:
        return banded(spo2, SPO2_SCALE_2_LOW_BANDS, 0)
    if not on_oxygen:
        return 0  # 88-92, or >=93 on air
    return banded(spo2, SPO2_SCALE_2_ON_OXYGEN_BANDS, SPO2_SCALE_2_ON_OXYGEN_ABOVE)


def response(points: Mapping[str, int], total: int) -> str:
    """RCP 2017 chart 2: >=7 high; 5-6 medium; a 3 in any one parameter low-medium; else low."""
    if total >= 7:
        return "high"
    if total >= 5:
        return "medium"
    if any(p == 3 for p in points.values()):
        return "low-medium"
    return "low"


def score(
    respiratory_rate: float, spo2: float, spo2_scale: SpO2Scale, on_oxygen: bool,
    systolic_bp: float, heart_rate: float, consciousness: Consciousness, temperature: float,
) -> News2:  # fmt: skip
    for spec, value in ((RESPIRATORY_RATE, respiratory_rate), (SPO2, spo2),
                        (SYSTOLIC_BP, systolic_bp), (HEART_RATE, heart_rate),
                        (TEMPERATURE, temperature)):  # fmt: skip
        spec.check(value)
    points = {
        "respiratory_rate": banded(respiratory_rate, RESPIRATION_BANDS, RESPIRATION_ABOVE),
        "spo2": spo2_points(spo2, spo2_scale, on_oxygen),
        "air_or_oxygen": OXYGEN_POINTS if on_oxygen else 0,
        "systolic_bp": banded(systolic_bp, SYSTOLIC_BANDS, SYSTOLIC_ABOVE),
        "heart_rate": banded(heart_rate, PULSE_BANDS, PULSE_ABOVE),
        "consciousness": 0 if consciousness == "A" else NEW_CONFUSION_OR_WORSE_POINTS,
        "temperature": banded(temperature, TEMPERATURE_BANDS, TEMPERATURE_ABOVE),
    }
    total = sum(points.values())
    return News2(points, total, response(points, total))


def _run(values: Inputs) -> CalculatorResult:
    result = score(
        values.number("respiratory_rate"), values.number("spo2"),
        cast(SpO2Scale, values.choice("spo2_scale")), values.flag("on_oxygen"),
        values.number("systolic_bp"), values.number("heart_rate"),
        cast(Consciousness, values.text("consciousness")), values.number("temperature"),
    )  # fmt: skip
    return CalculatorResult(
        result.total, "points", result.response, SOURCE, {"points": dict(result.points)}
    )


CALCULATOR = Calculator(
    name="news2",
    title_en="National Early Warning Score 2 (NEWS2)",
    title_ko="국가조기경보점수 2 (NEWS2)",
    unit="points",
    source=SOURCE,
    inputs=(
        RESPIRATORY_RATE,
        SPO2,
        SPO2_SCALE,
        ON_OXYGEN,
        SYSTOLIC_BP,
        HEART_RATE,
        CONSCIOUSNESS,
        TEMPERATURE,
    ),
    run=_run,
    categories=("low", "low-medium", "medium", "high"),
    notes="category is the RCP response band; detail.points gives each parameter's score.",
)
