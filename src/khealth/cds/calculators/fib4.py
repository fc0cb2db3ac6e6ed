"""FIB-4 index of liver fibrosis: (age x AST) / (platelets x sqrt(ALT)).

Formula: Sterling RK et al. Development of a simple noninvasive index to predict significant
fibrosis in patients with HIV/HCV coinfection. Hepatology 2006;43:1317-1325 (their cut-offs were
1.45 / 3.25). Cut-offs used here, for fatty liver disease: Shah AG et al. Clin Gastroenterol
Hepatol 2009;7:1104-1112 (<1.30 low, 1.30-2.67 indeterminate, >2.67 high); from age 65 the
lower cut-off is 2.0 (McPherson S et al. Am J Gastroenterol 2017;112:740-751), as in the
reference §3.7.

Range: adults 18-100 years (McPherson 2017 found the index less reliable under 35; the result
says so in its detail); AST/ALT 1-5000 U/L and platelets 1-2000 x10⁹/L are plausibility limits.
"""

from __future__ import annotations

import math

from khealth.cds.calculators.model import Calculator, CalculatorResult, Inputs, InputSpec

SOURCE = (
    "Sterling RK et al. Hepatology 2006;43:1317-1325 (formula); cut-offs 1.30/2.67: Shah AG "
    "et al. Clin Gastroenterol Hepatol 2009;7:1104-1112; age >=65 lower cut-off 2.0: "
    "McPherson S et al. Am J Gastroenterol 2017;112:740-751"
)

LOW_CUTOFF = 1.30  # Shah 2009
LOW_CUTOFF_FROM_65 = 2.0  # McPherson 2017
HIGH_CUTOFF = 2.67  # Shah 2009
OLDER_AGE = 65
LESS_RELIABLE_UNDER = 35  # McPherson 2017

_PLAUSIBLE = "plausibility limits"
AGE = InputSpec("age", "number", "age", "years", 18, 100, range_basis="adults; 100 is plausibility")
AST = InputSpec(
    "ast", "number", "aspartate aminotransferase", "U/L", 1, 5000, range_basis=_PLAUSIBLE
)
ALT = InputSpec("alt", "number", "alanine aminotransferase", "U/L", 1, 5000, range_basis=_PLAUSIBLE)
PLATELETS = InputSpec(
    "platelets", "number", "platelet count", "10⁹/L", 1, 2000, range_basis=_PLAUSIBLE
)


def index(age: float, ast: float, alt: float, platelets: float) -> float:
    AGE.check(age)
    AST.check(ast)
    ALT.check(alt)
    PLATELETS.check(platelets)
    return (age * ast) / (platelets * math.sqrt(alt))


def category(fib4: float, age: float) -> str:
    """low / indeterminate / high fibrosis risk; the cut-offs themselves are indeterminate."""
    low = LOW_CUTOFF_FROM_65 if age >= OLDER_AGE else LOW_CUTOFF
    if fib4 < low:
        return "low"
    return "indeterminate" if fib4 <= HIGH_CUTOFF else "high"


def _run(values: Inputs) -> CalculatorResult:
    age = values.number("age")
    fib4 = index(age, values.number("ast"), values.number("alt"), values.number("platelets"))
    detail = {
        "lower_cutoff": LOW_CUTOFF_FROM_65 if age >= OLDER_AGE else LOW_CUTOFF,
        "upper_cutoff": HIGH_CUTOFF,
        "less_reliable_under_35": age < LESS_RELIABLE_UNDER,
    }
    return CalculatorResult(fib4, "index", category(fib4, age), SOURCE, detail)


CALCULATOR = Calculator(
    name="fib4",
    title_en="FIB-4 index of liver fibrosis",
    title_ko="FIB-4 간섬유화 지수",
    unit="index",
    source=SOURCE,
    inputs=(AGE, AST, ALT, PLATELETS),
    run=_run,
    categories=("low", "indeterminate", "high"),
    notes="lower cut-off 1.30, or 2.0 from age 65; upper 2.67.",
)
