"""The city's ERs during a run: occupancy, what each can truly do, whether it declines, and the
live status it publishes (what the recommended policy sees).

**Truth** comes from the hour's capacity snapshot plus the simulated patients in the ER:
:func:`missing` says why a capability cannot be delivered now (``None``: it can).

**Decline model** (:meth:`Board.decline`), for an inquiry about a patient the crew reports with
triage result ``needs``; the hospital answers on what it is told, as on the phone:

1. a reported cardiac arrest is never declined (an ER cannot refuse a patient under CPR);
2. the ER is full (occupancy ≥ its registered beds, i.e. ``hvec`` ≤ 0) → ``no-bed``;
3. a reported need the hospital cannot meet now → ``no-capability`` (not offered, or its
   acceptance flag MKioskTy is N), ``no-equipment`` (CT / angiography down), ``no-specialist``
   (no doctor on call in the department), ``no-icu-bed``;
4. otherwise a base refusal (``Assumptions.base_refusal``, a reason no status shows) → ``other``.

A patient whose true condition the crew missed is accepted on what was reported and, if the
hospital cannot give the definitive care, transferred on (door-in-door-out) by the engine.

**Published status.** Every ``status_interval_minutes`` each ER publishes a
:class:`~khealth.emergency.status.FacilityStatus` in the NEMC vocabulary: beds (``hvec`` =
registered − occupied, negative when over capacity; ``hvicc``) are current, as they come from
the EMR feed; acceptance flags, equipment and on-call doctors are set by hand and, in
``flags_lag_share`` of the hours, are still the previous hour's.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from khealth.emergency.facilities import EmergencyFacility
from khealth.emergency.model import Capability, Pathway, TriageResult
from khealth.emergency.simulation.assumptions import Assumptions
from khealth.emergency.simulation.city import SimCity, Snapshot
from khealth.emergency.status import FacilityStatus
from khealth.synth.facilities import ON_CALL_DEPARTMENTS
from khealth.synth.streams import stream


@dataclass(frozen=True, slots=True)
class Requirement:
    code: str | None  # synthetic capability code that must be working this hour
    equipment: tuple[str, ...] = ()  # "ct", "angiography": all needed
    departments: tuple[str, ...] = ()  # any one on call is enough


REQUIREMENTS: Mapping[Capability, Requirement] = {
    Capability.PCI: Requirement("pci", ("angiography",), ("01",)),
    Capability.THROMBECTOMY: Requirement("thrombectomy", ("angiography", "ct"), ("02", "06")),
    Capability.THROMBOLYSIS: Requirement(None, ("ct",), ("02", "06")),
    Capability.CT: Requirement(None, ("ct",)),
    Capability.TRAUMA_CENTRE: Requirement("trauma", (), ("04",)),
    Capability.OBSTETRICS: Requirement("obstetric", (), ("10",)),
    Capability.PAEDIATRIC_EMERGENCY: Requirement("paediatric", (), ("11",)),
    Capability.BURNS_CENTRE: Requirement("burns", (), ("04",)),
    Capability.RESUSCITATION: Requirement(None),
}


def missing(capability: Capability, facility: EmergencyFacility, snap: Snapshot) -> str | None:
    """Why ``facility`` cannot deliver ``capability`` in the hour of ``snap`` (None: it can)."""
    if capability not in facility.capabilities:
        return "no-capability"
    if capability is Capability.ICU:
        return None if snap.icu_free > 0 else "no-icu-bed"
    need = REQUIREMENTS[capability]
    if need.code is not None and need.code not in snap.available:
        return "no-capability"
    working = {"ct": snap.ct, "angiography": snap.angiography}
    if not all(working[e] for e in need.equipment):
        return "no-equipment"
    if need.departments and not snap.on_call & set(need.departments):
        return "no-specialist"
    return None


@dataclass
class Crowding:
    ticks: int = 0
    ratio_sum: float = 0.0
    ratio_max: float = 0.0
    over_ticks: int = 0


class Board:
    """Mutable state of every ER during one policy's run (events arrive in time order)."""

    def __init__(self, city: SimCity, seed: int, assumptions: Assumptions) -> None:
        self.city = city
        self.seed = seed
        self.a = assumptions
        self.by_id = {f.id: f for f in city.facilities}
        self.present = {f.id: 0 for f in city.facilities}
        self.published: dict[str, FacilityStatus] = {}
        self.crowding = {f.id: Crowding() for f in city.facilities}
        self._declines: deque[tuple[dt.datetime, str]] = deque()

    # -- occupancy ---------------------------------------------------------------------
    def occupancy(self, facility_id: str, at: dt.datetime) -> int:
        return self.city.snapshot(facility_id, at).background + self.present[facility_id]

    def admit(self, facility_id: str) -> None:
        self.present[facility_id] += 1

    def discharge(self, facility_id: str) -> None:
        self.present[facility_id] -= 1

    # -- truth and declines ------------------------------------------------------------
    def can_treat(self, facility_id: str, capability: Capability | None, at: dt.datetime) -> bool:
        if capability is None:
            return True
        facility = self.by_id[facility_id]
        return missing(capability, facility, self.city.snapshot(facility_id, at)) is None

    def decline(
        self, facility_id: str, triage: TriageResult, incident_id: str, at: dt.datetime
    ) -> str | None:
        """The reason ``facility_id`` declines this patient at ``at``, or None if it accepts."""
        if triage.pathway is Pathway.CARDIAC_ARREST:
            return None
        facility = self.by_id[facility_id]
        if self.occupancy(facility_id, at) >= facility.er_beds:
            return "no-bed"
        snap = self.city.snapshot(facility_id, at)
        for capability in sorted(triage.needs - {Capability.RESUSCITATION}):
            reason = missing(capability, facility, snap)
            if reason is not None:
                return reason
        if stream(self.seed, "refusal", incident_id, facility_id).random() < self.a.base_refusal:
            return "other"
        return None

    def record_decline(self, facility_id: str, at: dt.datetime) -> None:
        self._declines.append((at, facility_id))

    def recent_declines(self, at: dt.datetime, lookback: dt.timedelta) -> dict[str, int]:
        while self._declines and self._declines[0][0] < at - lookback:
            self._declines.popleft()
        out: dict[str, int] = {}
        for _, facility_id in self._declines:
            out[facility_id] = out.get(facility_id, 0) + 1
        return out

    # -- published status and crowding -------------------------------------------------
    def publish(self, at: dt.datetime) -> None:
        for facility in self.city.facilities:
            occupied = self.occupancy(facility.id, at)
            self.published[facility.id] = self._status(facility, occupied, at)
            self._sample(facility, occupied)

    def _sample(self, facility: EmergencyFacility, occupied: int) -> None:
        ratio = occupied / facility.er_beds if facility.er_beds else 0.0
        c = self.crowding[facility.id]
        c.ticks += 1
        c.ratio_sum += ratio
        c.ratio_max = max(c.ratio_max, ratio)
        c.over_ticks += occupied > facility.er_beds

    def _status(self, f: EmergencyFacility, occupied: int, at: dt.datetime) -> FacilityStatus:
        now = self.city.snapshot(f.id, at)
        hour = now.at.isoformat()
        lagging = stream(self.seed, "flags-lag", f.id, hour).random() < self.a.flags_lag_share
        flags = self.city.snapshot(f.id, at, hours_back=1) if lagging else now
        beds: dict[str, int | None] = {"hvec": f.er_beds - occupied, "hvicc": now.icu_free}
        if Capability.TRAUMA_CENTRE in f.capabilities:
            open_ = int("trauma" in flags.available)
            beds |= {"hv60": open_, "hv39": open_}
        return FacilityStatus(
            f.id, at, at, beds,
            equipment={"hvctayn": flags.ct, "hvangioayn": flags.angiography, "hvmriayn": flags.mri},
            acceptance=_acceptance(f, flags),
            on_call={d: d in flags.on_call for d in ON_CALL_DEPARTMENTS},
        )  # fmt: skip


def _acceptance(f: EmergencyFacility, s: Snapshot) -> dict[int, bool | None]:
    """Current (operation 2) numbering: 1 STEMI, 2 ischaemic stroke, 16/17 obstetric, 19 burns,
    28 the ER gatekeeper (always open: a full ER shows in hvec)."""
    stroke = "thrombectomy" in s.available or (Capability.THROMBOLYSIS in f.capabilities and s.ct)
    obstetric = "obstetric" in s.available
    return {
        1: "pci" in s.available, 2: stroke, 16: obstetric, 17: obstetric,
        19: "burns" in s.available, 28: True,
    }  # fmt: skip
