"""The FHIR R4 REST API at /fhir (http://hl7.org/fhir/R4/http.html).

Handlers only adapt HTTP: they read the body and headers, call the record service with
the caller's AccessContext, and render what it returns.  All rules live below.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from khealth.access.context import AccessContext
from khealth.core.errors import InvalidRequest, Issue, UnsupportedMediaType
from khealth.fhir.search_model import SearchQuery, TotalMode
from khealth.fhir.search_parse import parse_search
from khealth.fhir.validation import validate_resource
from khealth.records.bundles import run_bundle
from khealth.records.clock import parse_instant
from khealth.records.service import SearchResult, require_supported
from khealth.web.body import check_accept, read_json
from khealth.web.deps import access_context, services
from khealth.web.fhir_out import (
    base_url,
    bundle_bytes,
    entry_bytes,
    history_bundle,
    json_response,
    page_link,
    resource_response,
)

router = APIRouter(prefix="/fhir", dependencies=[Depends(check_accept)])
Caller = Annotated[AccessContext, Depends(access_context)]
FHIR_JSON = "application/fhir+json"


def _if_match(request: Request) -> int | None:
    etag = request.headers.get("if-match")
    if not etag:
        return None
    text = etag.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise InvalidRequest([Issue("invalid", 'If-Match must be a version ETag such as W/"1"')])
    return int(text)


def _lenient(request: Request) -> bool:
    return "handling=lenient" in request.headers.get("prefer", "")


def _int_param(request: Request, name: str, default: int, maximum: int = 1000) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise InvalidRequest([Issue("invalid", f"{name} must be a non-negative integer")])
    return min(int(raw), maximum)


def _since(request: Request) -> int | None:
    raw = request.query_params.get("_since")
    if raw is None:
        return None
    try:
        return parse_instant(raw)
    except ValueError:
        raise InvalidRequest([Issue("invalid", "_since must be a FHIR instant")]) from None


async def _body(request: Request, patch: bool = False) -> Any:
    settings = services(request).settings
    return await read_json(request, settings.max_body_bytes, settings.max_json_depth, patch)


# -- whole system -------------------------------------------------------------------------


@router.post("")
async def transaction(request: Request, ctx: Caller) -> Response:
    bundle = await _body(request)
    svc = services(request)
    result = await run_in_threadpool(run_bundle, svc.records, ctx, bundle)
    return json_response(result)


@router.get("/_history")
async def system_history(request: Request, ctx: Caller) -> Response:
    return await _history(request, ctx, None, None)


@router.get("")
async def system_search(request: Request, ctx: Caller) -> Response:
    return await _search(request, ctx, None, list(request.query_params.multi_items()))


# -- type level ---------------------------------------------------------------------------


@router.get("/{resource_type}/_history")
async def type_history(resource_type: str, request: Request, ctx: Caller) -> Response:
    return await _history(request, ctx, resource_type, None)


@router.post("/{resource_type}/_search")
async def search_post(resource_type: str, request: Request, ctx: Caller) -> Response:
    media = request.headers.get("content-type", "").split(";")[0].strip()
    if media and media != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType([Issue("not-supported", "_search takes a form-encoded body")])
    form = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    params = list(request.query_params.multi_items()) + form
    return await _search(request, ctx, resource_type, params)


@router.get("/{resource_type}")
async def search_get(resource_type: str, request: Request, ctx: Caller) -> Response:
    return await _search(request, ctx, resource_type, list(request.query_params.multi_items()))


@router.post("/{resource_type}")
async def create(resource_type: str, request: Request, ctx: Caller) -> Response:
    body = await _body(request)
    if isinstance(body, dict) and body.get("resourceType") != resource_type:
        raise InvalidRequest(
            [Issue("invalid", "resourceType does not match the URL", ("resourceType",))]
        )
    svc = services(request)
    condition = request.headers.get("if-none-exist")

    def run() -> Any:
        with svc.records.begin(ctx, "create") as rs:
            return rs.create(body, if_none_exist=condition)

    result = await run_in_threadpool(run)
    return resource_response(request, result.stored, 201 if result.created else 200, location=True)


@router.put("/{resource_type}")
async def conditional_update(resource_type: str, request: Request, ctx: Caller) -> Response:
    body = await _body(request)
    criteria = request.url.query
    svc = services(request)

    def run() -> Any:
        with svc.records.begin(ctx, "update") as rs:
            return rs.conditional_update(resource_type, criteria, body)

    result = await run_in_threadpool(run)
    return resource_response(request, result.stored, 201 if result.created else 200, location=True)


# -- instance level -----------------------------------------------------------------------


@router.get("/{resource_type}/{id}/_history/{version}")
async def vread(
    resource_type: str, id: str, version: str, request: Request,
    ctx: Caller,
) -> Response:  # fmt: skip
    if not version.isdigit():
        raise InvalidRequest([Issue("invalid", "a version id is a number")])
    svc = services(request)

    def run() -> Any:
        with svc.records.begin(ctx, "vread") as rs:
            return rs.vread(resource_type, id, int(version))

    return resource_response(request, await run_in_threadpool(run))


@router.get("/{resource_type}/{id}/_history")
async def instance_history(resource_type: str, id: str, request: Request, ctx: Caller) -> Response:
    return await _history(request, ctx, resource_type, id)


@router.get("/{resource_type}/{id}")
async def read(resource_type: str, id: str, request: Request, ctx: Caller) -> Response:
    svc = services(request)

    def run() -> Any:
        with svc.records.begin(ctx, "read") as rs:
            return rs.read(resource_type, id)

    stored = await run_in_threadpool(run)
    none_match = request.headers.get("if-none-match")
    if none_match and none_match.strip() == f'W/"{stored.version}"':
        return Response(status_code=304)
    return resource_response(request, stored)


@router.put("/{resource_type}/{id}")
async def update(resource_type: str, id: str, request: Request, ctx: Caller) -> Response:
    body = await _body(request)
    if_match = _if_match(request)
    svc = services(request)

    def run() -> Any:
        with svc.records.begin(ctx, "update") as rs:
            return rs.update(resource_type, id, body, if_match)

    result = await run_in_threadpool(run)
    return resource_response(request, result.stored, 201 if result.created else 200, location=True)


@router.patch("/{resource_type}/{id}")
async def patch(resource_type: str, id: str, request: Request, ctx: Caller) -> Response:
    operations = await _body(request, patch=True)
    if_match = _if_match(request)
    svc = services(request)

    def run() -> Any:
        with svc.records.begin(ctx, "patch") as rs:
            return rs.patch(resource_type, id, operations, if_match)

    return resource_response(request, (await run_in_threadpool(run)).stored)


@router.delete("/{resource_type}/{id}")
async def delete(resource_type: str, id: str, request: Request, ctx: Caller) -> Response:
    svc = services(request)

    def run() -> Any:
        with svc.records.begin(ctx, "delete") as rs:
            return rs.delete(resource_type, id)

    tombstone = await run_in_threadpool(run)
    headers = {"ETag": f'W/"{tombstone.version}"'} if tombstone else {}
    return Response(status_code=204, headers=headers)


# -- operations ---------------------------------------------------------------------------


@router.get("/Patient/{id}/$everything")
async def everything(id: str, request: Request, ctx: Caller) -> Response:
    """Patient/$everything (http://hl7.org/fhir/R4/patient-operation-everything.html)."""
    svc = services(request)
    since = _since(request)
    types = [t for t in request.query_params.get("_type", "").split(",") if t]
    count = _int_param(request, "_count", 1000, 5000) or 1000
    offset = _int_param(request, "_offset", 0, 10**9)

    def run() -> Any:
        with svc.records.begin(ctx, "everything") as rs:
            return rs.everything(id, since, types)

    found = await run_in_threadpool(run)
    base = base_url(request)
    page = found[offset : offset + count]
    params = list(request.query_params.multi_items())
    path = f"{base}/Patient/{id}/$everything"
    links = [("self", page_link(path, params))]
    if offset + count < len(found):
        links.append(
            ("next", page_link(path, params, _offset=str(offset + count), _count=str(count)))
        )
    entries = [entry_bytes(base, v, None) for v in page]
    return Response(bundle_bytes("searchset", entries, len(found), links), media_type=FHIR_JSON)


@router.post("/{resource_type}/$validate")
async def validate_type(resource_type: str, request: Request, ctx: Caller) -> Response:
    return await _validate(request, resource_type)


@router.post("/{resource_type}/{id}/$validate")
async def validate_instance(resource_type: str, id: str, request: Request, ctx: Caller) -> Response:
    return await _validate(request, resource_type)


async def _validate(request: Request, resource_type: str) -> Response:
    """$validate (http://hl7.org/fhir/R4/resource-operation-validate.html): the resource
    may come bare or in a Parameters ``resource`` parameter; the answer is an
    OperationOutcome with 200 whether or not it is valid."""
    body = await _body(request)
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        found = [
            p.get("resource") for p in body.get("parameter", []) if p.get("name") == "resource"
        ]
        body = found[0] if found else None
    issues = validate_resource(body)
    if isinstance(body, dict) and body.get("resourceType") not in (None, resource_type):
        issues.append(Issue("invalid", "resourceType does not match the URL", ("resourceType",)))
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [i.to_fhir() for i in issues]
        or [
            {
                "severity": "information",
                "code": "informational",
                "diagnostics": "the resource is valid",
            }
        ],
    }
    return json_response(outcome)


