"""Destination ranking: which emergency facility gets this patient to definitive care first.

For each facility: **expected minutes to definitive care** = travel (a
:class:`~khealth.emergency.travel.TravelTimeProvider`) + handover at the door + door-to-treatment
of the slowest capability the pathway needs + penalties for what live status leaves uncertain or
bad (no or unknown on-call specialist, full ER, unknown status, recent refusals). A facility
*meets the need* when it has every needed capability (its HealthcareService) and live status
does not refuse any of them (acceptance flag "N", equipment "N", no on-call specialist, no free
bed of the kind). Unknown live values do not refuse; they cost minutes (conservative, see
:data:`POLICY`).

Order (the invariant, tested by property): facilities that meet the need **and** reach definitive
care within the pathway's remaining window come first, by expected minutes; then the rest. A
facility without the needed capability therefore never ranks above one with it when that one is
reachable in time. When no facility meets the need in time, the list starts with the nearest ER
that can stabilise (by travel + handover + ER penalties) and a warning says so. An ER whose
gatekeeper flag (MKioskTy28) is "N" comes last whatever else it offers.

The constants are assumptions to calibrate against the simulator and, later, run sheets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from khealth.emergency.facilities import TIER_DISPLAY, EmergencyFacility
from khealth.emergency.model import Capability, Pathway
from khealth.emergency.status import FacilityStatus
from khealth.emergency.status_codes import GATEKEEPER, NEEDS
from khealth.emergency.travel import Point, TravelTimeProvider

CAPABILITY_TEXT: Mapping[Capability, tuple[str, str]] = {
    Capability.PCI: ("관상동맥중재술(PCI)", "primary PCI"),
    Capability.THROMBOLYSIS: ("정맥 혈전용해술", "IV thrombolysis"),
    Capability.THROMBECTOMY: ("뇌혈관 혈전제거술", "thrombectomy"),
    Capability.CT: ("CT", "CT"),
    Capability.TRAUMA_CENTRE: ("권역외상센터", "trauma centre"),
    Capability.RESUSCITATION: ("소생술", "resuscitation"),
    Capability.ICU: ("중환자실", "ICU"),
    Capability.OBSTETRICS: ("산부인과 응급", "obstetric emergency care"),
    Capability.PAEDIATRIC_EMERGENCY: ("소아응급", "paediatric emergency care"),
    Capability.BURNS_CENTRE: ("화상 전문치료", "burns centre"),
}


@dataclass(frozen=True, slots=True)
class RankPolicy:
    """Minutes; assumptions (see the module docstring)."""

    handover: float = 5.0  # ambulance offload and ER registration
    door_to_treatment: Mapping[Capability, float] = field(default_factory=lambda: {
        Capability.PCI: 45.0,  # pre-activated cath lab; ACC/AHA door-to-balloon goal ≤ 90
        Capability.THROMBECTOMY: 60.0,  # door-to-groin with pre-notification
        Capability.THROMBOLYSIS: 45.0,  # door-to-needle goal ≤ 60
        Capability.TRAUMA_CENTRE: 15.0,  # trauma team activated on arrival
        Capability.BURNS_CENTRE: 30.0,
        Capability.OBSTETRICS: 20.0,
        Capability.ICU: 30.0,
        Capability.CT: 15.0,
        Capability.PAEDIATRIC_EMERGENCY: 10.0,
        Capability.RESUSCITATION: 0.0,
    })  # fmt: skip
    unknown_capability: float = 15.0  # acceptance / on-call / equipment not reported
    no_status: float = 10.0  # the facility never reported (or not since start)
    er_full: float = 20.0  # hvec ≤ 0: crowding, and refusals are likely
    er_unknown: float = 5.0
    per_recent_decline: float = 10.0
    max_decline_penalty: float = 30.0
    decline_lookback: dt.timedelta = dt.timedelta(hours=2)


POLICY = RankPolicy()


class Need(Protocol):
    """What ranking reads of a triage result (``model.TriageResult`` fits)."""

    @property
    def pathway(self) -> Pathway | None: ...

    @property
    def needs(self) -> frozenset[Capability]: ...

    @property
    def time_window_minutes(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class RoutingNeed:
    """A :class:`Need` that can be stored and re-ranked later: the window is remaining at
    ``at``, so a later re-rank subtracts the minutes gone by."""

    pathway: Pathway | None
    needs: frozenset[Capability]
    window_minutes: int | None
    at: dt.datetime

    @classmethod
    def of(cls, need: Need, at: dt.datetime) -> RoutingNeed:
        return cls(need.pathway, frozenset(need.needs), need.time_window_minutes, at)

    def remaining(self, now: dt.datetime) -> float | None:
        if self.window_minutes is None:
            return None
        return self.window_minutes - max(0.0, (now - self.at).total_seconds() / 60)


@dataclass(frozen=True, slots=True)
class CapabilityCheck:
    capability: Capability
    state: str  # ok | unknown | closed | absent


@dataclass(frozen=True, slots=True)
class Recommendation:
    facility: EmergencyFacility
    eta_minutes: float  # travel
    definitive_minutes: float  # expected minutes to definitive care, penalties included
    meets_need: bool
    within_window: bool
    er_closed: bool
    checks: tuple[CapabilityCheck, ...]
    status_state: str  # fresh | stale | none
    status_age_minutes: float | None
    er_beds: int | None
    recent_declines: int
    explanation_ko: str
    explanation_en: str


@dataclass(frozen=True, slots=True)
class Warning:
    code: str
    ko: str
    en: str


@dataclass(frozen=True, slots=True)
class Ranking:
    recommendations: tuple[Recommendation, ...]
    warnings: tuple[Warning, ...]
    considered: int


@dataclass(frozen=True, slots=True)
class _Scored:
    rec: Recommendation
    stabilise_minutes: float


def rank(
    facilities: Sequence[EmergencyFacility],
    statuses: Mapping[str, FacilityStatus],
    declines: Mapping[str, int],
    need: RoutingNeed,
    origin: Point,
    now: dt.datetime,
    travel: TravelTimeProvider,
    *,
    exclude: frozenset[str] = frozenset(),
    top: int = 5,
    policy: RankPolicy = POLICY,
) -> Ranking:
    """The best ``top`` facilities for ``need`` from ``origin``, best first, with warnings."""
    candidates = [f for f in facilities if f.id not in exclude]
    minutes = travel.minutes(origin, [Point(f.latitude, f.longitude) for f in candidates], now)
    window = need.remaining(now)
    scored = [
        _score(f, eta, statuses.get(f.id), declines.get(f.id, 0), need, window, now, policy)
        for f, eta in zip(candidates, minutes, strict=True)
    ]
    in_time = any(s.rec.meets_need and s.rec.within_window and not s.rec.er_closed for s in scored)
    fallback = bool(need.needs) and not in_time
    scored.sort(key=lambda s: _order(s, fallback))
    chosen = tuple(s.rec for s in scored[: max(0, top)])
    return Ranking(chosen, _warnings(scored, chosen, need, window, fallback), len(candidates))


def _order(s: _Scored, fallback: bool) -> tuple[int, float, str]:
    rec = s.rec
    if rec.er_closed:
        return (2, s.stabilise_minutes, rec.facility.id)
    if fallback:
        return (0, s.stabilise_minutes, rec.facility.id)
    if rec.meets_need and rec.within_window:
        return (0, rec.definitive_minutes, rec.facility.id)
    return (1, s.stabilise_minutes, rec.facility.id)


def _score(
    facility: EmergencyFacility,
    eta: float,
    status: FacilityStatus | None,
    declines: int,
    need: RoutingNeed,
    window: float | None,
    now: dt.datetime,
    policy: RankPolicy,
) -> _Scored:
    live = status.live(now) if status is not None else None
    checks = tuple(_check(c, facility, live) for c in sorted(need.needs))
    meets = all(c.state in ("ok", "unknown") for c in checks)
    beds = live.beds.get("hvec") if live is not None else None
    er_penalty = _er_penalty(live, beds, policy)
    decline_penalty = min(policy.max_decline_penalty, declines * policy.per_recent_decline)
    stabilise = eta + policy.handover + er_penalty + decline_penalty
    treatment = max((policy.door_to_treatment.get(c, 0.0) for c in need.needs), default=0.0)
    unknown = sum(policy.unknown_capability for c in checks if c.state == "unknown")
    definitive = stabilise + treatment + unknown
    within = window is None or definitive <= window
    closed = live is not None and live.acceptance.get(GATEKEEPER) is False
    state = "none" if status is None else ("stale" if status.is_stale(now) else "fresh")
    age = status.age(now).total_seconds() / 60 if status is not None else None
    ko, en = _explain(facility, eta, definitive, window, checks, state, age, beds, declines, closed)
    rec = Recommendation(
        facility, eta, definitive, meets, within, closed, checks, state, age, beds, declines, ko, en
    )
    return _Scored(rec, stabilise)


def _er_penalty(live: FacilityStatus | None, beds: int | None, policy: RankPolicy) -> float:
    if live is None:
        return policy.no_status
    if beds is None:
        return policy.er_unknown
    return policy.er_full if beds <= 0 else 0.0


def _check(capability: Capability, facility: EmergencyFacility, live: FacilityStatus | None) -> CapabilityCheck:  # fmt: skip
    if capability not in facility.capabilities:
        return CapabilityCheck(capability, "absent")
    if live is None:
        return CapabilityCheck(capability, "unknown")
    mapping = NEEDS.get(capability)
    if mapping is None:
        return CapabilityCheck(capability, "ok")
    states = [
        _any_of([live.acceptance.get(n) for n in mapping.acceptance]),
        _all_of([live.equipment.get(name) for name in mapping.equipment]),
        _any_of([live.on_call.get(d) for d in mapping.departments]),
        _any_of([_free(live.beds.get(b)) for b in mapping.beds]),
    ]
    for verdict in ("closed", "unknown"):
        if verdict in states:
            return CapabilityCheck(capability, verdict)
    return CapabilityCheck(capability, "ok")


def _free(count: int | None) -> bool | None:
    return None if count is None else count > 0


def _any_of(values: list[bool | None]) -> str:
    """One available item is enough (e.g. either neurology or neurosurgery on call)."""
    if not values or any(v is True for v in values):
        return "ok"
    return "closed" if all(v is False for v in values) else "unknown"


def _all_of(values: list[bool | None]) -> str:
    """Every item is needed (angiography and CT for thrombectomy)."""
    if any(v is False for v in values):
        return "closed"
    return "unknown" if any(v is None for v in values) else "ok"


_STATE_TEXT = {
    "ok": ("가능", "available"),
    "unknown": ("가능 여부 미확인", "availability not reported"),
    "closed": ("현재 불가", "not available now"),
    "absent": ("시설 없음", "not offered"),
}


def _explain(
    facility: EmergencyFacility, eta: float, definitive: float, window: float | None,
    checks: tuple[CapabilityCheck, ...], state: str, age: float | None, beds: int | None,
    declines: int, closed: bool,
) -> tuple[str, str]:  # fmt: skip
    tier_ko, tier_en = TIER_DISPLAY.get(facility.tier, (facility.tier, facility.tier))
    ko = [f"{facility.name}({tier_ko}): 약 {eta:.0f}분 거리"]
    en = [f"{facility.name} ({tier_en}): about {eta:.0f} min away"]
    for check in checks:
        cap_ko, cap_en = CAPABILITY_TEXT.get(check.capability, (check.capability, check.capability))  # fmt: skip
        st_ko, st_en = _STATE_TEXT[check.state]
        ko.append(f"{cap_ko} {st_ko}")
        en.append(f"{cap_en} {st_en}")
    if closed:
        ko.append("응급실 수용 불가 공지")
        en.append("ER announces it cannot accept")
    elif beds is None:
        ko.append("응급실 병상 정보 없음")
        en.append("ER beds not reported")
    elif beds <= 0:
        ko.append("응급실 포화")
        en.append("ER full")
    else:
        ko.append(f"응급실 병상 {beds}개")
        en.append(f"{beds} ER beds free")
    if state == "none":
        ko.append("실시간 상태 미보고")
        en.append("no live status")
    elif state == "stale" and age is not None:
        ko.append(f"상태 정보 {age:.0f}분 전")
        en.append(f"status {age:.0f} min old")
    if declines:
        ko.append(f"최근 2시간 수용 거절 {declines}회")
        en.append(f"{declines} refusals in the last 2 h")
    if checks:
        limit_ko = f" ({window:.0f}분 이내)" if window is not None and definitive <= window else (f" ({window:.0f}분 초과)" if window is not None else "")  # fmt: skip
        limit_en = f" (within {window:.0f})" if window is not None and definitive <= window else (f" (beyond {window:.0f})" if window is not None else "")  # fmt: skip
        ko.append(f"치료까지 예상 {definitive:.0f}분{limit_ko}")
        en.append(f"definitive care expected in {definitive:.0f} min{limit_en}")
    return ", ".join(ko), "; ".join(en)


def _needs_text(needs: frozenset[Capability]) -> tuple[str, str]:
    names = [CAPABILITY_TEXT.get(c, (c, c)) for c in sorted(needs)]
    return "·".join(n[0] for n in names), " and ".join(n[1] for n in names)


def _warnings(
    scored: list[_Scored], chosen: tuple[Recommendation, ...], need: RoutingNeed,
    window: float | None, fallback: bool,
) -> tuple[Warning, ...]:  # fmt: skip
    out: list[Warning] = []
    if fallback:
        cap_ko, cap_en = _needs_text(need.needs)
        if window is not None:
            out.append(Warning("no-capable-in-window",
                f"{window:.0f}분 안에 {cap_ko} 가능한 병원이 없습니다: 가장 가까운 안정화 가능 응급실을 권합니다",
                f"No hospital can provide {cap_en} within {window:.0f} minutes: the nearest ER able to stabilise comes first"))  # fmt: skip
        else:
            out.append(Warning("no-capable",
                f"{cap_ko} 가능한 병원이 없습니다: 가장 가까운 안정화 가능 응급실을 권합니다",
                f"No hospital can provide {cap_en} now: the nearest ER able to stabilise comes first"))  # fmt: skip
        capable = [s.rec for s in scored if s.rec.meets_need and not s.rec.er_closed]
        if capable:
            best = min(capable, key=lambda r: r.definitive_minutes)
            out.append(Warning("fastest-capable",
                f"가장 빠른 {cap_ko} 가능 병원: {best.facility.name} (치료까지 예상 {best.definitive_minutes:.0f}분)",
                f"Fastest hospital offering {cap_en}: {best.facility.name} (definitive care in about {best.definitive_minutes:.0f} min)"))  # fmt: skip
    if chosen and chosen[0].status_state != "fresh":
        out.append(Warning("first-choice-status-uncertain",
            "1순위 병원의 실시간 상태가 확인되지 않았습니다: 이송 전 전화로 수용 여부를 확인하세요",
            "The first choice's live status is missing or stale: confirm by phone before leaving"))  # fmt: skip
    if scored and all(s.rec.er_beds is not None and s.rec.er_beds <= 0 for s in scored):
        out.append(Warning("all-full", "모든 응급실이 포화 상태입니다", "Every ER reports no free bed"))  # fmt: skip
    if not chosen:
        out.append(Warning("no-facility", "추천할 응급실이 없습니다", "No emergency facility to recommend"))  # fmt: skip
    return tuple(out)
