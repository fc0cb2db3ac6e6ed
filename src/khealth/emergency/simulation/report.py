"""The simulation's report: Markdown (assumptions written down), JSON, and a console table.

Input is :meth:`SimulationResult.to_json` plus, optionally, how the run went (command, machine,
seconds per simulated day) and sensitivity rows; the figures themselves are deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from khealth.emergency.simulation import SimulationConfig, SimulationResult, simulate
from khealth.emergency.simulation.metrics import PATHWAY_NAMES, PATHWAYS

#: Alternative assumptions the report re-runs both policies under (name, field, value).
SENSITIVITY: tuple[tuple[str, str, Any], ...] = (
    ("12-lead ECG on 20 % of chest pains", "ecg_recorded", 0.2),
    ("12-lead ECG on 90 % of chest pains", "ecg_recorded", 0.9),
    ("acceptance flags an hour old half the time", "flags_lag_share", 0.5),
    ("base refusal 15 %", "base_refusal", 0.15),
    ("situation centre steps in after 3 declines", "max_inquiries", 3),
    ("door-in-door-out 30 min (guideline goal)", "door_in_door_out_minutes", 30.0),
)


def sensitivity(config: SimulationConfig) -> list[dict[str, Any]]:
    """Both policies under each alternative assumption: the headline cuts."""
    rows = []
    for label, name, value in SENSITIVITY:
        variant = replace(config, assumptions=replace(config.assumptions, **{name: value}))
        compared = simulate(variant).to_json()["comparison"]
        rows.append({"label": label, "field": name, "value": value, **compared})
    return rows


def markdown(data: Mapping[str, Any], run: Mapping[str, Any] | None = None) -> str:
    policies: Mapping[str, Any] = data["policies"]
    names = list(policies)
    lines = ["# Emergency destination simulation: nearest ER vs recommended", ""]
    lines += _intro(data, run)
    lines += _headline(policies, names)
    if "comparison" in data:
        lines += _targets(data["comparison"])
    lines += _declines(policies, names)
    lines += _crowding(policies, names)
    if data.get("sensitivity"):
        lines += _sensitivity(data["sensitivity"])
    lines += _assumptions(data["assumptions"])
    return "\n".join(lines) + "\n"


def _intro(data: Mapping[str, Any], run: Mapping[str, Any] | None) -> list[str]:
    c = data["config"]
    out = [
        f"{c['days']} simulated days of the synthetic Gwangju (seed {c['seed']}, the days before "
        f"{c['today']}, population {c['population']:,}, {c['facilities']} emergency facilities), "
        "every incident replayed under each policy with the same crew findings and hospital draws.",
        "",
    ]  # fmt: skip
    if run:
        out += [f"- command: `{run['command']}`", f"- machine: {run['machine']}",
                f"- run time: {run['seconds']:.1f} s for {c['days']} days × {len(data['policies'])} "
                f"policies = **{run['seconds_per_day']:.2f} s per simulated day** (both policies)", ""]  # fmt: skip
    return out


def _headline(policies: Mapping[str, Any], names: Sequence[str]) -> list[str]:
    out = ["## Time to definitive care (minutes from the 119 call)", "",
           "| pathway | " + " | ".join(f"{n} n | {n} median | {n} p90" for n in names) + " |",
           "|---|" + "---:|" * (3 * len(names))]  # fmt: skip
    for p in PATHWAYS:
        cells = []
        for n in names:
            t = policies[n]["pathways"][p]
            cells += [str(t["n"]), _num(t["median_minutes"]), _num(t["p90_minutes"])]
        out.append(f"| {PATHWAY_NAMES[p]} | " + " | ".join(cells) + " |")
    out += ["", "| measure | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    rows: tuple[tuple[str, Callable[[Mapping[str, Any]], str]], ...] = (
        ("incidents", lambda m: str(m["incidents"])),
        ("reached a hospital", lambda m: str(m["reached_hospital"])),
        ("failed (no hospital)", lambda m: str(m["failed"])),
        (
            "capable ER first time (first ER asked accepted and could treat)",
            lambda m: _pct(m["capable_first_time"]),
        ),
        (
            "arrived first at a capable ER (no secondary transfer)",
            lambda m: _pct(m["arrived_first_at_capable"]),
        ),
        ("secondary transfers", lambda m: str(m["secondary_transfers"])),
        (
            "designated by the situation centre after repeated declines",
            lambda m: str(m["forced"]),
        ),
        ("declines per patient", lambda m: _num(m["declines"]["per_patient"], 3)),
        (
            "STEMI: first contact to PCI ≤ 90 min",
            lambda m: _pct(m["stemi_fmc_to_device_within_90"]),
        ),
    )
    for label, cell in rows:
        out.append(f"| {label} | " + " | ".join(cell(policies[n]) for n in names) + " |")
    out += ["", "By true pathway: capable first time / secondary transfers / declines per patient", "",
            "| pathway | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]  # fmt: skip
    for p in PATHWAYS:
        cells = [_pathway_cell(policies[n]["pathways"][p]) for n in names]
        out.append(f"| {PATHWAY_NAMES[p]} | " + " | ".join(cells) + " |")
    return [*out, ""]


def _pathway_cell(t: Mapping[str, Any]) -> str:
    return f"{_pct(t['capable_first_time'])} / {t['secondary_transfers']} / {_num(t['declines_per_patient'], 2)}"  # fmt: skip


def _targets(c: Mapping[str, Any]) -> list[str]:
    verdict = c["targets"]
    out = ["## Targets (issue 6)", "", "| target | result | met |", "|---|---:|---|",
           f"| declines cut ≥ 80 % | {_pct(c['declines_cut'])} | {_yes(verdict['declines_cut_at_least_80_percent'])} |"]  # fmt: skip
    for p in ("stemi", "stroke_lvo", "major_trauma"):
        out.append(f"| {PATHWAY_NAMES[p]} median time cut ≥ 20 % | {_pct(c['median_cut'][p])} | "
                   f"{_yes(verdict[f'{p}_median_cut_at_least_20_percent'])} |")  # fmt: skip
    out.append(f"| (all patients, median; no target) | {_pct(c['median_cut']['all'])} | – |")
    return [*out, ""]


def _declines(policies: Mapping[str, Any], names: Sequence[str]) -> list[str]:
    reasons = sorted({r for n in names for r in policies[n]["declines"]["by_reason"]})
    out = ["## Declines", "", "| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    out.append("| total | " + " | ".join(str(policies[n]["declines"]["total"]) for n in names) + " |")  # fmt: skip
    out.append("| patients declined at least once | " + " | ".join(_pct(policies[n]["declines"]["patients_declined_share"]) for n in names) + " |")  # fmt: skip
    out.append("| most for one patient | " + " | ".join(str(policies[n]["declines"]["max_for_one_patient"]) for n in names) + " |")  # fmt: skip
    for reason in reasons:
        out.append(f"| reason: {reason} | " + " | ".join(str(policies[n]["declines"]["by_reason"].get(reason, 0)) for n in names) + " |")  # fmt: skip
    return [*out, ""]


def _crowding(policies: Mapping[str, Any], names: Sequence[str]) -> list[str]:
    out = ["## ER crowding", "", "| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    rows: tuple[tuple[str, Callable[[Mapping[str, Any]], str]], ...] = (
        ("mean occupancy ratio", lambda c: _num(c["mean_occupancy_ratio"], 3)),
        ("max occupancy ratio", lambda c: _num(c["max_occupancy_ratio"], 3)),
        ("ER-hours over capacity", lambda c: _num(c["er_hours_over_capacity"])),
        ("share of ER time over capacity", lambda c: _pct(c["share_of_er_time_over_capacity"])),
        (
            "busiest ER (mean ratio)",
            lambda c: ", ".join(
                f"{b['facility_id']} {b['mean_occupancy_ratio']:.3f}" for b in c["busiest"][:1]
            ),
        ),
    )
    for label, cell in rows:
        out.append(f"| {label} | " + " | ".join(cell(policies[n]["crowding"]) for n in names) + " |")  # fmt: skip
    return [*out, ""]


def _sensitivity(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    out = ["## Sensitivity (recommended vs nearest under other assumptions)", "",
           "| assumption changed | declines cut | STEMI | stroke LVO | major trauma | all |",
           "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        m = r["median_cut"]
        out.append(f"| {r['label']} (`{r['field']}` = {r['value']}) | {_pct(r['declines_cut'])} | "
                   f"{_pct(m['stemi'])} | {_pct(m['stroke_lvo'])} | {_pct(m['major_trauma'])} | {_pct(m['all'])} |")  # fmt: skip
    return [*out, "", "Columns after the declines cut are the cuts in median time to definitive care.", ""]  # fmt: skip


def _assumptions(rows: Mapping[str, str]) -> list[str]:
    out = ["## Assumptions (values used in this run)", "",
           "See `src/khealth/emergency/simulation/assumptions.py` for the source of each number.", "",
           "| name | value |", "|---|---|"]  # fmt: skip
    out += [f"| `{k}` | {v} |" for k, v in rows.items()]
    return [*out, ""]


def console(data: Mapping[str, Any]) -> str:
    """A plain-text side-by-side table for the terminal."""
    policies: Mapping[str, Any] = data["policies"]
    names = list(policies)
    width = 14
    head = f"{'':34}" + "".join(f"{n:>{width}}" for n in names)
    lines = [head, "-" * len(head)]
    for p in PATHWAYS:
        cells = [f"{_num(policies[n]['pathways'][p]['median_minutes'])}/{_num(policies[n]['pathways'][p]['p90_minutes'])}" for n in names]  # fmt: skip
        lines.append(f"{PATHWAY_NAMES[p] + ' median/p90 min':34}" + "".join(f"{c:>{width}}" for c in cells))  # fmt: skip
    for label, key in (("capable first time", "capable_first_time"),
                       ("arrived first at capable", "arrived_first_at_capable")):  # fmt: skip
        lines.append(f"{label:34}" + "".join(f"{_pct(policies[n][key]):>{width}}" for n in names))
    lines.append(f"{'declines per patient':34}" + "".join(f"{_num(policies[n]['declines']['per_patient'], 3):>{width}}" for n in names))  # fmt: skip
    lines.append(f"{'mean / max occupancy ratio':34}" + "".join(f"{_num(policies[n]['crowding']['mean_occupancy_ratio'], 2) + '/' + _num(policies[n]['crowding']['max_occupancy_ratio'], 2):>{width}}" for n in names))  # fmt: skip
    lines.append(f"{'ER-hours over capacity':34}" + "".join(f"{_num(policies[n]['crowding']['er_hours_over_capacity']):>{width}}" for n in names))  # fmt: skip
    lines.append(f"{'incidents (failed)':34}" + "".join(f"{str(policies[n]['incidents']) + ' (' + str(policies[n]['failed']) + ')':>{width}}" for n in names))  # fmt: skip
    if "comparison" in data:
        t = data["comparison"]["targets"]
        lines.append("targets met: " + ", ".join(f"{k}={_yes(v)}" for k, v in t.items()))
    return "\n".join(lines)


def result_json(result: SimulationResult, run: Mapping[str, Any] | None = None,
                sensitivity_rows: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    data = result.to_json()
    if sensitivity_rows:
        data["sensitivity"] = list(sensitivity_rows)
    if run:
        data["run"] = dict(run)
    return data


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _yes(value: bool | None) -> str:
    return "n/a" if value is None else ("yes" if value else "**no**")
