"""Body mass index with the Asia-Pacific categories.

Source: WHO Western Pacific Region, IASO, IOTF. The Asia-Pacific perspective: redefining obesity
and its treatment. Sydney: Health Communications Australia, 2000 (underweight <18.5, normal
18.5-22.9, overweight "at risk" 23-24.9, obese I 25-29.9, obese II >=30). The Korean Society
for the Study of Obesity uses the same cut-offs (비만 전단계 23-24.9, 비만 >=25; reference
§3.8). Categories are taken from the unrounded BMI. Height and weight limits are plausibility
limits for adults.
"""

from __future__ import annotations

from khealth.cds.calculators.model import Calculator, CalculatorResult, Inputs, InputSpec

SOURCE = (
    "WHO Western Pacific Region, IASO, IOTF. The Asia-Pacific perspective: redefining obesity "
    "and its treatment. Sydney: Health Communications Australia, 2000"
)

HEIGHT = InputSpec(
    "height", "number", "height", "cm", 50, 250, range_basis="plausibility limits for adults"
)
WEIGHT = InputSpec(
    "weight", "number", "weight", "kg", 10, 300, range_basis="plausibility limits for adults"
)

# lower bound of each category, highest first (Asia-Pacific 2000)
CATEGORIES = ((30.0, "obese_ii"), (25.0, "obese_i"), (23.0, "overweight"), (18.5, "normal"))
KOREAN_LABELS = {
    "underweight": "저체중", "normal": "정상", "overweight": "비만 전단계",
    "obese_i": "1단계 비만", "obese_ii": "2단계 비만",
}  # fmt: skip


def body_mass_index(height_cm: float, weight_kg: float) -> float:
    HEIGHT.check(height_cm)
    WEIGHT.check(weight_kg)
    metres = height_cm / 100.0
    return weight_kg / (metres * metres)


def category(bmi: float) -> str:
    for lower, name in CATEGORIES:
        if bmi >= lower:
            return name
    return "underweight"


def _run(values: Inputs) -> CalculatorResult:
    bmi = body_mass_index(values.number("height"), values.number("weight"))
    name = category(bmi)
    return CalculatorResult(bmi, "kg/m²", name, SOURCE, {"label_ko": KOREAN_LABELS[name]})


CALCULATOR = Calculator(
    name="bmi",
    title_en="Body mass index (Asia-Pacific categories)",
    title_ko="체질량지수 (아시아·태평양 기준)",
    unit="kg/m²",
    source=SOURCE,
    inputs=(HEIGHT, WEIGHT),
    run=_run,
    categories=("underweight", "normal", "overweight", "obese_i", "obese_ii"),
)
