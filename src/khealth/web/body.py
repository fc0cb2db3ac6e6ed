"""Reading request bodies safely: media type, size, UTF-8, JSON depth."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from khealth.core.errors import InvalidRequest, Issue, PayloadTooLarge, UnsupportedMediaType

FHIR_JSON = "application/fhir+json"
JSON_TYPES = ("application/fhir+json", "application/json", "application/json-patch+json")


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def check_accept(request: Request) -> None:
    """Only JSON is served: an explicit XML or other format gets 415 (as HAPI does for
    unsupported formats), whether asked by ``Accept`` or ``_format``."""
    fmt = request.query_params.get("_format")
    if fmt and fmt not in ("json", "application/json", "application/fhir+json"):
        raise UnsupportedMediaType([Issue("not-supported", "only JSON is supported (_format)")])
    accept = request.headers.get("accept", "")
    if accept and not any(t in accept for t in ("json", "*/*", "application/*")):
        raise UnsupportedMediaType([Issue("not-supported", "only application/fhir+json is served")])


async def read_json(request: Request, max_bytes: int, max_depth: int, patch: bool = False) -> Any:
    media = _media_type(request)
    allowed = (
        ("application/json-patch+json",) if patch else ("application/fhir+json", "application/json")
    )
    if media not in allowed:
        raise UnsupportedMediaType(
            [Issue("not-supported", f"Content-Type must be {' or '.join(allowed)}")]
        )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge([Issue("too-costly", f"the body is larger than {max_bytes} bytes")])
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise PayloadTooLarge(
                [Issue("too-costly", f"the body is larger than {max_bytes} bytes")]
            )
    return parse_json(bytes(body), max_depth)


def parse_json(body: bytes, max_depth: int) -> Any:
    if not body:
        raise InvalidRequest([Issue("required", "the request body is empty")])
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        message = str(error).lower()
        if "utf-8" in message or "surrogate" in message:
            reason = "is not valid UTF-8"
        elif "recursion" in message:
            reason = f"is nested deeper than {max_depth} levels"
        else:
            reason = "is not valid JSON"
        raise InvalidRequest([Issue("structure", f"the request body {reason}")]) from None
    if json_depth(value, max_depth) > max_depth:
        raise InvalidRequest(
            [Issue("structure", f"the JSON is nested deeper than {max_depth} levels")]
        )
    return value


def json_depth(value: Any, limit: int) -> int:
    """Nesting depth of parsed JSON, stopping once past ``limit``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, dict | list))
    return deepest
