"""Values of the master patient index: what a facility Patient says about who it is, the
Fellegi–Sunter parameters, and the operator's decisions.

A :class:`PatientRecord` holds only what linkage compares.  It lives in memory during a run
and is never logged: its fields are personal data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NewType

PatientId = NewType("PatientId", str)
PersonId = NewType("PersonId", str)

#: FHIR Person.link.assurance (http://hl7.org/fhir/R4/valueset-identity-assuranceLevel.html)
LEVEL_TOKEN = "level4"  # noqa: S105 (same resident-number token, not a secret)
LEVEL_PROBABLE = "level3"  # Fellegi–Sunter above the upper threshold, or operator-confirmed
LEVEL_UNVERIFIED = "level2"  # a Person of one Patient without a resident number


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """The identifying fields of one facility Patient, normalised for comparison."""

    patient_id: str
    token: str | None = None  # keyed HMAC of the resident number
    name: str | None = None  # family + given, no spaces
    surname: str | None = None
    birth_date: str | None = None  # YYYY-MM-DD
    sex: str | None = None
    phone: str | None = None  # mobile digits
    district: str | None = None
    road: str | None = None


@dataclass(frozen=True, slots=True)
class Comparison:
    """One comparison of Fellegi–Sunter: its levels from "disagree" (0) upwards."""

    name: str
    levels: tuple[str, ...]


COMPARISONS: tuple[Comparison, ...] = (
    Comparison("name", ("different", "jamo >= 0.70", "jamo >= 0.88", "exact")),
    Comparison("birth_date", ("different", "one digit or day apart", "day/month swapped", "exact")),
    Comparison("sex", ("different", "same")),
    Comparison("phone", ("different", "same")),
    Comparison("address", ("different", "same district", "same district and road")),
)


@dataclass(frozen=True, slots=True)
class Parameters:
    """m and u probabilities per comparison level, the prior λ, and the two thresholds on
    the posterior match probability (link above ``upper``, review between)."""

    m: tuple[tuple[float, ...], ...]
    u: tuple[tuple[float, ...], ...]
    prior: float
    upper: float = 0.99
    lower: float = 0.50
    trained_pairs: int = 0
    iterations: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "m": [list(row) for row in self.m],
            "u": [list(row) for row in self.u],
            "prior": self.prior,
            "upper": self.upper,
            "lower": self.lower,
            "trained_pairs": self.trained_pairs,
            "iterations": self.iterations,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Parameters:
        return cls(
            m=tuple(tuple(float(x) for x in row) for row in data["m"]),
            u=tuple(tuple(float(x) for x in row) for row in data["u"]),
            prior=float(data["prior"]),
            upper=float(data.get("upper", 0.99)),
            lower=float(data.get("lower", 0.5)),
            trained_pairs=int(data.get("trained_pairs", 0)),
            iterations=int(data.get("iterations", 0)),
        )


#: a starting point for EM, and the parameters of an index that never ran a batch
DEFAULT_PARAMETERS = Parameters(
    m=((0.02, 0.02, 0.03, 0.93), (0.01, 0.01, 0.01, 0.97), (0.01, 0.99), (0.1, 0.9),
       (0.1, 0.05, 0.85)),
    u=((0.97, 0.025, 0.004, 0.001), (0.99, 0.008, 0.001, 0.001), (0.5, 0.5), (0.999, 0.001),
       (0.75, 0.24, 0.01)),
    prior=0.01,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ScoredPair:
    a: str
    b: str
    probability: float
    levels: tuple[int, ...]  # the comparison vector (-1: a value missing)


@dataclass(frozen=True, slots=True)
class Cluster:
    """The facility Patients of one person, and how each joined it."""

    patients: tuple[str, ...]
    assurance: dict[str, str] = field(default_factory=dict)
