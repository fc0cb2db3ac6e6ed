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
    conditional references of a transaction).  Copy-on-write: untouched subtrees are
    shared with the input, which is never modified."""
    if isinstance(node, dict):
        changed: dict[str, Any] | None = None
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                new = mapping.get(value, value)
            elif isinstance(value, dict | list):
                new = rewrite_references(value, mapping)
            else:
                continue
            if new is not value:
                if changed is None:
                    changed = dict(node)
                changed[key] = new
        return node if changed is None else changed
    if isinstance(node, list):
        items = [rewrite_references(v, mapping) if isinstance(v, dict | list) else v for v in node]
        return node if all(a is b for a, b in zip(items, node, strict=True)) else items
    return node
