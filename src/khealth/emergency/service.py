"""Use cases of live status and destination ranking, over the ports (no HTTP, no SQL).

Who may report a facility's status: its own hospital — a ``hospital-system`` or ``clinician``
caller whose token names that facility — or a ``system/`` token (the simulator, a feed importer).
Anyone with a valid token may read status (capacity is not personal data).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import orjson

from khealth.access.context import AccessContext, Role
from khealth.core.errors import Forbidden, Issue, NotFound
from khealth.emergency.destination import POLICY, Ranking, RankPolicy, RoutingNeed, rank
from khealth.emergency.facilities import EmergencyFacility, FacilityDirectory
from khealth.emergency.ports import EmergencyStore, StatusRecord
from khealth.emergency.status import FacilityStatus, parse_status
from khealth.emergency.travel import EstimatedTravelTime, Point, TravelTimeProvider
from khealth.records.service import Records

_REPORTING_ROLES = (Role.HOSPITAL_SYSTEM, Role.CLINICIAN)
HISTORY_MAX = 500


def to_datetime(us: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(us / 1_000_000, tz=dt.UTC)


def to_us(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def is_system(ctx: AccessContext) -> bool:
    return any(scope.context == "system" for scope in ctx.scopes)


def speaks_for(ctx: AccessContext, facility_id: str) -> bool:
    """The facility's own hospital, or a system token."""
    return is_system(ctx) or (ctx.role in _REPORTING_ROLES and ctx.facility == facility_id)


def require_speaks_for(ctx: AccessContext, facility_id: str) -> None:
    if not speaks_for(ctx, facility_id):
        raise Forbidden([Issue("forbidden", "only the facility's own hospital may do this")])


class EmergencyService:
    def __init__(
        self,
        records: Records,
        store: EmergencyStore,
        directory: FacilityDirectory,
        travel: TravelTimeProvider | None = None,
        policy: RankPolicy = POLICY,
    ) -> None:
        self.records = records
        self.store = store
        self.directory = directory
        self.travel: TravelTimeProvider = travel or EstimatedTravelTime()
        self.policy = policy

    def now(self) -> dt.datetime:
        return to_datetime(self.records.clock.now_us())

    def facility(self, facility_id: str) -> EmergencyFacility:
        found = self.directory.get(facility_id)
        if found is None:
            raise NotFound([Issue("not-found", "no emergency facility has that id")])
        return found

    # -- live status -------------------------------------------------------------------
    def update_status(self, ctx: AccessContext, facility_id: str, body: Any) -> FacilityStatus:
        self.facility(facility_id)
        require_speaks_for(ctx, facility_id)
        status = parse_status(facility_id, body, self.now())
        self.store.add_status(
            StatusRecord(0, facility_id, to_us(status.observed_at), to_us(status.recorded_at),
                         orjson.dumps(status.to_json()))
        )  # fmt: skip
        return status

    def status(self, facility_id: str) -> FacilityStatus | None:
        self.facility(facility_id)
        found = self.store.latest_statuses([facility_id]).get(facility_id)
        return _decode(found) if found is not None else None

    def history(self, facility_id: str, limit: int, before_seq: int | None) -> list[tuple[int, FacilityStatus]]:  # fmt: skip
        self.facility(facility_id)
        records = self.store.status_history(
            facility_id, min(max(1, limit), HISTORY_MAX), before_seq
        )
        return [(r.seq, _decode(r)) for r in records]

    def live_statuses(self) -> dict[str, FacilityStatus]:
        return {fid: _decode(r) for fid, r in self.store.latest_statuses().items()}

    # -- ranking -----------------------------------------------------------------------
    def recent_declines(self, now: dt.datetime) -> Mapping[str, int]:
        return self.store.declines_since(to_us(now - self.policy.decline_lookback))

    def recommend(
        self,
        need: RoutingNeed,
        origin: Point,
        *,
        exclude: frozenset[str] = frozenset(),
        top: int = 5,
    ) -> Ranking:
        now = self.now()
        return rank(
            self.directory.all(), self.live_statuses(), self.recent_declines(now), need, origin,
            now, self.travel, exclude=exclude, top=top, policy=self.policy,
        )  # fmt: skip


def _decode(record: StatusRecord) -> FacilityStatus:
    status = parse_status(
        record.facility_id, orjson.loads(record.content), to_datetime(record.recorded), stored=True
    )
    return status


def status_json(status: FacilityStatus, now: dt.datetime) -> dict[str, Any]:
    """The wire form of a stored status, with when it was received and whether it is stale."""
    return {
        "facility_id": status.facility_id,
        **status.to_json(),
        "recorded": status.recorded_at.isoformat(),
        "stale": status.is_stale(now),
        "age_minutes": round(status.age(now).total_seconds() / 60, 1),
    }
