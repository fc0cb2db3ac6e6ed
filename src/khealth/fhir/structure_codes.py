"""Local expansion of the R4 value sets that required bindings point at.

Only what the core definitions themselves enumerate is expanded: ``compose.include`` entries
that list concepts, or name a whole CodeSystem shipped in ``valuesets.json`` with
``content = complete``, or import another value set expandable the same way.  A value set
that needs anything else (a ``filter``, an external code system such as UCUM, BCP-13 mime
types or ISO 4217 currencies) expands to ``None`` and its binding is not checked: rejecting
a resource because *we* cannot expand a value set would be wrong (FHIR R4 4.1
"Terminology Service" leaves such checks to a terminology server).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

#: A value set expanded to (system, code) pairs.
Expansion = frozenset[tuple[str, str]]


class ValueSetExpander:
    """Expands value sets by canonical URL, remembering every answer (including ``None``)."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self._value_sets: dict[str, dict[str, Any]] = {}
        self._code_systems: dict[str, dict[str, Any]] = {}
        for entry in bundle.get("entry", ()):
            resource = entry.get("resource", {})
            kind = resource.get("resourceType")
            if kind == "ValueSet":
                self._value_sets[resource["url"]] = resource
            elif kind == "CodeSystem":
                self._code_systems[resource["url"]] = resource
        self._expanded: dict[str, Expansion | None] = {}

    def expand(self, canonical: str) -> Expansion | None:
        url = canonical.split("|", 1)[0]  # bindings pin "|4.0.1"; the bundle holds one version
        if url not in self._expanded:
            self._expanded[url] = None  # a cycle between value sets expands to "unknown"
            self._expanded[url] = self._expand_value_set(url)
        return self._expanded[url]

    def _expand_value_set(self, url: str) -> Expansion | None:
        value_set = self._value_sets.get(url)
        if value_set is None:
            return None
        compose = value_set.get("compose", {})
        included = self._expand_parts(compose.get("include", ()))
        if not included:
            return None
        excluded = self._expand_parts(compose.get("exclude", ()))
        if excluded is None:
            return None
        return included - excluded

    def _expand_parts(self, parts: list[dict[str, Any]]) -> Expansion | None:
        codes: set[tuple[str, str]] = set()
        for part in parts:
            expansion = self._expand_part(part)
            if expansion is None:
                return None
            codes |= expansion
        return frozenset(codes)

    def _expand_part(self, part: dict[str, Any]) -> Expansion | None:
        if "filter" in part:
            return None
        system = part.get("system")
        from_system: Expansion | None = None
        if system is not None:
            if "concept" in part:
                from_system = frozenset((system, c["code"]) for c in part["concept"])
            else:
                from_system = self._code_system_codes(system)
            if from_system is None:
                return None
        imported = [self.expand(url) for url in part.get("valueSet", ())]
        if any(expansion is None for expansion in imported):
            return None
        # Within one include, system and imported value sets intersect (ValueSet.compose).
        result = from_system
        for expansion in imported:
            assert expansion is not None
            result = expansion if result is None else result & expansion
        return result

    def _code_system_codes(self, system: str) -> Expansion | None:
        code_system = self._code_systems.get(system)
        if code_system is None or code_system.get("content") != "complete":
            return None
        return frozenset((system, code) for code in _concept_codes(code_system.get("concept", ())))


def _concept_codes(concepts: list[dict[str, Any]]) -> Iterator[str]:
    """Every code of a CodeSystem, nested (hierarchical) concepts included."""
    for concept in concepts:
        yield concept["code"]
        yield from _concept_codes(concept.get("concept", ()))
