"""Replay the synthetic city's EMS incidents against its ER capacity under destination policies.

``simulate(SimulationConfig(days=7))`` builds the city from the seed (:mod:`.city`), runs each
policy over the same incidents (:mod:`.engine`, :mod:`.policies`) with the crew findings of
:mod:`.crew` and the ERs and decline model of :mod:`.hospitals`, and returns the figures of
:mod:`.metrics`. Plain Python, deterministic from the seed, no database: triage is
:func:`khealth.emergency.triage.assess` and the recommended policy is
:func:`khealth.emergency.destination.rank`, the functions the API runs. Assumptions:
:mod:`.assumptions`; rendering: :mod:`.report`; the committed report: docs/emergency-simulation.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from khealth.emergency.simulation.assumptions import DEFAULT, Assumptions, assumption_rows
from khealth.emergency.simulation.city import SimCity, build_city
from khealth.emergency.simulation.engine import simulate_policy
from khealth.emergency.simulation.metrics import comparison, policy_metrics
from khealth.emergency.simulation.model import Outcome
from khealth.emergency.simulation.policies import PolicyName
from khealth.emergency.travel import EstimatedTravelTime, TravelTimeProvider

__all__ = [
    "Assumptions", "Outcome", "PolicyName", "SimulationConfig", "SimulationResult", "run_policies",
    "simulate",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    days: int = 7
    seed: int = 1
    today: dt.date = dt.date(2026, 11, 29)  # the run covers the `days` before it
    policies: tuple[PolicyName, ...] = (PolicyName.NEAREST, PolicyName.RECOMMENDED)
    assumptions: Assumptions = field(default_factory=lambda: DEFAULT)
    max_incidents: int | None = None  # keep the first N incidents only (fast tests)


@dataclass(frozen=True, slots=True)
class SimulationResult:
    config: SimulationConfig
    outcomes: dict[str, list[Outcome]]  # policy -> one outcome per incident, in call order
    metrics: dict[str, dict[str, Any]]  # policy -> figures
    facilities: int

    def to_json(self) -> dict[str, Any]:
        """Everything the report shows; deterministic for a given config."""
        a = self.config.assumptions
        out: dict[str, Any] = {
            "config": {
                "days": self.config.days, "seed": self.config.seed,
                "today": self.config.today.isoformat(),
                "policies": [str(p) for p in self.config.policies],
                "population": a.population, "max_incidents": self.config.max_incidents,
                "facilities": self.facilities,
            },
            "assumptions": dict(assumption_rows(a)),
            "policies": {str(name): figures for name, figures in self.metrics.items()},
        }  # fmt: skip
        if PolicyName.NEAREST in self.metrics and PolicyName.RECOMMENDED in self.metrics:
            out["comparison"] = comparison(
                self.metrics[PolicyName.NEAREST], self.metrics[PolicyName.RECOMMENDED]
            )
        return out


def simulate(
    config: SimulationConfig, travel: TravelTimeProvider | None = None
) -> SimulationResult:
    city = build_city(config.seed, config.days, config.today, config.assumptions)
    if config.max_incidents is not None:
        city = _first_incidents(city, config.max_incidents)
    return run_policies(city, config, travel or EstimatedTravelTime())


def run_policies(city: SimCity, config: SimulationConfig, travel: TravelTimeProvider) -> SimulationResult:  # fmt: skip
    """Each policy over the same city (exposed so tests can hand in a crafted city)."""
    outcomes: dict[str, list[Outcome]] = {}
    metrics: dict[str, dict[str, Any]] = {}
    for name in _unique(config.policies):
        runs, board = simulate_policy(city, name, travel, config.seed, config.assumptions)
        outcomes[name] = runs
        metrics[name] = policy_metrics(runs, board, config.assumptions.status_interval_minutes)
    return SimulationResult(config, outcomes, metrics, len(city.facilities))


def _first_incidents(city: SimCity, count: int) -> SimCity:
    from dataclasses import replace

    return replace(city, incidents=city.incidents[:count])


def _unique(names: Sequence[PolicyName]) -> list[PolicyName]:
    return list(dict.fromkeys(names))
