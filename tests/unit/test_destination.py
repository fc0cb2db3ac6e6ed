"""Destination ranking: the capability invariant (property-based), explanations and warnings,
stale and unknown status, refusals, the gatekeeper flag, and exclusion of decliners."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from khealth.emergency.destination import Ranking, RoutingNeed, rank
from khealth.emergency.facilities import EmergencyFacility
from khealth.emergency.model import Capability, Pathway
from khealth.emergency.status import FacilityStatus
from khealth.emergency.travel import EstimatedTravelTime, Point
from tests.emergency_support import CITY_CENTRE, NOW, city_facilities, facility, status

TRAVEL = EstimatedTravelTime()
ORIGIN = Point(*CITY_CENTRE)
STEMI = RoutingNeed(Pathway.STEMI, frozenset({Capability.PCI}), 90, NOW)
CAPS = [Capability.PCI, Capability.THROMBECTOMY, Capability.TRAUMA_CENTRE, Capability.BURNS_CENTRE]


def ranked(
    facilities: list[EmergencyFacility], statuses: dict[str, FacilityStatus], need: RoutingNeed = STEMI,
    declines: dict[str, int] | None = None, **kw: object,
) -> Ranking:  # fmt: skip
    return rank(facilities, statuses, declines or {}, need, ORIGIN, NOW, TRAVEL, top=50, **kw)  # type: ignore[arg-type]


def ids(ranking: Ranking) -> list[str]:
    return [r.facility.id for r in ranking.recommendations]


def km_north(km: float) -> float:
    return CITY_CENTRE[0] + km / 111.2


# -- the invariant, by property -----------------------------------------------------------------
flags = st.sampled_from([True, False, None])
status_st = st.one_of(
    st.none(),
    st.builds(
        lambda age, hvec, acc, angio, ct, oc, gate: status(
            "x",
            at=NOW - dt.timedelta(minutes=age),
            hvec=hvec,
            acceptance={1: acc, 2: acc, 19: acc, 28: gate},
            equipment={"hvangioayn": angio, "hvctayn": ct},
            on_call={"01": oc, "02": oc, "04": oc, "06": oc},
        ),
        st.integers(0, 60),
        st.one_of(st.none(), st.integers(-3, 10)),
        flags,
        flags,
        flags,
        flags,
        st.sampled_from([True, True, None, False]),
    ),
)
facility_st = st.tuples(
    st.floats(-15, 15),
    st.floats(-15, 15),
    st.frozensets(st.sampled_from(CAPS)),
    status_st,
    st.integers(0, 4),
)
need_st = st.builds(
    lambda caps, window: RoutingNeed(None, caps, window, NOW),
    st.frozensets(st.sampled_from(CAPS), min_size=1, max_size=2),
    st.one_of(st.none(), st.integers(20, 180)),
)


def build(rows: list[tuple[float, float, frozenset[Capability], FacilityStatus | None, int]]) -> tuple[list[EmergencyFacility], dict[str, FacilityStatus], dict[str, int]]:  # fmt: skip
    facilities, statuses, declines = [], {}, {}
    for n, (dy, dx, caps, st_, refused) in enumerate(rows):
        fid = f"f{n:02d}"
        facilities.append(facility(fid, km_north(dy), CITY_CENTRE[1] + dx / 91.0, set(caps)))
        if st_ is not None:
            statuses[fid] = FacilityStatus(fid, st_.observed_at, st_.recorded_at, st_.beds, st_.equipment, st_.acceptance, st_.on_call)  # fmt: skip
        declines[fid] = refused
    return facilities, statuses, declines


@settings(max_examples=300, deadline=None)
@given(st.lists(facility_st, min_size=1, max_size=12), need_st)
def test_a_facility_without_the_capability_never_ranks_above_one_with_it_in_time(
    rows, need
) -> None:  # type: ignore[no-untyped-def]
    facilities, statuses, declines = build(rows)
    order = ranked(facilities, statuses, need, declines).recommendations
    assert len(order) == len(facilities)
    for position, rec in enumerate(order):
        lacks = not need.needs <= rec.facility.capabilities
        assert not (lacks and rec.meets_need)  # the oracle: a static lack is never capable
        if not rec.meets_need:
            below = order[position + 1 :]
            assert not any(r.meets_need and r.within_window and not r.er_closed for r in below)


@settings(max_examples=200, deadline=None)
@given(st.lists(facility_st, min_size=2, max_size=10), need_st)
def test_with_fresh_open_status_capability_in_time_beats_any_incapable_facility(rows, need) -> None:  # type: ignore[no-untyped-def]
    facilities, _, _ = build(rows)
    statuses = {f.id: status(f.id) for f in facilities}  # fresh, everything available
    order = ranked(facilities, statuses, need).recommendations
    window = need.window_minutes
    for i, upper in enumerate(order):
        for lower in order[i + 1 :]:
            lower_capable = need.needs <= lower.facility.capabilities
            in_time = window is None or lower.definitive_minutes <= window
            assert not (lower_capable and in_time and not need.needs <= upper.facility.capabilities)


# -- examples -----------------------------------------------------------------------------------
def test_the_nearer_pci_centre_comes_first_with_a_korean_explanation() -> None:
    near = facility("near-pci", km_north(3), CITY_CENTRE[1], {Capability.PCI})
    far = facility("far-pci", km_north(8), CITY_CENTRE[1], {Capability.PCI})
    plain = facility("plain", km_north(1), CITY_CENTRE[1])
    result = ranked([far, plain, near], {f.id: status(f.id) for f in (near, far, plain)})
    assert ids(result) == ["near-pci", "far-pci", "plain"]
    first = result.recommendations[0]
    assert "관상동맥중재술(PCI) 가능" in first.explanation_ko and "분 거리" in first.explanation_ko
    assert "(90분 이내)" in first.explanation_ko and "primary PCI available" in first.explanation_en
    assert "관상동맥중재술(PCI) 시설 없음" in result.recommendations[2].explanation_ko
    assert result.warnings == ()


def test_without_pci_in_90_minutes_the_nearest_stabilising_er_comes_first_with_a_warning() -> None:
    remote_pci = facility("remote-pci", km_north(60), CITY_CENTRE[1], {Capability.PCI})
    near = facility("near", km_north(2), CITY_CENTRE[1])
    result = ranked([remote_pci, near], {f.id: status(f.id) for f in (remote_pci, near)})
    assert ids(result) == ["near", "remote-pci"]
    codes = [w.code for w in result.warnings]
    assert codes[:2] == ["no-capable-in-window", "fastest-capable"]
    assert result.warnings[0].ko == (
        "90분 안에 관상동맥중재술(PCI) 가능한 병원이 없습니다: 가장 가까운 안정화 가능 응급실을 권합니다"
    )
    assert "remote-pci" in result.warnings[1].ko


def test_an_explicit_refusal_makes_a_capable_hospital_incapable_now() -> None:
    refusing = facility("refusing", km_north(1), CITY_CENTRE[1], {Capability.PCI})
    other = facility("other", km_north(6), CITY_CENTRE[1], {Capability.PCI})
    statuses = {"refusing": status("refusing", acceptance={1: False}), "other": status("other")}
    result = ranked([refusing, other], statuses)
    assert ids(result) == ["other", "refusing"]
    assert "현재 불가" in result.recommendations[1].explanation_ko
    no_cardiologist = {
        "refusing": status("refusing", on_call={"01": False}),
        "other": status("other"),
    }
    assert ids(ranked([refusing, other], no_cardiologist)) == ["other", "refusing"]


def test_stale_status_is_trusted_for_refusals_and_doubted_for_offers() -> None:
    old = NOW - dt.timedelta(minutes=30)
    stale_yes = facility("stale-yes", km_north(2), CITY_CENTRE[1], {Capability.PCI})
    fresh = facility("fresh", km_north(3), CITY_CENTRE[1], {Capability.PCI})
    statuses = {"stale-yes": status("stale-yes", at=old), "fresh": status("fresh")}
    result = ranked([stale_yes, fresh], statuses)
    assert ids(result) == ["fresh", "stale-yes"]  # a 1 km head start does not beat the doubt
    stale = result.recommendations[1]
    assert stale.status_state == "stale" and "상태 정보 30분 전" in stale.explanation_ko
    assert "가능 여부 미확인" in stale.explanation_ko and stale.meets_need
    refused_long_ago = {"stale-yes": status("stale-yes", at=old, acceptance={1: False}), "fresh": status("fresh")}  # fmt: skip
    assert not ranked([stale_yes, fresh], refused_long_ago).recommendations[1].meets_need


def test_a_facility_that_never_reported_is_ranked_as_unknown_and_the_crew_is_warned() -> None:
    silent = facility("silent", km_north(1), CITY_CENTRE[1], {Capability.PCI})
    result = ranked([silent], {})
    assert result.recommendations[0].status_state == "none"
    assert "실시간 상태 미보고" in result.recommendations[0].explanation_ko
    assert "first-choice-status-uncertain" in [w.code for w in result.warnings]


def test_recent_refusals_and_a_full_er_cost_minutes() -> None:
    a = facility("a", km_north(2), CITY_CENTRE[1], {Capability.PCI})
    b = facility("b", km_north(3), CITY_CENTRE[1], {Capability.PCI})
    statuses = {"a": status("a"), "b": status("b")}
    assert ids(ranked([a, b], statuses)) == ["a", "b"]
    assert ids(ranked([a, b], statuses, declines={"a": 2})) == ["b", "a"]
    full = {"a": status("a", hvec=0), "b": status("b")}
    result = ranked([a, b], full)
    assert ids(result) == ["b", "a"] and "응급실 포화" in result.recommendations[1].explanation_ko


def test_an_er_closed_by_its_gatekeeper_flag_comes_last() -> None:
    closed = facility("closed", km_north(1), CITY_CENTRE[1], {Capability.PCI})
    far = facility("far", km_north(40), CITY_CENTRE[1])
    statuses = {"closed": status("closed", acceptance={1: True, 28: False}), "far": status("far")}
    result = ranked([closed, far], statuses)
    assert ids(result) == ["far", "closed"]
    assert "응급실 수용 불가 공지" in result.recommendations[1].explanation_ko


def test_decliners_are_excluded_and_top_n_is_respected() -> None:
    facilities = list(city_facilities())
    statuses = {f.id: status(f.id) for f in facilities}
    first = rank(facilities, statuses, {}, STEMI, ORIGIN, NOW, TRAVEL, top=3)
    assert len(first.recommendations) == 3 and first.considered == 18
    best = first.recommendations[0].facility.id
    again = rank(facilities, statuses, {}, STEMI, ORIGIN, NOW, TRAVEL, top=3, exclude=frozenset({best}))  # fmt: skip
    assert best not in ids(again) and again.considered == 17
    assert all(Capability.PCI in r.facility.capabilities for r in first.recommendations)


def test_a_later_rerank_counts_the_minutes_gone_from_the_window() -> None:
    need = RoutingNeed(
        Pathway.STEMI, frozenset({Capability.PCI}), 90, NOW - dt.timedelta(minutes=30)
    )
    assert need.remaining(NOW) == 60
    assert RoutingNeed(None, frozenset(), None, NOW).remaining(NOW) is None
