"""Ambulance travel time: a provider interface and the default estimate from coordinates.

**Interface.** :class:`TravelTimeProvider` answers, for one origin and many destinations, the
driving minutes at a moment (one-to-many, because ranking asks for every facility at once and
routing engines answer that in one call).

**Default: :class:`EstimatedTravelTime`.** ``minutes = overhead + haversine_km × detour / speed``.

* ``detour`` = 1.35: the ratio of road to straight-line distance. Published circuity factors for
  road networks lie around 1.2–1.4 (Ballou, Rahardja & Sakai, Transp Res A 2002 — country
  averages; Boscoe, Henry & Zdeb, Prof Geogr 2012 — driving vs straight-line distance to US
  hospitals, ≈1.4 for short urban trips). 1.35 sits between; a Korean value is not published
  (ASSUMPTION).
* ``speed`` by hour of day in Korean standard time, for an ambulance under lights and siren in a
  city of Gwangju's size: 28 km/h at the peaks (07–09 h, 17–19 h), 35 km/h by day, 45 km/h at
  night (22–06 h). Ordinary car speeds on Korean city arterials are ≈ 20–30 km/h at the peaks
  (ASSUMPTION, not measured here); ambulances gain on that but not on the motorway.
* ``overhead`` = 1.5 minutes: leaving the scene road and pulling into the ER bay.

**Calibrating it.** With real run sheets (scene departure, hospital arrival, both coordinates)
fit ``detour/speed`` per hour band by least squares on ``minutes − overhead ~ km``; the constants
above are the prior to replace. Until then the estimate is labelled as such in explanations.

**Production: an OSRM adapter (interface only, not built here).** ``OsrmTravelTime(base_url)``
would implement :class:`TravelTimeProvider` with one call to OSRM's table service,
``GET {base}/table/v1/driving/{lon,lat};{lon,lat}...?sources=0&annotations=duration``, built from
a Gwangju ``.osm.pbf`` (``osrm-extract -p car.lua``, ``osrm-partition``, ``osrm-customize``,
``osrm-routed --algorithm mld``), returning ``durations[0][1:]`` / 60 × an ambulance factor (OSRM's
car profile assumes ordinary traffic), falling back to :class:`EstimatedTravelTime` for a
destination OSRM cannot reach (``null``) or when the engine does not answer within 200 ms.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

EARTH_RADIUS_KM = 6371.0088
KST = dt.timezone(dt.timedelta(hours=9))


@dataclass(frozen=True, slots=True)
class Point:
    latitude: float
    longitude: float


class TravelTimeProvider(Protocol):
    def minutes(self, origin: Point, destinations: Sequence[Point], at: dt.datetime) -> list[float]:
        """Driving minutes from ``origin`` to each destination, leaving at ``at``."""
        ...


def haversine_km(a: Point, b: Point) -> float:
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlon = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class EstimatedTravelTime:
    """Haversine × detour at a time-of-day speed (see the module docstring for the calibration)."""

    detour: float = 1.35
    peak_kmh: float = 28.0
    day_kmh: float = 35.0
    night_kmh: float = 45.0
    overhead_minutes: float = 1.5

    def speed_kmh(self, at: dt.datetime) -> float:
        hour = at.astimezone(KST).hour
        if hour in (7, 8, 17, 18):
            return self.peak_kmh
        if hour >= 22 or hour < 6:
            return self.night_kmh
        return self.day_kmh

    def minutes(self, origin: Point, destinations: Sequence[Point], at: dt.datetime) -> list[float]:
        per_km = 60.0 * self.detour / self.speed_kmh(at)
        return [self.overhead_minutes + haversine_km(origin, d) * per_km for d in destinations]
