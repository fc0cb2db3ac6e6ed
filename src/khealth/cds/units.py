"""Unit normalisation for features: every value of an analyte is brought to one canonical unit
(the unit the calculators and the Korean checkup table use: mg/dL, %, g/dL, cm, kg, mmHg, U/L,
10⁹/L, mL/min/1.73 m², mg/g).

Units arrive as UCUM codes (``Quantity.code`` with ``system`` http://unitsofmeasure.org) or as
free text in ``Quantity.unit`` from feeds that do not code them; both are matched case-
insensitively after mapping µ/μ to u, because real feeds write "mg/dl", "umol/L", "µmol/l".
A unit that is not in the table is not guessed: :func:`to_canonical` answers None and the value
is left out (and counted) rather than read in the wrong unit.

Conversion factors (molar masses as used by clinical laboratories):
- glucose 180.16 g/mol: 1 mmol/L = 18.016 mg/dL;
- cholesterol (total, HDL, LDL) 386.65 g/mol: 1 mmol/L = 38.67 mg/dL;
- triglycerides (as triolein) 885.7 g/mol: 1 mmol/L = 88.57 mg/dL;
- creatinine 113.12 g/mol: 1 mg/dL = 88.4 µmol/L (reference §3.6: "µmol/L ÷ 88.4");
- albumin/creatinine ratio: 1 mg/mmol = 8.84 mg/g;
- HbA1c IFCC mmol/mol to NGSP %: % = 0.09148 × IFCC + 2.152 (the IFCC-NGSP master equation,
  Hoelzel W et al. Clin Chem 2004;50:166-174);
- haemoglobin 16,114.5 g/mol (monomer): 1 mmol/L = 1.6114 g/dL; 1 g/L = 0.1 g/dL;
- enzymes: 1 µkat/L = 60 U/L; pressure: 1 kPa = 7.50062 mmHg;
- platelets: 10*9/L and 10*3/uL are the same number; /uL ÷ 1000.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Conversion:
    """``canonical = value × factor + offset``."""

    factor: float
    offset: float = 0.0

    def apply(self, value: float) -> float:
        return value * self.factor + self.offset


SAME = Conversion(1.0)

#: free-text and UCUM spellings (lower case, µ as u) → the UCUM code used below
ALIASES: dict[str, str] = {
    "mg/dl": "mg/dL", "mmol/l": "mmol/L", "umol/l": "umol/L", "g/dl": "g/dL", "g/l": "g/L",
    "%": "%", "{percent}": "%", "percent": "%", "mmol/mol": "mmol/mol",
    "mm[hg]": "mm[Hg]", "mmhg": "mm[Hg]", "kpa": "kPa",
    "cm": "cm", "m": "m", "mm": "mm", "[in_i]": "[in_i]", "in": "[in_i]",
    "kg": "kg", "g": "g", "[lb_av]": "[lb_av]", "lb": "[lb_av]", "lbs": "[lb_av]",
    "u/l": "U/L", "iu/l": "U/L", "[iu]/l": "U/L", "ukat/l": "ukat/L",
    "10*3/ul": "10*9/L", "10^3/ul": "10*9/L", "x10^3/ul": "10*9/L", "k/ul": "10*9/L",
    "10*9/l": "10*9/L", "10^9/l": "10*9/L", "x10^9/l": "10*9/L", "/ul": "/uL",
    "ml/min/{1.73_m2}": "mL/min/{1.73_m2}", "ml/min/1.73m2": "mL/min/{1.73_m2}",
    "ml/min/1.73 m2": "mL/min/{1.73_m2}", "ml/min/1.73m^2": "mL/min/{1.73_m2}",
    "ml/min/1.73 m²": "mL/min/{1.73_m2}",
    "kg/m2": "kg/m2", "kg/m^2": "kg/m2", "kg/m²": "kg/m2",
    "mg/g": "mg/g", "mg/g{creat}": "mg/g", "mg/mmol": "mg/mmol", "mg/mmol{creat}": "mg/mmol",
}  # fmt: skip

#: dimension → (canonical unit, {UCUM code: conversion to it})
TABLE: dict[str, tuple[str, dict[str, Conversion]]] = {
    "glucose": ("mg/dL", {"mg/dL": SAME, "mmol/L": Conversion(18.016)}),
    "cholesterol": ("mg/dL", {"mg/dL": SAME, "mmol/L": Conversion(38.67)}),
    "triglycerides": ("mg/dL", {"mg/dL": SAME, "mmol/L": Conversion(88.57)}),
    "creatinine": ("mg/dL", {"mg/dL": SAME, "umol/L": Conversion(1 / 88.4)}),
    "hba1c": ("%", {"%": SAME, "mmol/mol": Conversion(0.09148, 2.152)}),
    "haemoglobin": (
        "g/dL",
        {"g/dL": SAME, "g/L": Conversion(0.1), "mmol/L": Conversion(1.6114)},
    ),
    "length": (
        "cm",
        {"cm": SAME, "m": Conversion(100.0), "mm": Conversion(0.1), "[in_i]": Conversion(2.54)},
    ),
    "mass": ("kg", {"kg": SAME, "g": Conversion(0.001), "[lb_av]": Conversion(0.45359237)}),
    "pressure": ("mm[Hg]", {"mm[Hg]": SAME, "kPa": Conversion(7.50062)}),
    "enzyme": ("U/L", {"U/L": SAME, "ukat/L": Conversion(60.0)}),
    "cell_count": ("10*9/L", {"10*9/L": SAME, "/uL": Conversion(0.001)}),
    "egfr": ("mL/min/{1.73_m2}", {"mL/min/{1.73_m2}": SAME}),
    "bmi": ("kg/m2", {"kg/m2": SAME}),
    "acr": ("mg/g", {"mg/g": SAME, "mg/mmol": Conversion(8.84)}),
}


def ucum_code(unit: str | None) -> str | None:
    """The UCUM code a unit text stands for, or None when it is not one we know."""
    if unit is None:
        return None
    key = unit.strip().replace("µ", "u").replace("μ", "u").lower()
    return ALIASES.get(key)


def canonical_unit(dimension: str) -> str:
    return TABLE[dimension][0]


def to_canonical(dimension: str, value: float, unit: str | None) -> float | None:
    """``value`` in the canonical unit of ``dimension``; None when the unit is unknown or not
    one of that dimension (a glucose in U/L is refused, not read as mg/dL). A unitless value
    is accepted only where the canonical unit is itself a ratio without a UCUM code (never
    here), so a missing unit is refused too."""
    code = ucum_code(unit)
    if code is None:
        return None
    conversion = TABLE[dimension][1].get(code)
    return None if conversion is None else conversion.apply(value)
