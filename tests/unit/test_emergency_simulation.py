"""The ambulance simulator: deterministic, conserving patients and beds, declining by the model,
routing STEMIs by the real ranking, and reporting both policies with every metric."""

from __future__ import annotations

import dataclasses
import datetime as dt
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest

from khealth.emergency.model import Assessment, Capability
from khealth.emergency.simulation import (
    PolicyName,
    SimulationConfig,
    SimulationResult,
    run_policies,
    simulate,
)
from khealth.emergency.simulation.assumptions import DEFAULT
from khealth.emergency.simulation.city import SimCity, Snapshot, build_city
from khealth.emergency.simulation.engine import Engine
from khealth.emergency.simulation.hospitals import Board
from khealth.emergency.simulation.report import console, markdown, result_json
from khealth.emergency.travel import EstimatedTravelTime
from khealth.emergency.triage import assess

pytestmark = pytest.mark.unit
TODAY = dt.date(2026, 11, 29)
SMALL = SimulationConfig(days=1, seed=3, today=TODAY, max_incidents=150)


@cache
def small_result() -> SimulationResult:
    return simulate(SMALL)


@cache
def one_day_city() -> SimCity:
    return build_city(SMALL.seed, 1, TODAY, DEFAULT)


def test_the_same_seed_gives_the_same_report() -> None:
    again = simulate(SMALL)
    assert orjson.dumps(again.to_json()) == orjson.dumps(small_result().to_json())


def test_a_different_seed_gives_a_different_city() -> None:
    other = simulate(dataclasses.replace(SMALL, seed=4))
    assert other.to_json()["policies"] != small_result().to_json()["policies"]


@pytest.mark.parametrize("policy", list(PolicyName))
def test_every_incident_ends_at_exactly_one_hospital_or_is_recorded_as_failed(policy: PolicyName) -> None:  # fmt: skip
    city = dataclasses.replace(one_day_city(), incidents=one_day_city().incidents[:150])
    engine = Engine(city, policy, EstimatedTravelTime(), SMALL.seed, DEFAULT)
    outcomes = engine.run()
    ids = [o.incident_id for o in outcomes]
    assert ids == [str(i["id"]) for i in city.incidents]
    assert len(set(ids)) == len(ids)
    known = {f.id for f in city.facilities}
    for outcome in outcomes:
        if outcome.failed is None:
            assert outcome.final_hospital in known and outcome.first_hospital in known
            assert outcome.definitive_at is not None and outcome.definitive_at >= outcome.call
        else:
            assert outcome.final_hospital is None and outcome.definitive_at is None
    # every admitted patient was discharged again: beds are conserved too
    assert all(count == 0 for count in engine.board.present.values())


def _stemi_triage() -> Any:
    now = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    return assess(Assessment(age=67, sex="male", chief_complaint="흉통", stemi_ecg=True), now), now


def _only_facility(city: SimCity, snapshot: Snapshot) -> SimCity:
    facility = next(f for f in city.facilities if Capability.PCI in f.capabilities)
    return dataclasses.replace(
        city, facilities=(facility,), snapshots={facility.id: (snapshot,)},
        times={facility.id: (snapshot.at,)},
    )  # fmt: skip


def test_a_hospital_with_no_beds_and_n_flags_declines() -> None:
    triage, now = _stemi_triage()
    facility = next(f for f in one_day_city().facilities if Capability.PCI in f.capabilities)
    closed = Snapshot(now - dt.timedelta(hours=1), background=facility.er_beds, icu_free=0,
                      ct=False, angiography=False, mri=False, available=frozenset(),
                      on_call=frozenset(), departments=frozenset({"01"}))  # fmt: skip
    board = Board(_only_facility(one_day_city(), closed), 1, DEFAULT)
    assert board.decline(facility.id, triage, "ems-1", now) == "no-bed"
    with_beds = dataclasses.replace(closed, background=0)
    board = Board(_only_facility(one_day_city(), with_beds), 1, DEFAULT)
    assert board.decline(facility.id, triage, "ems-1", now) == "no-capability"
    board.publish(now)
    published = board.published[facility.id]
    assert published.acceptance[1] is False and published.equipment["hvangioayn"] is False


def test_a_hospital_with_beds_flags_and_specialist_accepts_unless_the_base_draw_refuses() -> None:
    triage, now = _stemi_triage()
    facility = next(f for f in one_day_city().facilities if Capability.PCI in f.capabilities)
    open_ = Snapshot(now - dt.timedelta(hours=1), background=0, icu_free=2, ct=True,
                     angiography=True, mri=True, available=frozenset({"pci"}),
                     on_call=frozenset({"01"}), departments=frozenset({"01"}))  # fmt: skip
    never = dataclasses.replace(DEFAULT, base_refusal=0.0)
    always = dataclasses.replace(DEFAULT, base_refusal=1.0)
    city = _only_facility(one_day_city(), open_)
    assert Board(city, 1, never).decline(facility.id, triage, "ems-1", now) is None
    assert Board(city, 1, always).decline(facility.id, triage, "ems-1", now) == "other"


