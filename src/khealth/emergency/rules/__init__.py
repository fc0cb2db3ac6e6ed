"""Versioned triage rule data and its loader.

The rules are data (``pre_ktas_v1.json``, ``complaints_v1.json``): each rule has an id, a
version, the predicate that evaluates it (``check``, implemented in
:mod:`khealth.emergency.triage.checks`), its thresholds (``params``), a source citation, what
is approximated, and a sentence for the crew in Korean and English whose ``{placeholders}``
are filled from the params, so that a threshold is written once. Changing a threshold means
editing the data and raising the rule's version; a new ruleset version gets a new file.

Loading validates the shape and fails loudly: a malformed rule file must never triage anyone.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal, cast

from khealth.emergency.model import Capability, PainSite, Pathway

ParamValue = float | int | bool | str | tuple[str, ...]
WindowStart = Literal["first_medical_contact", "onset"]


class RuleDataError(ValueError):
    """The rule file is malformed (a programming error, caught by the tests)."""


class Params:
    """A rule's thresholds with typed getters."""

    def __init__(self, values: Mapping[str, ParamValue]) -> None:
        self._values = dict(values)

    def number(self, name: str) -> float:
        value = self._values[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RuleDataError(f"param {name} is not a number")
        return float(value)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self._values.get(name, default)
        if not isinstance(value, bool):
            raise RuleDataError(f"param {name} is not a boolean")
        return value

    def text(self, name: str) -> str:
        value = self._values[name]
        if not isinstance(value, str):
            raise RuleDataError(f"param {name} is not a string")
        return value

    def names(self, name: str) -> frozenset[str]:
        value = self._values.get(name, ())
        if not isinstance(value, tuple):
            raise RuleDataError(f"param {name} is not a list")
        return frozenset(value)

    def has(self, name: str) -> bool:
        return name in self._values

    def as_dict(self) -> dict[str, ParamValue]:
        return dict(self._values)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    version: str
    kind: Literal["level", "pathway"]
    check: str
    params: Params
    source: str  # the full citation
    text_ko: str
    text_en: str
    level: int | None = None
    pathway: Pathway | None = None
    approximation: str | None = None


@dataclass(frozen=True, slots=True)
class WindowSpec:
    minutes: int
    starts: WindowStart
    source: str
    text_en: str


@dataclass(frozen=True, slots=True)
class RuleSet:
    name: str
    version: str
    effective: str
    rules: tuple[Rule, ...]
    sources: Mapping[str, str]
    avpu_gcs: Mapping[str, int]
    pathway_order: tuple[Pathway, ...]
    needs: Mapping[Pathway, frozenset[Capability]]
    windows: Mapping[Pathway, tuple[WindowSpec, ...]]

    def of_kind(self, kind: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.kind == kind)

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


@dataclass(frozen=True, slots=True)
class ComplaintCategory:
    id: str
    ko: str
    en: str
    default_level: int | None
    pain_site: PainSite | None
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ComplaintTable:
    version: str
    source: str
    categories: tuple[ComplaintCategory, ...]

    def categorise(self, complaint: str | None) -> ComplaintCategory | None:
        """The first category (in table order) one of whose terms occurs in the complaint,
        ignoring case and whitespace."""
        if not complaint:
            return None
        text = normalise(complaint)
        for category in self.categories:
            if any(term in text for term in category.terms):
                return category
        return None


def normalise(text: str) -> str:
    return "".join(text.split()).casefold()


class _KeepMissing(dict[str, object]):
    """Leaves ``{name}`` in place when a text names something filled in later."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(template: str, values: Mapping[str, object]) -> str:
    shown = {k: _shown(v) for k, v in values.items()}
    return string.Formatter().vformat(template, (), _KeepMissing(shown))


def _shown(value: object) -> object:
    # 1.0 stays "1.0" (a shock index), 38.0 stays "38.0" (a temperature); 3.05 as written.
    return f"{value:g}" if isinstance(value, float) and not value.is_integer() else value


def _read(name: str) -> dict[str, Any]:
    text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise RuleDataError(f"{name}: not a JSON object")
    return data


def _params(raw: Mapping[str, Any]) -> Params:
    return Params({k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})


def _rule(raw: Mapping[str, Any], sources: Mapping[str, str]) -> Rule:
    try:
        params = _params(raw["params"])
        level, pathway = raw.get("level"), raw.get("pathway")
        rule = Rule(
            id=str(raw["id"]), version=str(raw["version"]), kind=raw["kind"],
            check=str(raw["check"]), params=params, source=sources[raw["source"]],
            text_ko=fill(raw["text_ko"], params.as_dict()),
            text_en=fill(raw["text_en"], params.as_dict()),
            level=None if level is None else int(level),
            pathway=None if pathway is None else Pathway(pathway),
            approximation=None if raw["approximation"] is None
            else fill(raw["approximation"], params.as_dict()),
        )  # fmt: skip
    except (KeyError, ValueError, TypeError) as error:
        raise RuleDataError(f"rule {raw.get('id')!r}: {error!r}") from error
    _check_rule(rule)
    return rule


def _check_rule(rule: Rule) -> None:
    if rule.kind not in ("level", "pathway"):
        raise RuleDataError(f"rule {rule.id}: unknown kind")
    if rule.level is not None and not 1 <= rule.level <= 5:
        raise RuleDataError(f"rule {rule.id}: level outside 1-5")
    if rule.kind == "pathway" and rule.pathway is None:
        raise RuleDataError(f"rule {rule.id}: a pathway rule names no pathway")
    if not (rule.text_ko and rule.text_en and rule.version):
        raise RuleDataError(f"rule {rule.id}: texts and version are required")


def _windows(
    raw: Mapping[str, Any], sources: Mapping[str, str]
) -> dict[Pathway, tuple[WindowSpec, ...]]:
    return {
        Pathway(name): tuple(
            WindowSpec(
                int(w["minutes"]),
                cast(WindowStart, w["starts"]),
                sources[w["source"]],
                str(w["text_en"]),
            )
            for w in specs
        )
        for name, specs in raw.items()
    }


@cache
def pre_ktas_v1() -> RuleSet:
    """The Pre-KTAS-style ruleset, version 1 (``pre_ktas_v1.json``)."""
    data = _read("pre_ktas_v1.json")
    sources: dict[str, str] = data["sources"]
    rules = tuple(_rule(raw, sources) for raw in data["rules"])
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise RuleDataError("pre_ktas_v1.json: duplicate rule ids")
    return RuleSet(
        name=str(data["ruleset"]), version=str(data["version"]),
        effective=str(data["effective"]), rules=rules, sources=sources,
        avpu_gcs={str(k): int(v) for k, v in data["avpu_gcs"].items()},
        pathway_order=tuple(Pathway(p) for p in data["pathway_order"]),
        needs={Pathway(p): frozenset(Capability(c) for c in caps)
               for p, caps in data["needs"].items()},
        windows=_windows(data["windows"], sources),
    )  # fmt: skip


@cache
def complaints_v1() -> ComplaintTable:
    """The chief-complaint table, version 1 (``complaints_v1.json``)."""
    data = _read("complaints_v1.json")
    categories = tuple(
        ComplaintCategory(
            id=str(c["id"]),
            ko=str(c["ko"]),
            en=str(c["en"]),
            default_level=None if c["default_level"] is None else int(c["default_level"]),
            pain_site=c["pain_site"],
            terms=tuple(normalise(t) for t in c["terms"]),
        )
        for c in data["categories"]
    )
    return ComplaintTable(str(data["version"]), str(data["source"]), categories)
