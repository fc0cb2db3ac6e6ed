"""The two destination policies compared: the status quo and ours.

* ``nearest`` — the crew phones the nearest ER by travel time, then the next nearest after a
  decline (the status quo: distance only, no live status).
* ``recommended`` — :func:`khealth.emergency.destination.rank`, the very function behind
  ``POST /api/emergency/recommendations``, over the ERs' published live status, the declines of
  the last two hours (``RankPolicy.decline_lookback``) and the crew's triage; after a decline it
  re-ranks without the decliner at the new time (the window has shrunk).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from khealth.emergency.destination import POLICY, RankPolicy, RoutingNeed, rank
from khealth.emergency.facilities import EmergencyFacility
from khealth.emergency.simulation.hospitals import Board
from khealth.emergency.travel import Point, TravelTimeProvider

_FALLBACK_WARNINGS = frozenset({"no-capable-in-window", "no-capable"})


class PolicyName(StrEnum):
    NEAREST = "nearest"
    RECOMMENDED = "recommended"


@dataclass(frozen=True, slots=True)
class Choice:
    facility: EmergencyFacility
    eta_minutes: float
    meets_need: bool | None = None  # the ranking's view (None: the policy does not look)
    within_window: bool | None = None
    fallback: bool = False  # the ranking warned that no capable ER can take the patient (in time)


class Policy(Protocol):
    @property
    def name(self) -> PolicyName: ...

    def choose(
        self, need: RoutingNeed, origin: Point, at: dt.datetime, exclude: frozenset[str]
    ) -> Choice | None:
        """The next facility to ask, or None when every facility is excluded."""
        ...


@dataclass(frozen=True, slots=True)
class Nearest:
    facilities: Sequence[EmergencyFacility]
    travel: TravelTimeProvider
    name: PolicyName = PolicyName.NEAREST

    def choose(
        self, need: RoutingNeed, origin: Point, at: dt.datetime, exclude: frozenset[str]
    ) -> Choice | None:
        options = [f for f in self.facilities if f.id not in exclude]
        if not options:
            return None
        minutes = self.travel.minutes(origin, [Point(f.latitude, f.longitude) for f in options], at)
        best = min(range(len(options)), key=lambda i: (minutes[i], options[i].id))
        return Choice(options[best], minutes[best])


@dataclass(frozen=True, slots=True)
class Recommended:
    facilities: Sequence[EmergencyFacility]
    travel: TravelTimeProvider
    board: Board
    policy: RankPolicy = POLICY
    name: PolicyName = PolicyName.RECOMMENDED

    def choose(
        self, need: RoutingNeed, origin: Point, at: dt.datetime, exclude: frozenset[str]
    ) -> Choice | None:
        declines = self.board.recent_declines(at, self.policy.decline_lookback)
        ranking = rank(
            self.facilities, self.board.published, declines, need, origin, at, self.travel,
            exclude=exclude, top=1, policy=self.policy,
        )  # fmt: skip
        if not ranking.recommendations:
            return None
        best = ranking.recommendations[0]
        warned = any(w.code in _FALLBACK_WARNINGS for w in ranking.warnings)
        return Choice(best.facility, best.eta_minutes, best.meets_need, best.within_window, warned)


def make_policy(
    name: PolicyName,
    facilities: Sequence[EmergencyFacility],
    travel: TravelTimeProvider,
    board: Board,
) -> Policy:
    if name is PolicyName.NEAREST:
        return Nearest(facilities, travel)
    return Recommended(facilities, travel, board)