def _all_stemi(city: SimCity, count: int) -> SimCity:
    template = {
        "true_condition": "stemi", "chief_complaint": "흉통, 식은땀", "pre_ktas": 2,
        "vitals": {"sbp": 130, "dbp": 80, "heart_rate": 95, "resp_rate": 20, "spo2": 96,
                   "gcs": 15, "temperature": 36.8},
        "age": 64, "sex": "male", "required_capability": "pci",
    }  # fmt: skip
    incidents = tuple({**i, **template} for i in city.incidents[:count])
    return dataclasses.replace(city, incidents=incidents)


def test_the_recommended_policy_never_sends_a_stemi_to_a_non_pci_hospital_when_one_is_reachable_in_time() -> None:  # fmt: skip
    config = dataclasses.replace(
        SMALL, policies=(PolicyName.RECOMMENDED,),
        assumptions=dataclasses.replace(DEFAULT, ecg_recorded=1.0, ecg_sensitivity=1.0),
    )  # fmt: skip
    city = _all_stemi(one_day_city(), 60)
    pci = {f.id for f in city.facilities if Capability.PCI in f.capabilities}
    result = run_policies(city, config, EstimatedTravelTime())
    outcomes = result.outcomes[PolicyName.RECOMMENDED]
    assert all(o.triage_pathway == "stemi" for o in outcomes)
    asked = [i for o in outcomes for i in o.inquiries]
    assert asked, "the crews asked hospitals"
    for inquiry in asked:
        assert inquiry.facility_id in pci or inquiry.fallback
    in_time = [o for o in outcomes if not any(i.fallback for i in o.inquiries) and not o.forced]
    assert in_time and all(o.first_hospital in pci for o in in_time)


def test_the_nearest_policy_asks_hospitals_in_order_of_travel_time() -> None:
    result = small_result()
    city = one_day_city()
    travel = EstimatedTravelTime()
    from khealth.emergency.travel import Point

    by_id = {f.id: f for f in city.facilities}
    incidents = {str(i["id"]): i for i in city.incidents}
    for outcome in result.outcomes[PolicyName.NEAREST][:40]:
        if len(outcome.inquiries) < 2:
            continue
        i = incidents[outcome.incident_id]
        origin = Point(i["latitude"], i["longitude"])
        first, second = (by_id[q.facility_id] for q in outcome.inquiries[:2])
        at = outcome.inquiries[0].answered_at
        a, b = travel.minutes(origin, [Point(f.latitude, f.longitude) for f in (first, second)], at)  # fmt: skip
        assert a <= b


def test_the_report_contains_both_policies_and_every_metric(tmp_path: Path) -> None:
    data = result_json(small_result(), {"command": "khealth emergency simulate --days 1",
                                        "machine": "test", "seconds": 1.0, "seconds_per_day": 1.0})  # fmt: skip
    text = markdown(data, data["run"])
    for needle in (
        "nearest", "recommended", "STEMI", "Stroke (LVO)", "Major trauma", "All",
        "median", "p90", "capable ER first time", "arrived first at a capable ER",
        "declines per patient", "mean occupancy ratio", "max occupancy ratio",
        "ER-hours over capacity", "share of ER time over capacity", "Targets (issue 6)",
        "Assumptions", "base_refusal", "door_in_door_out_minutes", "khealth emergency simulate",
    ):  # fmt: skip
        assert needle in text, needle
    for policy in ("nearest", "recommended"):
        figures = data["policies"][policy]
        assert set(figures["pathways"]) == {"stemi", "stroke_lvo", "major_trauma", "all"}
        for pathway in figures["pathways"].values():
            assert {"median_minutes", "p90_minutes", "n"} <= set(pathway)
        assert {"per_patient", "by_reason"} <= set(figures["declines"])
        assert {"mean_occupancy_ratio", "max_occupancy_ratio", "er_hours_over_capacity"} <= set(figures["crowding"])  # fmt: skip
    assert "declines_cut" in data["comparison"] and "targets" in data["comparison"]
    table = console(data)
    assert "nearest" in table and "recommended" in table and "declines per patient" in table


def test_the_cli_writes_the_markdown_and_json_reports(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from khealth.cli.main import _register, app

    _register()
    report, data = tmp_path / "sim.md", tmp_path / "sim.json"
    result = CliRunner().invoke(app, [
        "emergency", "simulate", "--days", "1", "--population", "300000",
        "--report", str(report), "--json", str(data),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "recommended" in result.output
    assert "# Emergency destination simulation" in report.read_text(encoding="utf-8")
    assert set(orjson.loads(data.read_bytes())["policies"]) == {"nearest", "recommended"}
