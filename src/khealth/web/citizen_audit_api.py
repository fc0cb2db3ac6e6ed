"""``GET /api/citizen/access-log``: who accessed my record, when, and why (issue 5).

A citizen or guardian token bound to a patient (``patient`` claim) with a scope covering
AuditEvent reads that patient's audit entries, newest first, ``count`` per page; pass the
response's ``next_before`` as ``before`` for older ones.  Labels are Korean unless
``lang=en``.  Errors are RFC 9457 problem details.  Entries are kept at least two years and
there is no deletion path (docs/security.md).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from khealth.access.context import AccessContext
from khealth.records.access_log import MAX_PAGE, read_access_log
from khealth.web.deps import access_context, services

router = APIRouter(tags=["citizen"])
Caller = Annotated[AccessContext, Depends(access_context)]
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


class Accessor(BaseModel):
    role: str
    roleLabel: str  # JSON field names in camelCase, as FHIR
    organization: str | None
    id: str | None
    you: bool


class AccessLogEntry(BaseModel):
    seq: int
    recorded: str | None
    who: Accessor
    action: str
    actionLabel: str
    purpose: str
    purposeLabel: str
    outcome: str
    outcomeLabel: str
    breakTheGlass: bool
    resourceTypes: list[str]


class AccessLog(BaseModel):
    patient: str
    entries: list[AccessLogEntry]
    next_before: int | None


@router.get(
    "/api/citizen/access-log",
    response_model=AccessLog,
    summary="Who accessed my record, when, and why (접근 기록)",
    responses={
        401: {"description": "no valid token", **PROBLEM},
        403: {"description": "not a citizen or guardian token for a patient", **PROBLEM},
    },
)
async def access_log(
    request: Request,
    caller: Caller,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    count: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    lang: Literal["ko", "en"] = "ko",
) -> AccessLog:
    records = services(request).records
    page = await run_in_threadpool(read_access_log, records, caller, before, count, lang)
    entries = [AccessLogEntry.model_validate(e) for e in page.entries]
    return AccessLog(patient=page.patient, entries=entries, next_before=page.next_before)
