"""JSON Patch (RFC 6902) applied to a resource, for the FHIR patch interaction."""

from __future__ import annotations

import copy
from typing import Any

from khealth.core.errors import InvalidRequest, Issue, PreconditionFailed


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise InvalidRequest([Issue("invalid", "a JSON Patch path must start with '/'")])
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> tuple[Any, str]:
    node = doc
    for p in parts[:-1]:
        node = _child(node, p)
    return node, parts[-1]


def _child(node: Any, key: str) -> Any:
    try:
        if isinstance(node, list):
            return node[int(key)]
        return node[key]
    except (KeyError, IndexError, ValueError, TypeError):
        raise InvalidRequest([Issue("invalid", "a JSON Patch path names no element")]) from None


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent, key = _parent(doc, parts)
    if isinstance(parent, list):
        index = len(parent) if key == "-" else int(key)
        if not 0 <= index <= len(parent):
            raise InvalidRequest([Issue("invalid", "a JSON Patch index is out of range")])
        parent.insert(index, value)
    elif isinstance(parent, dict):
        parent[key] = value
    else:
        raise InvalidRequest([Issue("invalid", "a JSON Patch path goes through a value")])
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    parent, key = _parent(doc, parts)
    _child(parent, key)
    if isinstance(parent, list):
        del parent[int(key)]
    else:
        del parent[key]
    return doc


def apply_patch(document: dict[str, Any], operations: Any) -> dict[str, Any]:
    if not isinstance(operations, list):
        raise InvalidRequest([Issue("invalid", "a JSON Patch body must be an array")])
    doc: Any = copy.deepcopy(document)
    for number, op in enumerate(operations):
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise InvalidRequest(
                [Issue("invalid", f"JSON Patch operation {number} needs op and path")]
            )
        parts = _pointer(op["path"])
        kind = op["op"]
        if kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            doc = _remove(doc, parts)
        elif kind == "replace":
            doc = _add(_remove(doc, parts), parts, copy.deepcopy(op.get("value")))
        elif kind in ("move", "copy"):
            source = _pointer(op.get("from", ""))
            value = copy.deepcopy(_walk(doc, source))
            if kind == "move":
                doc = _remove(doc, source)
            doc = _add(doc, parts, value)
        elif kind == "test":
            if _walk(doc, parts) != op.get("value"):
                raise PreconditionFailed(
                    [Issue("processing", f"JSON Patch test operation {number} failed")]
                )
        else:
            raise InvalidRequest([Issue("invalid", f"unknown JSON Patch op in operation {number}")])
    if not isinstance(doc, dict):
        raise InvalidRequest([Issue("invalid", "a JSON Patch must leave a resource object")])
    return doc


def _walk(doc: Any, parts: list[str]) -> Any:
    node = doc
    for p in parts:
        node = _child(node, p)
    return node
