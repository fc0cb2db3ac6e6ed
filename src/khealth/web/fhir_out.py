"""Responses of the FHIR API: resources as stored bytes, Bundles built around them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response

from khealth.fhir.summary import select_elements, summarize
from khealth.records.clock import format_instant
from khealth.records.ports import StoredVersion

FHIR_JSON = "application/fhir+json"


def base_url(request: Request) -> str:
    configured = request.app.state.services.settings.base_url
    if configured:
        return str(configured).rstrip("/")
    return str(request.base_url).rstrip("/") + "/fhir"


def resource_headers(stored: StoredVersion) -> dict[str, str]:
    from email.utils import formatdate

    return {
        "ETag": f'W/"{stored.version}"',
        "Last-Modified": formatdate(stored.last_updated / 1_000_000, usegmt=True),
    }


def resource_response(
    request: Request, stored: StoredVersion, status: int = 200, location: bool = False
) -> Response:
    headers = resource_headers(stored)
    if location:
        headers["Location"] = (
            f"{base_url(request)}/{stored.resource_type}/{stored.id}/_history/{stored.version}"
        )
    prefer = request.headers.get("prefer", "")
    if "return=minimal" in prefer:
        return Response(b"", status, headers)
    return Response(stored.content, status, headers, media_type=FHIR_JSON)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type=FHIR_JSON)


def _shaped(stored: StoredVersion, summary: str | None, elements: Sequence[str]) -> bytes:
    if not summary and not elements:
        return stored.content
    resource = orjson.loads(stored.content)
    if elements:
        resource = select_elements(resource, tuple(elements))
    elif summary:
        resource = summarize(resource, summary)
    return orjson.dumps(resource)


def entry_bytes(
    base: str, stored: StoredVersion, mode: str | None, summary: str | None = None,
    elements: Sequence[str] = (),
) -> bytes:  # fmt: skip
    """One Bundle entry, built around the stored bytes without re-parsing them."""
    full_url = orjson.dumps(f"{base}/{stored.resource_type}/{stored.id}")
    search = b',"search":{"mode":"' + mode.encode() + b'"}' if mode else b""
    return (
        b'{"fullUrl":'
        + full_url
        + b',"resource":'
        + _shaped(stored, summary, elements)
        + search
        + b"}"
    )


def bundle_bytes(
    kind: str, entries: list[bytes], total: int | None, links: list[tuple[str, str]]
) -> bytes:
    head: dict[str, Any] = {"resourceType": "Bundle", "type": kind}
    if total is not None:
        head["total"] = total
    head["link"] = [{"relation": rel, "url": url} for rel, url in links]
    opening = orjson.dumps(head)[:-1]
    return opening + b',"entry":[' + b",".join(entries) + b"]}"


def page_link(base_path: str, params: list[tuple[str, str]], **override: str) -> str:
    kept = [(k, v) for k, v in params if k not in override]
    kept.extend(override.items())
    return f"{base_path}?{urlencode(kept)}" if kept else base_path


def history_bundle(
    base: str,
    self_url: str,
    versions: list[StoredVersion],
    total: int,
    links: list[tuple[str, str]],
) -> bytes:
    entries = []
    for v in versions:
        request = {
            "method": v.method,
            "url": f"{v.resource_type}/{v.id}" if v.method != "POST" else v.resource_type,
        }
        response = {
            "status": "204" if v.deleted else ("201" if v.version == 1 else "200"),
            "lastModified": format_instant(v.last_updated),
            "etag": f'W/"{v.version}"',
        }
        full_url = f"{base}/{v.resource_type}/{v.id}"
        if v.deleted:
            entries.append(
                orjson.dumps({"fullUrl": full_url, "request": request, "response": response})
            )
        else:
            entries.append(
                b'{"fullUrl":'
                + orjson.dumps(full_url)
                + b',"resource":'
                + v.content
                + b',"request":'
                + orjson.dumps(request)
                + b',"response":'
                + orjson.dumps(response)
                + b"}"
            )
    return bundle_bytes("history", entries, total, [("self", self_url), *links])
