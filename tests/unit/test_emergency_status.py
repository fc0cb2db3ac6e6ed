"""Live ER status: the NEMC vocabulary, validation naming bad fields, staleness, the MKioskTy
numbering table, the two storage twins, the facility directory and the travel estimate."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from khealth.core.errors import InvalidResource
from khealth.emergency.model import Capability
from khealth.emergency.ports import Notification, NotificationEvent, StatusRecord
from khealth.emergency.status import STALE_AFTER, parse_status
from khealth.emergency.status_codes import (
    ACCEPTANCE,
    BY_NUMBER,
    BY_Y_CODE,
    GATEKEEPER,
    acceptance_table,
    from_legacy,
)
from khealth.emergency.travel import EstimatedTravelTime, Point, haversine_km
from khealth.web.emergency_routes import _store_for
from tests.emergency_support import NOW, city_facilities, status


def bad_fields(body: object) -> set[str]:
    with pytest.raises(InvalidResource) as caught:
        parse_status("f1", body, NOW)
    return {issue.expression[0] for issue in caught.value.issues if issue.expression}


# -- wire form ---------------------------------------------------------------------------------
def test_it_reads_nemc_fields_flags_and_the_hospital_time() -> None:
    parsed = parse_status(
        "f1",
        {"hvidate": "20261129224500", "hvec": -2, "hvicc": 3, "hvctayn": "Y", "hvangioayn": "N",
         "MKioskTy1": "Y", "MKioskTy2": "N1", "MKioskTy19": "NONE", "MKioskTy28": "Y",
         "on_call": {"01": True, "02": False, "06": None}},
        NOW,
    )  # fmt: skip
    assert parsed.observed_at == dt.datetime(2026, 11, 29, 13, 45, tzinfo=dt.UTC)
    assert parsed.beds == {"hvec": -2, "hvicc": 3}  # negative kept raw: overcrowding
    assert parsed.equipment == {"hvctayn": True, "hvangioayn": False}
    assert parsed.acceptance == {1: True, 2: False, 19: None, 28: True}
    assert parsed.on_call == {"01": True, "02": False, "06": None}


def test_fields_left_out_are_unknown_not_available() -> None:
    parsed = parse_status("f1", {}, NOW)
    assert parsed.observed_at == NOW
    assert parsed.beds.get("hvec") is None and parsed.acceptance.get(1) is None


def test_it_names_every_bad_field() -> None:
    assert bad_fields(
        {"hvec": "five", "hvoc": True, "hvctayn": "maybe", "MKioskTy29": "Y", "colour": 1,
         "on_call": {"cardiology": True}, "hvicc": 100000}
    ) == {"hvec", "hvoc", "hvctayn", "MKioskTy29", "colour", "on_call.cardiology", "hvicc"}  # fmt: skip


def test_it_refuses_a_time_in_the_future_or_without_a_zone() -> None:
    assert bad_fields({"hvidate": (NOW + dt.timedelta(hours=1)).isoformat()}) == {"hvidate"}
    assert bad_fields({"hvidate": "2026-11-29T09:00:00"}) == {"hvidate"}
    assert bad_fields([1, 2]) == set()  # not an object: one structural issue, no field


def test_a_snapshot_round_trips_through_its_wire_form() -> None:
    original = status("f1", hvec=3, acceptance={1: True, 2: False, 3: None})
    again = parse_status("f1", orjson.loads(orjson.dumps(original.to_json())), NOW)
    assert (again.beds, again.acceptance, again.equipment, again.on_call) == (
        original.beds, original.acceptance, original.equipment, original.on_call,
    )  # fmt: skip


def test_a_snapshot_older_than_ten_minutes_is_stale_and_keeps_only_its_refusals() -> None:
    old = status("f1", at=NOW - STALE_AFTER - dt.timedelta(seconds=1), hvec=4,
                 acceptance={1: True, 2: False}, on_call={"01": True, "02": False})  # fmt: skip
    assert not status("f1", at=NOW - STALE_AFTER).is_stale(NOW)
    assert old.is_stale(NOW)
    live = old.live(NOW)
    assert live.acceptance == {1: None, 2: False}
    assert live.on_call == {"01": None, "02": False}
    assert live.beds == {"hvec": None}
    full = status("f1", at=NOW - dt.timedelta(hours=1), hvec=0).live(NOW)
    assert full.beds == {"hvec": 0}  # a full ER stays full until it says otherwise


# -- the numbering table -------------------------------------------------------------------------
def test_the_current_numbering_has_27_items_and_the_gatekeeper_with_unique_y_codes() -> None:
    assert [item.number for item in ACCEPTANCE] == list(range(1, 29))
    assert BY_NUMBER[GATEKEEPER].y_code is None and BY_NUMBER[GATEKEEPER].legacy == 25
    assert len(BY_Y_CODE) == 27
    assert BY_Y_CODE["Y0010"].number == 1 and "심근경색" in BY_Y_CODE["Y0010"].ko
    assert BY_Y_CODE["Y0020"].number == 2 and "뇌경색" in BY_Y_CODE["Y0020"].ko
    assert BY_Y_CODE["Y0120"].number == 19 and "화상" in BY_Y_CODE["Y0120"].ko


@pytest.mark.parametrize(
    ("legacy", "current"),
    [(3, {1}), (2, {2}), (1, {3, 4}), (11, {19}), (7, {22, 23}), (6, {11, 12, 13, 14}),
     (8, {16, 17}), (25, {28}), (4, set())],
)  # fmt: skip
def test_a_legacy_flag_sets_exactly_the_current_items_it_covers(legacy: int, current: set[int]) -> None:  # fmt: skip
    assert set(from_legacy({legacy: False})) == current


def test_the_legacy_and_current_numbers_clash_so_item_1_means_different_things() -> None:
    assert "심근경색" in BY_NUMBER[1].ko  # current 1: myocardial infarction
    assert from_legacy({1: True}).get(1) is None  # legacy 1 (brain haemorrhage) is not it
    rows = acceptance_table()
    assert rows[0] == {"field": "MKioskTy1", "number": 1, "y_code": "Y0010",
                       "ko": "재관류중재술 심근경색", "en": "reperfusion: myocardial infarction",
                       "legacy_field": "MKioskTy3"}  # fmt: skip


# -- storage: the SQL adapter and its in-memory twin agree ------------------------------------------
def _record(fid: str, minute: int) -> StatusRecord:
    at = int((NOW + dt.timedelta(minutes=minute)).timestamp() * 1e6)
    return StatusRecord(0, fid, at, at, orjson.dumps({"hvec": minute}))


def test_every_update_is_kept_and_the_newest_is_the_status(store: object) -> None:
    es = _store_for(store)
    for fid, minute in [("a", 0), ("a", 5), ("b", 1), ("a", 3)]:
        es.add_status(_record(fid, minute))
    latest = es.latest_statuses()
    assert {k: orjson.loads(v.content)["hvec"] for k, v in latest.items()} == {"a": 5, "b": 1}
    history = es.status_history("a", 10, None)
    assert [orjson.loads(r.content)["hvec"] for r in history] == [3, 5, 0]  # newest stored first
    assert [r.seq for r in es.status_history("a", 10, history[0].seq)] == [h.seq for h in history[1:]]  # fmt: skip
    assert set(es.latest_statuses(["b"])) == {"b"}


def test_a_transition_happens_once_and_declines_are_counted(store: object) -> None:
    es = _store_for(store)
    t = int(NOW.timestamp() * 1e6)
    n = Notification("n1", "i1", "a", "pending", t, t, "e1", "s1", "p1", 7.5, {"need": {}})
    es.add_notification(n, NotificationEvent(0, "n1", "i1", "a", "notified", t))
    declined = es.transition("n1", "pending", "declined", NotificationEvent(0, "n1", "i1", "a", "declined", t + 1, "no_bed"))  # fmt: skip
    assert declined is not None and declined.state == "declined" and declined.updated == t + 1
    assert es.transition("n1", "pending", "accepted", NotificationEvent(0, "n1", "i1", "a", "accepted", t + 2)) is None  # fmt: skip
    assert [e.kind for e in es.events("a", 0, 10)] == ["notified", "declined"]
    assert es.declines_since(t) == {"a": 1} and es.declines_since(t + 2) == {}
    assert es.notifications("a", ["pending"]) == [] and es.incident_notifications("i1")[0].id == "n1"  # fmt: skip
    assert es.get_notification("n1") == declined


# -- facilities and travel ------------------------------------------------------------------------
def test_the_directory_reads_the_citys_emergency_facilities_from_fhir() -> None:
    facilities = city_facilities()
    assert len(facilities) == 18
    regional = [f for f in facilities if f.tier == "regional-emergency-center"]
    assert len(regional) == 1
    assert {Capability.PCI, Capability.THROMBECTOMY, Capability.TRAUMA_CENTRE} <= regional[0].capabilities  # fmt: skip
    assert all(Capability.RESUSCITATION in f.capabilities for f in facilities)
    assert all(35.0 < f.latitude < 35.3 and 126.6 < f.longitude < 127.1 for f in facilities)
    assert sum(Capability.PCI in f.capabilities for f in facilities) == 6


def test_the_travel_estimate_is_haversine_times_detour_at_the_hours_speed() -> None:
    one_degree = haversine_km(Point(35.0, 127.0), Point(36.0, 127.0))
    assert one_degree == pytest.approx(111.2, abs=0.1)
    travel = EstimatedTravelTime()
    a, b = Point(35.15, 126.85), Point(35.15 + 10 / 111.2, 126.85)  # 10 km north
    night = travel.minutes(a, [b], dt.datetime(2026, 11, 29, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=9))))  # fmt: skip
    peak = travel.minutes(a, [b], dt.datetime(2026, 11, 29, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=9))))  # fmt: skip
    assert night[0] == pytest.approx(1.5 + 10 * 1.35 / 45 * 60, abs=0.05)
    assert peak[0] == pytest.approx(1.5 + 10 * 1.35 / 28 * 60, abs=0.05)
