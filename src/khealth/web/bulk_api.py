"""FHIR Bulk Data $export over HTTP (Bulk Data Access IG 2.0.0,
https://hl7.org/fhir/uv/bulkdata/export.html): the async request pattern.

Kick-off (``$export`` at system, Patient and Group level, GET or POST with Parameters)
answers 202 with ``Content-Location`` naming the status URL; the status URL answers 202
with ``X-Progress`` while the job runs, 200 with the manifest when it is done, and takes
DELETE to cancel; files are served to the same token subject only.  Included before
``fhir_api.router`` so that ``$export`` is never read as a type or an id.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, Response

from khealth.access.context import AccessContext
from khealth.core.errors import InvalidRequest, Issue, KhealthError
from khealth.records.clock import format_instant, parse_instant
from khealth.records.export import BulkExports, ExportRequest, ExportStatus
from khealth.web.body import check_accept, read_json
from khealth.web.deps import access_context, services
from khealth.web.fhir_out import base_url, json_response

router = APIRouter(prefix="/fhir", dependencies=[Depends(check_accept)], tags=["bulk data"])
Caller = Annotated[AccessContext, Depends(access_context)]

OUTPUT_FORMATS = frozenset({"application/fhir+ndjson", "application/ndjson", "ndjson"})
KNOWN_PARAMS = frozenset({"_outputFormat", "_type", "_since", "_format"})
NDJSON = "application/fhir+ndjson"
RETRY_AFTER_S = "2"


def exports(request: Request) -> BulkExports:
    found: BulkExports = request.app.state.bulk_exports
    return found


# -- kick-off -----------------------------------------------------------------------------


@router.get("/$export")
@router.post("/$export")
async def export_system(request: Request, ctx: Caller) -> Response:
    return await _kick_off(request, ctx, "system", None)


@router.get("/Patient/$export")
@router.post("/Patient/$export")
async def export_patients(request: Request, ctx: Caller) -> Response:
    return await _kick_off(request, ctx, "patient", None)


@router.get("/Group/{group_id}/$export")
@router.post("/Group/{group_id}/$export")
async def export_group(group_id: str, request: Request, ctx: Caller) -> Response:
    return await _kick_off(request, ctx, "group", group_id)


async def _kick_off(
    request: Request, ctx: AccessContext, level: str, group_id: str | None
) -> Response:
    if "respond-async" not in request.headers.get("prefer", ""):
        raise InvalidRequest([Issue("invalid", "$export needs the header Prefer: respond-async")])
    pairs = list(request.query_params.multi_items())
    if request.method == "POST":
        pairs += _parameters(await _post_body(request))
    lenient = "handling=lenient" in request.headers.get("prefer", "")
    wanted = _export_request(pairs, lenient, level, _request_url(request), group_id)
    job_id = await run_in_threadpool(exports(request).start, ctx, wanted)
    status_url = f"{base_url(request)}/$export-poll-status/{job_id}"
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "informational",
                   "diagnostics": "the export has started; poll Content-Location"}],
    }  # fmt: skip
    return json_response(outcome, 202, {"Content-Location": status_url})


def _request_url(request: Request) -> str:
    """The kick-off URL under the public base (the manifest's ``request``)."""
    query = f"?{request.url.query}" if request.url.query else ""
    return base_url(request) + request.url.path.removeprefix("/fhir") + query


async def _post_body(request: Request) -> Any:
    settings = services(request).settings
    return await read_json(request, settings.max_body_bytes, settings.max_json_depth)


def _parameters(body: Any) -> list[tuple[str, str]]:
    """A Parameters resource's values as (name, text) pairs."""
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise InvalidRequest([Issue("invalid", "the $export body must be a Parameters resource")])
    pairs: list[tuple[str, str]] = []
    for parameter in body.get("parameter") or ():
        values = (
            [v for k, v in parameter.items() if k.startswith("value")]
            if isinstance(parameter, dict)
            else []
        )
        if len(values) != 1 or not isinstance(values[0], str):
            raise InvalidRequest(
                [Issue("invalid", "each $export parameter needs one text value", ("parameter",))]
            )
        pairs.append((str(parameter.get("name")), values[0]))
    return pairs


def _export_request(
    pairs: list[tuple[str, str]], lenient: bool, level: str, url: str, group_id: str | None
) -> ExportRequest:
    unknown = sorted({name for name, _ in pairs if name not in KNOWN_PARAMS})
    if unknown and not lenient:
        raise InvalidRequest(
            [Issue("not-supported", f"$export does not support {', '.join(unknown)}")]
        )
    types: list[str] = []
    since = None
    for name, value in pairs:
        if name == "_outputFormat" and value.replace(" ", "+") not in OUTPUT_FORMATS:
            # a '+' in a query string arrives as a space
            raise InvalidRequest([Issue("not-supported", "_outputFormat must be NDJSON")])
        if name == "_type":
            types.extend(t.strip() for t in value.split(",") if t.strip())
        if name == "_since":
            since = _instant(value.replace(" ", "+"))
    return ExportRequest(level, url, tuple(dict.fromkeys(types)), since, group_id)


def _instant(value: str) -> int:
    try:
        if "T" not in value:
            raise ValueError
        return parse_instant(value)
    except ValueError:
        raise InvalidRequest([Issue("invalid", "_since must be a FHIR instant")]) from None


# -- status, cancel, files ----------------------------------------------------------------


@router.get("/$export-poll-status/{job_id}")
async def export_status(job_id: str, request: Request, ctx: Caller) -> Response:
    status = await run_in_threadpool(exports(request).status, ctx, job_id)
    if status.state == "running":
        headers = {"X-Progress": status.job.progress, "Retry-After": RETRY_AFTER_S}
        return Response(status_code=202, headers=headers)
    if status.state == "failed":
        raise KhealthError([Issue("exception", status.job.failure or "the export failed")], 500)
    body = orjson.dumps(_manifest(request, job_id, status))
    return Response(body, 200, media_type="application/json")


def _manifest(request: Request, job_id: str, status: ExportStatus) -> dict[str, Any]:
    """The complete-status body (export.html#response---complete-status)."""
    base = f"{base_url(request)}/$export-file/{job_id}"
    job = status.job
    return {
        "transactionTime": format_instant(job.transaction_time),
        "request": job.request_url,
        "requiresAccessToken": True,
        "output": [{"type": f.type, "url": f"{base}/{f.name}", "count": f.count} for f in job.output],
        "error": [{"type": f.type, "url": f"{base}/{f.name}", "count": f.count} for f in job.error],
    }  # fmt: skip


@router.delete("/$export-poll-status/{job_id}")
async def export_cancel(job_id: str, request: Request, ctx: Caller) -> Response:
    await run_in_threadpool(exports(request).cancel, ctx, job_id)
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "informational",
                   "diagnostics": "the export was cancelled and its files deleted"}],
    }  # fmt: skip
    return json_response(outcome, 202)


@router.get("/$export-file/{job_id}/{name}")
async def export_file(job_id: str, name: str, request: Request, ctx: Caller) -> Response:
    path = await run_in_threadpool(exports(request).file_path, ctx, job_id, name)
    return FileResponse(path, media_type=NDJSON)
