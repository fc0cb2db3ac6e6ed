"""``_summary`` and ``_elements`` (FHIR R4 search §3.1.1.5.7-8): subsets of a resource,
marked with the SUBSETTED security tag so nobody mistakes them for the whole record."""

from __future__ import annotations

import functools
from typing import Any

from khealth.fhir.definitions import load_definition

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
}
_ALWAYS = ("resourceType", "id", "meta")


@functools.cache
def _element_flags() -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """Per type: (summary elements, mandatory elements), top level only, JSON names."""
    flags: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
    for entry in load_definition("profiles-resources.json")["entry"]:
        sd = entry["resource"]
        if sd.get("resourceType") != "StructureDefinition" or sd.get("kind") != "resource":
            continue
        summary: set[str] = set()
        mandatory: set[str] = set()
        for element in sd.get("snapshot", {}).get("element", []):
            path = element["path"].split(".")
            if len(path) != 2:
                continue
            names = _json_names(path[1], element)
            if element.get("isSummary"):
                summary.update(names)
            if element.get("min", 0) > 0:
                mandatory.update(names)
        flags[sd["type"]] = (frozenset(summary), frozenset(mandatory))
    return flags


def _json_names(name: str, element: dict[str, Any]) -> list[str]:
    if not name.endswith("[x]"):
        return [name]
    stem = name[:-3]
    return [stem + t["code"][0].upper() + t["code"][1:] for t in element.get("type", [])]


def _tagged(resource: dict[str, Any], keep: set[str]) -> dict[str, Any]:
    out = {k: v for k, v in resource.items() if k in keep or k in _ALWAYS}
    meta = dict(out.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    out["meta"] = meta
    return out


def summarize(resource: dict[str, Any], mode: str) -> dict[str, Any]:
    summary, mandatory = _element_flags().get(
        resource.get("resourceType", ""), (frozenset(), frozenset())
    )
    if mode == "true":
        return _tagged(resource, set(summary))
    if mode == "text":
        return _tagged(resource, {"text", *mandatory})
    if mode == "data":
        return _tagged(resource, set(resource) - {"text"})
    return resource


def select_elements(resource: dict[str, Any], elements: tuple[str, ...]) -> dict[str, Any]:
    _, mandatory = _element_flags().get(
        resource.get("resourceType", ""), (frozenset(), frozenset())
    )
    return _tagged(resource, {e.split(".")[0] for e in elements} | set(mandatory))
