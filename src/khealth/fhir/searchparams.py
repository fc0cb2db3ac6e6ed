"""The R4 SearchParameter registry: which parameters each resource type has.

Loaded from the official ``search-parameters.json``; parameters whose base is
``Resource`` or ``DomainResource`` (``_id``, ``_lastUpdated``, ``_tag``, ``_profile``,
``_security``, ``_text``...) apply to every type.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from khealth.fhir.definitions import load_definition

#: Parameters that are columns of the resource row, not index rows.
RESOURCE_COLUMNS = frozenset({"_id", "_lastUpdated"})


@dataclass(frozen=True, slots=True)
class Component:
    definition: str  # canonical URL of the component's SearchParameter
    expression: str  # FHIRPath relative to the composite's element


@dataclass(frozen=True, slots=True)
class SearchParamDef:
    code: str
    type: str  # number | date | string | token | reference | composite | quantity | uri | special
    expression: str  # FHIRPath restricted to one resource type ("" when none)
    url: str
    targets: tuple[str, ...] = ()
    components: tuple[Component, ...] = ()


def _restrict(expression: str, resource_type: str) -> str:
    """Keep only the ``|``-alternatives of a shared expression that apply to one type."""
    parts = [p.strip() for p in expression.split("|")]
    prefixes = (resource_type + ".", "Resource.", "DomainResource.")
    own = [
        p
        for p in parts
        if p.lstrip("(").startswith(prefixes) or p.lstrip("(") in (resource_type, "Resource")
    ]
    return " | ".join(own)


@functools.cache
def _by_url() -> dict[str, dict[str, object]]:
    bundle = load_definition("search-parameters.json")
    return {e["resource"]["url"]: e["resource"] for e in bundle["entry"]}


@functools.cache
def search_params(resource_type: str) -> dict[str, SearchParamDef]:
    """All search parameters of ``resource_type``, by code."""
    found: dict[str, SearchParamDef] = {}
    for sp in _by_url().values():
        base = sp["base"]
        assert isinstance(base, list)
        if resource_type not in base and not {"Resource", "DomainResource"} & set(base):
            continue
        components = tuple(
            Component(str(c["definition"]), str(c["expression"]))
            for c in sp.get("component", [])  # type: ignore[attr-defined]
        )
        expression = str(sp.get("expression", ""))
        found[str(sp["code"])] = SearchParamDef(
            code=str(sp["code"]),
            type=str(sp["type"]),
            expression=_restrict(expression, resource_type) if expression else "",
            url=str(sp["url"]),
            targets=tuple(sp.get("target", [])),  # type: ignore[arg-type]
            components=components,
        )
    return found


def search_param(resource_type: str, code: str) -> SearchParamDef | None:
    return search_params(resource_type).get(code)


def definition_by_url(url: str) -> SearchParamDef | None:
    """The component parameter a composite refers to (its type decides how to index it)."""
    sp = _by_url().get(url)
    if sp is None:
        return None
    return SearchParamDef(
        code=str(sp["code"]), type=str(sp["type"]), expression=str(sp.get("expression", "")),
        url=url, targets=tuple(sp.get("target", [])),  # type: ignore[arg-type]
    )  # fmt: skip
