"""The model card (Mitchell et al., "Model Cards for Model Reporting", FAT* 2019), generated from
the registry entry so that its figures are the measured ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from khealth.cds.training import deid
from khealth.cds.training.dataset import MIN_AGE
from khealth.cds.training.explain import __doc__ as EXPLAIN_DOC
from khealth.cds.training.pipeline import MODEL_NAMES, TrainingResult

_MODEL_TITLES = {
    "boosted": "gradient-boosted trees (HistGradientBoostingClassifier)",
    "logistic": "logistic regression (L2, standardised, median-imputed with missing indicators)",
}


def _fmt(value: object, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _performance(metrics: Mapping[str, Any]) -> list[str]:
    rows = []
    for name in MODEL_NAMES:
        m = metrics["held_out"][name]
        rows.append(
            [name, _fmt(m["auroc"]), _fmt(m["auprc"]), _fmt(m["brier"], 4),
             _fmt(m["calibration_slope"], 2), _fmt(m["calibration_intercept"], 2),
             _fmt(m["mean_predicted_risk"], 4), _fmt(m["observed_risk"], 4)]
        )  # fmt: skip
    header = ["model", "AUROC", "AUPRC", "Brier", "calibration slope",
              "calibration intercept", "mean predicted risk", "observed risk"]  # fmt: skip
    return _table(header, rows)


def _calibration(metrics: Mapping[str, Any]) -> list[str]:
    tables = {name: metrics["held_out"][name]["calibration_table"] for name in MODEL_NAMES}
    rows = []
    for i in range(len(tables["boosted"])):
        row = [str(i + 1), _fmt(tables["boosted"][i]["n"], 0)]
        for name in MODEL_NAMES:
            group = tables[name][i]
            row += [_fmt(group["predicted"], 4), _fmt(group["observed"], 4)]
        rows.append(row)
    header = ["tenth (by predicted risk)", "n", "boosted predicted", "boosted observed",
              "logistic predicted", "logistic observed"]  # fmt: skip
    return _table(header, rows)


def _subgroups(metrics: Mapping[str, Any]) -> list[str]:
    rows = [
        [s["by"], s["group"], str(s["n"]), str(s["events"]),
         _fmt(s["auroc_boosted"]), _fmt(s["auroc_logistic"])]
        for s in metrics["subgroups"]
    ]  # fmt: skip
    return _table(["by", "group", "n", "events", "AUROC boosted", "AUROC logistic"], rows)


def _verdict_sentence(c: Mapping[str, Any], name: str) -> str:
    verdict = c[f"{name}_verdict"]
    low, high = c[f"{name}_minus_baseline_auroc_ci95"]
    interval = f"(AUROC difference 95 % CI {_fmt(low)} to {_fmt(high)})"
    target = c["baseline"]
    if verdict == "better":
        return f"The {name} model **beats** {target} on these people {interval}."
    if verdict == "worse":
        return f"The {name} model **is worse than** {target} on these people {interval}."
    if verdict == "not estimable":
        return f"The {name} model cannot be compared with {target}: too few events."
    return (
        f"The {name} model **does not beat** {target} on these people: the difference is "
        f"not significant {interval}."
    )


def _comparisons(metrics: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    for c in metrics["comparisons"]:
        kind = "published equation" if c["published"] else "reference"
        lines += [f"**{c['baseline']}** ({kind}; {c['source']})", ""]
        lines += _table(
            ["score", "n", "events", "AUROC", "AUPRC"],
            [[c["baseline"], str(c["n"]), str(c["events"]), _fmt(c["baseline_auroc"]),
              _fmt(c["baseline_auprc"])]]
            + [[name, str(c["n"]), str(c["events"]), _fmt(c[f"{name}_auroc"]),
                _fmt(c[f"{name}_auprc"])] for name in MODEL_NAMES],
        )  # fmt: skip
        lines += [""] + [f"- {_verdict_sentence(c, name)}" for name in MODEL_NAMES] + [""]
    return lines


def _explanations(metrics: Mapping[str, Any]) -> list[str]:
    lines = [(EXPLAIN_DOC or "").split("\n\n")[1].strip(), ""]
    for name in MODEL_NAMES:
        summary = metrics["explanations"][name]
        top = ", ".join(f"{t} {_fmt(v)}" for t, v in summary["mean_absolute"])
        example = summary["highest_risk_example"]
        contributions = ", ".join(f"{t} {v:+.3f}" for t, v in example["top_contributions"])
        lines += [
            f"- **{name}**: mean |contribution| on the held-out people (log-odds): {top}.",
            f"  Highest-risk held-out person (risk {_fmt(example['risk'])}): {contributions}.",
        ]
    return lines


def render(result: TrainingResult, version: str, run: Mapping[str, str]) -> str:
    m, data = result.metrics, result.config.data
    window = data.window()
    cohort = m["cohort"]
    lines = [
        f"# Model card: {m['title']} (`{result.outcome}`)",
        "",
        "Generated by `khealth cds train` from registry entry "
        f"`{result.outcome}/{version}`; do not edit by hand — re-run the command below.",
        "",
        "## Intended use",
        "",
        "Decision support: to rank adults by their five-year risk so that a clinician or a "
        "citizen's health report can suggest screening and prevention. **Not a diagnosis**, and "
        "not a substitute for clinical judgement. Trained on synthetic data only: it must not "
        "be used for real patients until retrained and validated on real, de-identified city "
        "records. Out of scope: people under 20, people who already have the outcome.",
        "",
        "## Data",
        "",
        f"- Source: the synthetic Gwangju (`khealth.synth`), {data.citizens:,} citizens, seed "
        f"{data.seed}, generator 'today' {data.synth().today}; generated in-process, streamed.",
        f"- Index date {window.index} (5 years before 'today'); features from the record before "
        f"it; outcomes in the {data.horizon_years} years after it (to {window.end}).",
        f"- Base population: alive and ≥ {MIN_AGE} years at the index date, at least one national "
        "checkup before it.",
        f"- Outcome: {m['definition']}.",
        f"- Cohort: {cohort['n']:,} people, {cohort['events']:,} events; stratified split by "
        f"person (seed {data.seed}): {cohort['train']:,} training ({m['train_events']:,} events), "
        f"{cohort['held_out']:,} held out.",
        "- De-identification: no names, resident numbers, CI, phones, MRNs or facility ids; the "
        "person key replaced by an HMAC-SHA-256 pseudonym under a project key kept apart from the "
        f"data; birth date → age at the index date (≥ {deid.AGE_CEILING} pooled); address → "
        "district; dates → days relative to the index date.",
        f"- Data hash (SHA-256 of the de-identified table): `{result.data_hash}`.",
        f"- Features ({len(result.features)}): {', '.join(result.features)}."
        + (
            f" Unused here (never recorded or constant): {', '.join(m['features_unused'])}."
            if m["features_unused"]
            else ""
        ),
        "",
        "## Models",
        "",
    ]
    lines += [f"- **{name}**: {_MODEL_TITLES[name]}." for name in MODEL_NAMES]
    lines += [f"- Boosting stopped after {m['boosted_iterations']} trees (early stopping).", ""]
    lines += ["## Held-out performance", "", *_performance(m)]
    lines += [
        "",
        "Calibration slope and intercept come from logistic recalibration on the held-out "
        "people (slope 1 and intercept 0 are ideal; the intercept is calibration-in-the-large).",
        "",
        "## Calibration by tenths of predicted risk",
        "",
    ]
    lines += _calibration(m)
    lines += ["", "## Subgroups (held out)", "", "AUROC is shown only where a group has at "
              f"least {result.config.min_subgroup_events} events and non-events.", ""]  # fmt: skip
    lines += _subgroups(m)
    lines += ["", "## Comparison with the published score (same held-out people)", ""]
    lines += _comparisons(m)
    lines += ["## Explanations", "", *_explanations(m)]
    lines += ["", "## Limits", ""] + [f"- {limit}" for limit in LIMITS]
    lines += ["", "## Run", ""] + [f"- {key}: {value}" for key, value in run.items()]
    return "\n".join(lines) + "\n"


LIMITS = (
    "Synthetic data. In the generator a chronic condition's onset is drawn from its prevalence by "
    "age and sex alone (smoking only for COPD and lung cancer); glucose, blood pressure, lipids "
    "and creatinine shift only *after* a diagnosis, and BMI does not depend on it. So before the "
    "index date little but age and sex (and measurements that drift with age) carries "
    "information about the outcome; other apparent signal is noise. These "
    "figures measure the pipeline, not clinical validity; on real records the ranking of "
    "features and models may be entirely different.",
    "One stratified split, one seed; no external or temporal validation. Confidence intervals are "
    "given only for the comparisons with the published score (paired bootstrap, 200 resamples).",
    "Deaths in the horizon without the event count as non-events (no competing-risk or "
    "censoring model).",
    "Person linkage across facilities uses the generator's ground truth in place of the master "
    "patient index; the record is read in-process from the generator rather than through the "
    "records service, so no access control or audit applies to this synthetic extract. A real "
    "extract must go through the one door (records service, AccessContext, audit).",
    "Published scores are computed with stated substitutes for inputs the record lacks (see "
    "`khealth/cds/training/baselines.py`); PCE and Framingham predict 10-year risk of a "
    "different event set, so only their ranking is compared.",
    "Boosted-tree explanations are path attributions (not SHAP): additive and exact, but biased "
    "towards features split near the root.",
)
