"""Live status of one emergency facility, in the NEMC real-time API's vocabulary.

A status is a **snapshot**: every update replaces the whole picture, and a field the hospital
did not send is *unknown* (``None``), never assumed available. Every snapshot is kept (history).
A snapshot older than :data:`STALE_AFTER` is *stale*: routing then trusts its refusals ("N" stays
"N") but not its offers ("Y", free beds become unknown) — see :meth:`FacilityStatus.live`.

Wire form (``PUT`` body, flat like the NEMC feed; every field optional)::

    {"hvidate": "2026-11-29T09:00:00+09:00" | "20261129090000",   # hospital's update time, KST
     "hvec": 5, "hvoc": 2, "hvicc": 3, ...,                        # status_codes.BED_FIELDS
     "hvctayn": "Y", "hvangioayn": "N", ...,                       # status_codes.EQUIPMENT_FIELDS
     "MKioskTy1": "Y", ..., "MKioskTy28": "Y",                     # current (27+1) numbering
     "on_call": {"01": true, "02": false}}                          # HIRA department -> present

``hvec`` may be negative (NEMC reports overcrowding that way); the raw value is kept and
routing clamps it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from khealth.core.errors import InvalidResource, Issue
from khealth.emergency.status_codes import BED_FIELDS, BY_NUMBER, EQUIPMENT_FIELDS

KST = dt.timezone(dt.timedelta(hours=9))
STALE_AFTER = dt.timedelta(minutes=10)
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
_FLAG_TRUE = {"Y", "y", True}
_FLAG_FALSE = {"N", "n", "N1", False}
_FLAG_UNKNOWN = {None, "NONE", "", "null"}
_COUNT_RANGE = (-999, 9999)
K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class FacilityStatus:
    facility_id: str
    observed_at: dt.datetime  # the hospital's update time (hvidate), timezone-aware
    recorded_at: dt.datetime  # when we received it
    beds: Mapping[str, int | None] = field(default_factory=dict)
    equipment: Mapping[str, bool | None] = field(default_factory=dict)
    acceptance: Mapping[int, bool | None] = field(default_factory=dict)  # current numbering
    on_call: Mapping[str, bool | None] = field(default_factory=dict)  # HIRA department code

    def age(self, now: dt.datetime) -> dt.timedelta:
        return max(dt.timedelta(0), now - self.observed_at)

    def is_stale(self, now: dt.datetime) -> bool:
        return self.age(now) > STALE_AFTER

    def live(self, now: dt.datetime) -> FacilityStatus:
        """What routing may believe now: a stale snapshot keeps its refusals and absences and
        loses its offers (conservative: a stale "Y" may no longer hold, a stale "N" may)."""
        if not self.is_stale(now):
            return self
        return FacilityStatus(
            self.facility_id,
            self.observed_at,
            self.recorded_at,
            beds={k: v if v is not None and v <= 0 else None for k, v in self.beds.items()},
            equipment=_keep_false(self.equipment),
            acceptance=_keep_false(self.acceptance),
            on_call=_keep_false(self.on_call),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"hvidate": self.observed_at.isoformat()}
        out.update({name: self.beds.get(name) for name in BED_FIELDS if name in self.beds})
        out.update({name: _flag_out(v) for name, v in self.equipment.items()})
        out.update({f"MKioskTy{n}": _flag_out(v) for n, v in sorted(self.acceptance.items())})
        out["on_call"] = dict(self.on_call)
        return out


def _keep_false(values: Mapping[K, bool | None]) -> dict[K, bool | None]:
    return {k: (False if v is False else None) for k, v in values.items()}


def _flag_out(value: bool | None) -> str | None:
    return None if value is None else ("Y" if value else "N")


def parse_status(
    facility_id: str, body: Any, received: dt.datetime, *, stored: bool = False
) -> FacilityStatus:
    """A snapshot from its wire form; a 422 naming every bad field (nothing is half-read).
    ``stored`` skips the future-time check when reading history back."""
    if not isinstance(body, dict):
        raise InvalidResource([Issue("structure", "the status must be a JSON object")])
    issues: list[Issue] = []
    observed = _parse_time(body.get("hvidate"), received, issues, check_future=not stored)
    beds: dict[str, int | None] = {}
    equipment: dict[str, bool | None] = {}
    acceptance: dict[int, bool | None] = {}
    on_call: dict[str, bool | None] = {}
    for name, value in body.items():
        if name in ("hvidate", "facility_id", "recorded", "stale", "age_minutes"):
            continue
        if name in BED_FIELDS:
            beds[name] = _count(name, value, issues)
        elif name in EQUIPMENT_FIELDS:
            equipment[name] = _flag(name, value, issues)
        elif (number := _kiosk_number(name)) is not None:
            acceptance[number] = _flag(name, value, issues)
        elif name == "on_call":
            on_call = _on_call(value, issues)
        else:
            issues.append(Issue("invalid", f"unknown status field {name}", (name,)))
    if issues:
        raise InvalidResource(issues)
    return FacilityStatus(facility_id, observed, received, beds, equipment, acceptance, on_call)


def _kiosk_number(name: str) -> int | None:
    if not name.startswith("MKioskTy"):
        return None
    digits = name.removeprefix("MKioskTy")
    return int(digits) if digits.isdigit() and int(digits) in BY_NUMBER else None


def _count(name: str, value: Any, issues: list[Issue]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        issues.append(Issue("invalid", f"{name} must be a whole number or null", (name,)))
        return None
    low, high = _COUNT_RANGE
    if not low <= value <= high:
        issues.append(Issue("invalid", f"{name} must be within {low}..{high}", (name,)))
        return None
    return value


def _flag(name: str, value: Any, issues: list[Issue]) -> bool | None:
    if isinstance(value, (str, bool)) or value is None:
        if value in _FLAG_TRUE:
            return True
        if value in _FLAG_FALSE:
            return False
        if value in _FLAG_UNKNOWN:
            return None
    issues.append(Issue("invalid", f"{name} must be Y, N or null", (name,)))
    return None


def _on_call(value: Any, issues: list[Issue]) -> dict[str, bool | None]:
    if not isinstance(value, dict):
        issues.append(Issue("invalid", "on_call must map department codes to true/false", ("on_call",)))  # fmt: skip
        return {}
    out: dict[str, bool | None] = {}
    for department, present in value.items():
        where = f"on_call.{department}"
        if not (isinstance(department, str) and len(department) == 2 and department.isdigit()):
            issues.append(Issue("invalid", "on_call keys are 2-digit HIRA department codes", (where,)))  # fmt: skip
        elif present is None or isinstance(present, bool):
            out[department] = present
        else:
            issues.append(Issue("invalid", f"{where} must be true, false or null", (where,)))
    return out


def _parse_time(
    value: Any, received: dt.datetime, issues: list[Issue], *, check_future: bool
) -> dt.datetime:
    if value is None:
        return received
    parsed = _time_of(value)
    if parsed is None:
        issues.append(Issue("invalid", "hvidate must be ISO 8601 or YYYYMMDDHHMMSS", ("hvidate",)))  # fmt: skip
        return received
    if check_future and parsed - received > FUTURE_TOLERANCE:
        issues.append(Issue("invalid", "hvidate is in the future", ("hvidate",)))
    return parsed


def _time_of(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        if len(value) == 14 and value.isdigit():  # NEMC hvidate, local time (KST)
            return dt.datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=KST)
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
