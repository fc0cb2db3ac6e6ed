"""The discrete-event run of one policy over the city's incidents.

Timeline of an incident (minutes from the 119 call)::

    call ─ dispatch ─ drive from the nearest base ─ first contact ─ on scene (assessment,
    triage) ─ inquiry 1 (call_minutes) ─ [declined: inquiry 2 ...] ─ accepted: drive to the ER
    ─ arrival (handover) ─ definitive care (door-to-treatment)
                         └ cannot treat the true condition: door-in-door-out, drive to the
                           nearest ER that can, handover, definitive care

Events run in time order (departures free beds before arrivals and inquiries at the same
minute), so every decision sees the ERs as they are at that moment. Random draws are keyed by
incident and facility, never by order, so both policies meet the same patients, the same crew
findings and the same hospital moods (common random numbers).
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from khealth.emergency.destination import RoutingNeed
from khealth.emergency.model import Capability, TriageResult
from khealth.emergency.simulation.assumptions import Assumptions
from khealth.emergency.simulation.city import SimCity, nearest_base
from khealth.emergency.simulation.crew import crew_assessment, true_need
from khealth.emergency.simulation.hospitals import Board
from khealth.emergency.simulation.model import Inquiry, Outcome
from khealth.emergency.simulation.policies import Choice, Policy, PolicyName, make_policy
from khealth.emergency.travel import Point, TravelTimeProvider
from khealth.emergency.triage import AssessmentError, assess
from khealth.synth.streams import stream

_PROCEDURES = {Capability.PCI, Capability.THROMBECTOMY, Capability.TRAUMA_CENTRE}
# Same-minute order: free beds, publish status, then arrivals, then decisions.
_DEPART, _PUBLISH, _ARRIVE, _CALL = 0, 1, 2, 3


@dataclass
class _Run:
    """One incident in flight (mutable while its events run)."""

    incident: dict[str, Any]
    call: dt.datetime
    origin: Point
    first_contact: dt.datetime
    triage: TriageResult
    need: RoutingNeed
    true_need: Capability | None
    inquiries: list[Inquiry] = field(default_factory=list)
    declined: set[str] = field(default_factory=set)
    first_hospital: str | None = None
    forced: bool = False

    @property
    def id(self) -> str:
        return str(self.incident["id"])


Handler = Callable[[dt.datetime], None]


class Engine:
    def __init__(
        self, city: SimCity, name: PolicyName, travel: TravelTimeProvider,
        seed: int, assumptions: Assumptions,
    ) -> None:  # fmt: skip
        self.city, self.travel, self.seed, self.a = city, travel, seed, assumptions
        self.board = Board(city, seed, assumptions)
        self.policy: Policy = make_policy(name, city.facilities, travel, self.board)
        self.outcomes: dict[str, Outcome] = {}
        self._queue: list[tuple[dt.datetime, int, int, Handler]] = []
        self._seq = itertools.count()

    def run(self) -> list[Outcome]:
        for tick in _ticks(self.city.start, self.city.end, self.a.status_interval_minutes):
            self._at(tick, _PUBLISH, self.board.publish)
        for incident in self.city.incidents:
            call = dt.datetime.fromisoformat(incident["time"])
            self._at(call, _CALL, partial(self._start, incident))
        while self._queue:
            moment, _, _, handler = heapq.heappop(self._queue)
            handler(moment)
        return [self.outcomes[str(i["id"])] for i in self.city.incidents]

    def _at(self, moment: dt.datetime, order: int, handler: Handler) -> None:
        heapq.heappush(self._queue, (moment, order, next(self._seq), handler))

    # -- scene -------------------------------------------------------------------------
    def _start(self, incident: dict[str, Any], call: dt.datetime) -> None:
        origin = Point(float(incident["latitude"]), float(incident["longitude"]))
        to_scene = self.travel.minutes(origin, self.city.bases, call)  # symmetric estimate
        _, drive = nearest_base(self.city.bases, to_scene)
        contact = call + _minutes(self.a.dispatch_minutes + drive)
        arrest = incident["true_condition"] == "cardiac_arrest"
        decide = contact + _minutes(self.a.arrest_on_scene_minutes if arrest else self.a.on_scene_minutes)  # fmt: skip
        assessment = crew_assessment(incident, contact, self.seed, self.a)
        try:
            triage = assess(assessment, decide)
        except AssessmentError:
            self._fail(incident, call, contact, "assessment-invalid")
            return
        if not self.city.facilities:
            self._fail(incident, call, contact, "no-facility")
            return
        run = _Run(incident, call, origin, contact, triage, RoutingNeed.of(triage, decide),
                   true_need(incident, assessment))  # fmt: skip
        self._at(decide, _CALL, lambda now: self._inquire(run, now))

    def _fail(self, incident: dict[str, Any], call: dt.datetime, contact: dt.datetime, why: str) -> None:  # fmt: skip
        self.outcomes[str(incident["id"])] = Outcome(
            str(incident["id"]), str(incident["true_condition"]), None, None, call, contact,
            (), None, None, None, transferred=False, forced=False, failed=why,
        )  # fmt: skip

    # -- inquiries ---------------------------------------------------------------------
    def _inquire(self, run: _Run, now: dt.datetime) -> None:
        choice = None
        if len(run.inquiries) < self.a.max_inquiries:
            choice = self.policy.choose(run.need, run.origin, now, frozenset(run.declined))
        if choice is None:  # the situation centre designates the policy's first choice
            forced = self.policy.choose(run.need, run.origin, now, frozenset())
            assert forced is not None  # the city has facilities (checked in _start)
            run.forced = True
            self._leave(run, forced, now)
            return
        answered = now + _minutes(self.a.call_minutes)
        reason = self.board.decline(choice.facility.id, run.triage, run.id, now)
        run.inquiries.append(Inquiry(
            choice.facility.id, answered, reason, choice.meets_need, choice.within_window,
            choice.fallback,
        ))  # fmt: skip
        if reason is None:
            self._leave(run, choice, answered)
            return
        run.declined.add(choice.facility.id)
        self.board.record_decline(choice.facility.id, answered)
        self._at(answered, _CALL, lambda later: self._inquire(run, later))

    def _leave(self, run: _Run, choice: Choice, now: dt.datetime) -> None:
        facility = choice.facility
        drive = self.travel.minutes(run.origin, [Point(facility.latitude, facility.longitude)], now)[0]  # fmt: skip
        run.first_hospital = facility.id
        self._at(now + _minutes(drive), _ARRIVE, lambda t: self._arrive(run, facility.id, t))

    # -- hospital ----------------------------------------------------------------------
    def _arrive(self, run: _Run, facility_id: str, now: dt.datetime) -> None:
        self.board.admit(facility_id)
        if self.board.can_treat(facility_id, run.true_need, now):
            self._treat(run, facility_id, now, transferred=False)
            return
        leave = now + _minutes(self.a.door_in_door_out_minutes)
        self._at(leave, _DEPART, lambda _t: self.board.discharge(facility_id))
        target, drive = self._transfer_target(run.true_need, facility_id, now)
        self._at(leave + _minutes(drive), _ARRIVE, lambda t: self._receive(run, target, t))

    def _receive(self, run: _Run, facility_id: str, now: dt.datetime) -> None:
        self.board.admit(facility_id)
        self._treat(run, facility_id, now, transferred=True)

    def _treat(self, run: _Run, facility_id: str, arrived: dt.datetime, *, transferred: bool) -> None:  # fmt: skip
        door = self.a.door_to_treatment.get(run.true_need, 0.0) if run.true_need else 0.0
        definitive = arrived + _minutes(self.a.handover_minutes + door)
        stay = self._length_of_stay(run, door)
        self._at(arrived + _minutes(stay), _DEPART, lambda _t: self.board.discharge(facility_id))
        self.outcomes[run.id] = Outcome(
            run.id, str(run.incident["true_condition"]),
            str(run.true_need) if run.true_need else None,
            str(run.triage.pathway) if run.triage.pathway else None,
            run.call, run.first_contact, tuple(run.inquiries), run.first_hospital, facility_id,
            definitive, transferred=transferred, forced=run.forced,
        )  # fmt: skip

    def _transfer_target(self, need: Capability | None, origin_id: str, now: dt.datetime) -> tuple[str, float]:  # fmt: skip
        """The nearest other ER that can treat ``need`` now (hospital-to-hospital transfers are
        arranged between doctors and not declined); if none can now, the nearest that offers
        it at all; if none offers it, the patient stays."""
        here = self.board.by_id[origin_id]
        others = [f for f in self.city.facilities if f.id != origin_id]
        drives = self.travel.minutes(Point(here.latitude, here.longitude),
                                     [Point(f.latitude, f.longitude) for f in others], now)  # fmt: skip
        paired = list(zip(others, drives, strict=True))
        can_now = [(d, f.id) for f, d in paired if self.board.can_treat(f.id, need, now)]
        offers = [(d, f.id) for f, d in paired if need is not None and need in f.capabilities]
        for ranked in (sorted(can_now), sorted(offers)):
            if ranked:
                return ranked[0][1], ranked[0][0]
        return origin_id, 0.0

    def _length_of_stay(self, run: _Run, door: float) -> float:
        rng = stream(self.seed, "los", run.id)
        draw = math.exp(rng.gauss(0.0, self.a.los_sigma))
        if run.true_need in _PROCEDURES:
            return self.a.handover_minutes + door + self.a.los_after_procedure_minutes * draw
        level = int(run.incident.get("pre_ktas") or 3)
        return self.a.los_by_level.get(level, 240.0) * draw


def _minutes(value: float) -> dt.timedelta:
    return dt.timedelta(minutes=value)


def _ticks(start: dt.datetime, end: dt.datetime, every: int) -> Iterator[dt.datetime]:
    moment = start
    while moment < end:
        yield moment
        moment += dt.timedelta(minutes=every)


def simulate_policy(
    city: SimCity, name: PolicyName, travel: TravelTimeProvider, seed: int, assumptions: Assumptions,
) -> tuple[list[Outcome], Board]:  # fmt: skip
    engine = Engine(city, name, travel, seed, assumptions)
    return engine.run(), engine.board
