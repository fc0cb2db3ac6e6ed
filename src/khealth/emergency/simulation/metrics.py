"""Figures of one policy's run, and the comparison against the targets of issue 6.

* **Time to definitive care**: from the 119 call to the start of definitive treatment (see
  :mod:`.crew` for what that is per condition), by the incident's *true* pathway; median and p90
  (linear interpolation between order statistics).
* **Capable first time**: the first ER asked accepted and could give the definitive care (no
  decline, no secondary transfer, not forced). **Arrived at a capable ER first**: no secondary
  transfer (declines on the phone allowed).
* **Declines per patient**: phone declines (a secondary transfer is counted separately).
* **Crowding**: each ER's occupancy ratio (patients / registered beds, background load plus
  simulated patients) sampled at every status tick; mean and max over ERs and ticks, ER-hours
  with occupancy above the registered beds and their share of all ER-hours.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from khealth.emergency.simulation.hospitals import Board
from khealth.emergency.simulation.model import Outcome

PATHWAYS = ("stemi", "stroke_lvo", "major_trauma", "all")
PATHWAY_NAMES = {
    "stemi": "STEMI", "stroke_lvo": "Stroke (LVO)", "major_trauma": "Major trauma", "all": "All",
}  # fmt: skip
TARGET_DECLINE_CUT = 0.80
TARGET_MEDIAN_CUT = 0.20


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def policy_metrics(outcomes: Sequence[Outcome], board: Board, interval_minutes: int) -> dict[str, Any]:  # fmt: skip
    reached = [o for o in outcomes if o.failed is None]
    return {
        "incidents": len(outcomes),
        "reached_hospital": len(reached),
        "failed": len(outcomes) - len(reached),
        "forced": sum(o.forced for o in outcomes),
        "secondary_transfers": sum(o.transferred for o in outcomes),
        "pathways": {p: _times(outcomes, p) for p in PATHWAYS},
        "capable_first_time": _share(sum(o.capable_first_time for o in outcomes), len(outcomes)),
        "arrived_first_at_capable": _share(sum(not o.transferred for o in reached), len(outcomes)),
        "stemi_fmc_to_device_within_90": _fmc_within(outcomes, 90.0),
        "declines": _declines(outcomes),
        "crowding": _crowding(board, interval_minutes),
    }


def _times(outcomes: Sequence[Outcome], pathway: str) -> dict[str, Any]:
    chosen = [o for o in outcomes if pathway == "all" or o.group == pathway]
    minutes = [m for o in chosen if (m := o.minutes_to_definitive) is not None]
    return {
        "n": len(chosen),
        "median_minutes": _round(statistics.median(minutes) if minutes else None),
        "p90_minutes": _round(percentile(minutes, 0.9)),
        "capable_first_time": _share(sum(o.capable_first_time for o in chosen), len(chosen)),
        "secondary_transfers": sum(o.transferred for o in chosen),
        "declines_per_patient": _round(sum(o.declines for o in chosen) / len(chosen), 3)
        if chosen
        else None,
    }


def _fmc_within(outcomes: Sequence[Outcome], limit: float) -> float | None:
    stemi = [o for o in outcomes if o.group == "stemi" and o.definitive_at is not None]
    hits = sum((o.definitive_at - o.first_contact).total_seconds() / 60 <= limit for o in stemi if o.definitive_at)  # fmt: skip
    return _share(hits, len(stemi))


def _declines(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    counts = [o.declines for o in outcomes]
    reasons = Counter(i.declined for o in outcomes for i in o.inquiries if i.declined)
    return {
        "total": sum(counts),
        "per_patient": _round(sum(counts) / len(counts), 3) if counts else None,
        "patients_declined_share": _share(sum(c > 0 for c in counts), len(counts)),
        "max_for_one_patient": max(counts, default=0),
        "by_reason": dict(sorted(reasons.items())),
    }


def _crowding(board: Board, interval_minutes: int) -> dict[str, Any]:
    samples = list(board.crowding.values())
    ticks = sum(c.ticks for c in samples)
    over = sum(c.over_ticks for c in samples)
    per_er = sorted(
        ((c.ratio_sum / c.ticks if c.ticks else 0.0, fid) for fid, c in board.crowding.items()),
        reverse=True,
    )
    return {
        "mean_occupancy_ratio": _round(sum(c.ratio_sum for c in samples) / ticks, 3)
        if ticks
        else None,
        "max_occupancy_ratio": _round(max((c.ratio_max for c in samples), default=0.0), 3),
        "er_hours_over_capacity": _round(over * interval_minutes / 60, 1),
        "share_of_er_time_over_capacity": _share(over, ticks),
        "busiest": [
            {"facility_id": fid, "mean_occupancy_ratio": _round(r, 3)} for r, fid in per_er[:3]
        ],
    }


def comparison(nearest: dict[str, Any], recommended: dict[str, Any]) -> dict[str, Any]:
    """Relative cuts of the recommended policy against nearest, and the targets' verdicts."""
    out: dict[str, Any] = {}
    out["declines_cut"] = _cut(nearest["declines"]["per_patient"], recommended["declines"]["per_patient"])  # fmt: skip
    out["median_cut"] = {
        p: _cut(
            nearest["pathways"][p]["median_minutes"], recommended["pathways"][p]["median_minutes"]
        )
        for p in PATHWAYS
    }
    out["targets"] = {
        "declines_cut_at_least_80_percent": _met(out["declines_cut"], TARGET_DECLINE_CUT),
        **{
            f"{p}_median_cut_at_least_20_percent": _met(out["median_cut"][p], TARGET_MEDIAN_CUT)
            for p in ("stemi", "stroke_lvo", "major_trauma")
        },
    }
    return out


def _cut(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or before == 0:
        return None
    return _round(1 - after / before, 3)


def _met(cut: float | None, target: float) -> bool | None:
    return None if cut is None else cut >= target


def _share(part: int, whole: int) -> float | None:
    return _round(part / whole, 3) if whole else None


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)
