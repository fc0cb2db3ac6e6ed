"""Prehospital triage: from a crew's assessment, a Pre-KTAS-style level 1-5 with the rules that
fired, NEWS2 with its response band, qSOFA, the shock index, and the suspected time-critical
pathways with the capabilities they need and their treatment windows.

The rules are versioned data (:mod:`khealth.emergency.rules`); the predicates they name are in
:mod:`.checks`. As in KTAS, the most urgent level any rule assigns wins (Pre-KTAS, Lee 2024).
Sources and approximations: ``docs/emergency-triage.md``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from khealth.emergency.model import Assessment, FiredRule, Pathway, TriageResult
from khealth.emergency.rules import (
    ComplaintTable,
    Rule,
    RuleSet,
    complaints_v1,
    fill,
    pre_ktas_v1,
)
from khealth.emergency.triage import limits
from khealth.emergency.triage.checks import CHECKS
from khealth.emergency.triage.errors import AssessmentError
from khealth.emergency.triage.facts import Facts, gather
from khealth.emergency.triage.windows import tightest, time_windows

__all__ = ["AssessmentError", "assess"]

DEFAULT_CHECK = "nothing_else"
COMPLAINT_CHECK = "complaint_default"  # its level is the complaint category's default


def assess(
    assessment: Assessment,
    now: datetime | None = None,
    *,
    rules: RuleSet | None = None,
    complaints: ComplaintTable | None = None,
) -> TriageResult:
    """Triage one assessment at ``now`` (default: the current time; timezone-aware).

    Raises :class:`AssessmentError` (422) naming a field out of its plausible range."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    limits.check(assessment, now)
    rules = rules or pre_ktas_v1()
    complaints = complaints or complaints_v1()
    facts = gather(assessment, now, rules, complaints)
    levels = _level_rules(facts, rules)
    pathway_rules, pathways = _pathways(facts, rules)
    windows, window_warnings = time_windows(pathways, facts, rules)
    needs = frozenset(c for p in pathways for c in rules.needs.get(p, frozenset()))
    return TriageResult(
        ktas_level=min(r.level for r in levels if r.level is not None),
        news2=facts.scored.news2, qsofa=facts.scored.qsofa,
        shock_index=facts.scored.shock_index,
        pathway=pathways[0] if pathways else None, pathways=pathways,
        rules=levels + pathway_rules, needs=needs,
        time_window_minutes=tightest(windows), time_windows=windows,
        complaint_category=facts.category_id, assessed_at=now,
        warnings=facts.scored.warnings + _warnings(facts) + window_warnings,
        ruleset=f"{rules.name} {rules.version}; chief_complaints {complaints.version}",
    )  # fmt: skip


def _fires(rule: Rule, facts: Facts) -> bool:
    return CHECKS[rule.check](facts, rule.params)


def _level_rules(facts: Facts, rules: RuleSet) -> tuple[FiredRule, ...]:
    """Every level rule that fired, most urgent first; the default rule when none did."""
    candidates = [r for r in rules.of_kind("level") if r.check != DEFAULT_CHECK]
    fired = [_fired(r, facts) for r in candidates if _fires(r, facts)]
    if not fired:
        fired = [_fired(r, facts) for r in rules.of_kind("level") if r.check == DEFAULT_CHECK]
    return tuple(sorted(fired, key=lambda r: r.level or 5))


def _fired(rule: Rule, facts: Facts) -> FiredRule:
    level, text_ko, text_en = rule.level, rule.text_ko, rule.text_en
    if rule.check == COMPLAINT_CHECK and facts.category is not None:
        category = facts.category
        level = category.default_level
        values = {"category_ko": category.ko, "category_en": category.en, "level": level}
        text_ko, text_en = fill(text_ko, values), fill(text_en, values)
    return FiredRule(rule.id, rule.version, text_ko, text_en, rule.source, level, rule.pathway)


def _pathways(facts: Facts, rules: RuleSet) -> tuple[tuple[FiredRule, ...], tuple[Pathway, ...]]:
    fired = tuple(_fired(r, facts) for r in rules.of_kind("pathway") if _fires(r, facts))
    suspected = {r.pathway for r in fired if r.pathway is not None}
    if Pathway.STROKE_LVO in suspected:
        suspected.discard(Pathway.STROKE)  # LVO is the more specific stroke pathway
    ordered = tuple(p for p in rules.pathway_order if p in suspected)
    return fired, ordered


def _warnings(facts: Facts) -> tuple[str, ...]:
    a = facts.assessment
    notes = {
        "GCS approximated from AVPU": facts.gcs_from_avpu and a.consciousness != "A",
        "pain site unknown: scored as central": a.pain is not None and a.pain > 0
        and facts.pain_site is None,
        "stroke onset unknown: record last known well": facts.stroke_suspected
        and facts.minutes_since_onset is None,
        "stroke onset over 24 h ago: outside reperfusion windows": facts.stroke_suspected
        and (facts.minutes_since_onset or 0) > 24 * 60,
        "age unknown: adult trauma blood-pressure criteria used": facts.injured and a.age is None,
        "chest pain without a 12-lead ECG: record one": facts.category_id == "chest_pain"
        and a.stemi_ecg is None,
    }  # fmt: skip
    return tuple(text for text, applies in notes.items() if applies)
