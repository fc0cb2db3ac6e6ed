"""Walk stored resources for the local references they hold (for ``$everything``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from khealth.records.ports import StoredVersion

_LOCAL = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


def _walk(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str):
            yield ref
        for value in node.values():
            if isinstance(value, dict | list):
                yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            if isinstance(value, dict | list):
                yield from _walk(value)


def local_references(items: Iterable[StoredVersion]) -> list[tuple[str, str]]:
    """Every ``Type/id`` reference in the items, in first-seen order, without repeats."""
    found: dict[tuple[str, str], None] = {}
    for item in items:
        if item.deleted:
            continue
        for ref in _walk(orjson.loads(item.content)):
            m = _LOCAL.match(ref)
            if m:
                found[(m.group(1), m.group(2))] = None
    return list(found)


def rewrite_references(node: Any, mapping: dict[str, str]) -> Any:
    """Replace ``Reference.reference`` values found in ``mapping`` (``urn:uuid:`` ids and
    conditional references of a transaction), returning a new structure."""
    if isinstance(node, dict):
        out = {k: rewrite_references(v, mapping) for k, v in node.items()}
        ref = node.get("reference")
        if isinstance(ref, str) and ref in mapping:
            out["reference"] = mapping[ref]
        return out
    if isinstance(node, list):
        return [rewrite_references(v, mapping) for v in node]
    return node
