"""CDS Hooks 1.0 at /cds-services (https://cds-hooks.hl7.org/1.0/): discovery, service calls
and feedback. The rules and the security model live in ``khealth.cds.hooks``; this module only
reads the body and the tokens and hands back JSON. Errors are RFC 9457 problem details (400
naming the field, 401 without a valid token, 403 for a token that cannot read the patient).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from khealth.access.context import AccessContext
from khealth.cds import hooks
from khealth.core.errors import InvalidRequest, Issue
from khealth.web.deps import access_context, services
from khealth.web.fhir_out import base_url

router = APIRouter(prefix="/cds-services", tags=["CDS Hooks"])
Caller = Annotated[AccessContext, Depends(access_context)]
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "hook, hookInstance, context.patientId (or the hook's context) wrong; "
          "errors[].pointer names the field", **PROBLEM},
    401: {"description": "no valid khealth bearer token", **PROBLEM},
    403: {"description": "the token may not read this patient", **PROBLEM},
    404: {"description": "no CDS service has that id", **PROBLEM},
}  # fmt: skip


def _json(value: Any) -> Response:
    return Response(orjson.dumps(value), media_type="application/json")


async def _body(request: Request) -> Any:
    raw = await request.body()
    limit = services(request).settings.max_body_bytes
    if len(raw) > limit:
        raise InvalidRequest([Issue("too-costly", "the request body is too large")], 413)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest([Issue("invalid", "the body is not JSON", ("body",))]) from None


def _platform_url(request: Request) -> str:
    return base_url(request).removesuffix("/fhir")


@router.get("", summary="CDS Hooks discovery")
async def discovery() -> Response:
    """The services, their hooks and prefetch templates. Open: it holds no patient data."""
    return _json(hooks.discovery())


@router.post("/{service_id}", summary="Call a CDS service", responses=ERRORS)
async def call(service_id: str, request: Request, caller: Caller) -> Response:
    """``{"cards": [...]}`` for a ``patient-view`` or ``order-select`` call. The record is read
    with ``fhirAuthorization.access_token`` when given, else with the bearer token."""
    body = await _body(request)
    svc = services(request)
    token = hooks.fhir_access_token(body)
    ctx = svc.tokens.verify(token) if token else caller
    answer = await run_in_threadpool(
        hooks.call_service, svc.records, ctx, service_id, body, _platform_url(request)
    )
    return _json(answer)


@router.post("/{service_id}/feedback", summary="Feedback on cards", responses=ERRORS)
async def feedback(service_id: str, request: Request, caller: Caller) -> Response:
    """Outcome counts per service are kept (no card content, no patient)."""
    body = await _body(request)
    svc = services(request)
    await run_in_threadpool(hooks.record_feedback, svc.records, caller, service_id, body)
    return _json({})
