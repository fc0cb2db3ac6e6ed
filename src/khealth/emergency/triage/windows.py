"""Treatment windows of the suspected pathways: what is left of each at the assessment time.

A window starts at symptom onset (stroke: last known well) or at first medical contact (STEMI;
the assessment time when the crew has not recorded it). A pathway with several windows (stroke
LVO: 6 h, then 6-24 h with imaging selection) uses the first one still open.
"""

from __future__ import annotations

from collections.abc import Sequence

from khealth.emergency.model import Pathway, TimeWindow
from khealth.emergency.rules import RuleSet, WindowSpec
from khealth.emergency.triage.facts import Facts


def time_windows(
    pathways: Sequence[Pathway], facts: Facts, rules: RuleSet
) -> tuple[tuple[TimeWindow, ...], tuple[str, ...]]:
    windows: list[TimeWindow] = []
    warnings: list[str] = []
    for pathway in pathways:
        specs = rules.windows.get(pathway, ())
        if not specs:
            continue
        window = _open(pathway, specs, facts)
        if window is None:
            warnings.append(f"{pathway}: beyond the treatment window")
        else:
            windows.append(window)
    return tuple(windows), tuple(warnings)


def tightest(windows: Sequence[TimeWindow]) -> int | None:
    known = [w.remaining_minutes for w in windows if w.remaining_minutes is not None]
    return min(known) if known else None


def _elapsed(spec: WindowSpec, facts: Facts) -> float | None:
    if spec.starts == "onset":
        return facts.minutes_since_onset
    contact = facts.assessment.first_contact
    return 0.0 if contact is None else max(0.0, (facts.now - contact).total_seconds() / 60)


def _open(pathway: Pathway, specs: Sequence[WindowSpec], facts: Facts) -> TimeWindow | None:
    for spec in specs:
        elapsed = _elapsed(spec, facts)
        if elapsed is None:
            return TimeWindow(pathway, spec.minutes, spec.starts, None, spec.text_en)
        if elapsed < spec.minutes:
            remaining = int(spec.minutes - elapsed)
            return TimeWindow(pathway, spec.minutes, spec.starts, remaining, spec.text_en)
    return None