# -- search and history helpers -----------------------------------------------------------


async def _search(
    request: Request, ctx: AccessContext, resource_type: str | None, params: list[tuple[str, str]]
) -> Response:
    svc = services(request)
    if resource_type is not None:
        require_supported(resource_type)  # an unknown type is 404, as for a read
    if any("\x00" in k or "\x00" in v for k, v in params):  # no database takes NUL text
        raise InvalidRequest([Issue("invalid", "search parameters must not contain NUL")])
    query = parse_search(resource_type, params, lenient=_lenient(request))
    if query.summary == "count":  # _summary=count is the total and nothing else
        query = replace(query, total=TotalMode.ACCURATE, count=0)

    def run() -> SearchResult:
        with svc.records.begin(ctx, "search-type" if resource_type else "search-system") as rs:
            return rs.search(query)

    result = await run_in_threadpool(run)
    return _searchset(request, resource_type, params, query, result)


def _searchset(
    request: Request, resource_type: str | None, params: list[tuple[str, str]],
    query: SearchQuery, result: SearchResult,
) -> Response:  # fmt: skip
    base = base_url(request)
    path = f"{base}/{resource_type}" if resource_type else base
    kept = [(k, v) for k, v in params if k not in query.ignored]
    snap = str(result.page.snapshot)
    links = [("self", page_link(path, kept))]
    shown = len(result.page.matches)
    more = 0 < shown == query.count and (
        result.page.total is None or query.offset + shown < result.page.total
    )
    if more:
        links.append(
            ("next", page_link(path, kept, _offset=str(query.offset + query.count), _snapshot=snap))
        )
    if query.offset > 0:
        previous = max(0, query.offset - query.count)
        links.append(("previous", page_link(path, kept, _offset=str(previous), _snapshot=snap)))
    if query.summary == "count":
        return Response(
            bundle_bytes("searchset", [], result.page.total, links), media_type=FHIR_JSON
        )
    entries = [
        entry_bytes(base, v, "match", query.summary, query.elements) for v in result.page.matches
    ]
    entries += [
        entry_bytes(base, v, "include", query.summary, query.elements) for v in result.included
    ]
    return Response(
        bundle_bytes("searchset", entries, result.page.total, links), media_type=FHIR_JSON
    )


async def _history(
    request: Request, ctx: AccessContext, resource_type: str | None, id: str | None
) -> Response:
    svc = services(request)
    since = _since(request)
    count = _int_param(request, "_count", 50)
    offset = _int_param(request, "_offset", 0, 10**9)

    def run() -> Any:
        with svc.records.begin(ctx, "history") as rs:
            return rs.history(resource_type, id, since, count, offset)

    versions, total = await run_in_threadpool(run)
    base = base_url(request)
    path = "/".join(p for p in (base, resource_type, id) if p) + "/_history"
    params = list(request.query_params.multi_items())
    links = []
    if offset + count < total:
        links.append(("next", page_link(path, params, _offset=str(offset + count))))
    body = history_bundle(base, page_link(path, params), versions, total, links)
    return Response(body, media_type=FHIR_JSON)
