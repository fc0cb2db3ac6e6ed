"""Trust-layer JSON APIs (issue 5): break-the-glass and the citizen's notifications.

* ``POST /api/access/break-glass`` {patient, reason_code, reason_text}: an EMS crew or an
  emergency clinician (token purpose ``ETREAT``) opens a patient's record read-only for
  60 minutes; 403 for any other role; the citizen is notified.
* ``GET /api/citizen/notifications``: the citizen's (or guardian's) notices, newest first.

Errors are RFC 9457 problem details (``web/errors.py``).  Policy: docs/consent.md.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from khealth.access.break_glass import MAX_REASON_TEXT, REASONS
from khealth.access.context import AccessContext
from khealth.core.errors import Forbidden, Issue
from khealth.records.break_glass import notifications, open_break_glass
from khealth.records.clock import format_instant
from khealth.web.deps import access_context, services

router = APIRouter(tags=["access"])
Caller = Annotated[AccessContext, Depends(access_context)]
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


class BreakGlassIn(BaseModel):
    patient: str = Field(min_length=1, max_length=64, description="Patient id")
    reason_code: str = Field(description="one of: " + ", ".join(REASONS))
    reason_text: str = Field(min_length=1, max_length=MAX_REASON_TEXT)


class BreakGlassOut(BaseModel):
    id: str
    patient: str
    reason_code: str
    created: str
    expires: str
    read_only: bool = True


class Notice(BaseModel):
    id: str
    sent: str | None
    category: str | None
    text: str | None


class Notices(BaseModel):
    notifications: list[Notice]


@router.post(
    "/api/access/break-glass",
    status_code=201,
    response_model=BreakGlassOut,
    summary="Break the glass: emergency read-only access to a patient's record",
    responses={
        401: {"description": "no valid token", **PROBLEM},
        403: {"description": "only EMS crews and emergency clinicians may", **PROBLEM},
        404: {"description": "no such patient", **PROBLEM},
        422: {"description": "bad reason code or text", **PROBLEM},
    },
)
async def break_glass(request: Request, body: BreakGlassIn, caller: Caller) -> BreakGlassOut:
    records = services(request).records

    def run() -> BreakGlassOut:
        grant = open_break_glass(records, caller, body.patient, body.reason_code, body.reason_text)
        return BreakGlassOut(
            id=grant.id, patient=grant.patient, reason_code=grant.reason_code,
            created=format_instant(grant.created), expires=format_instant(grant.expires),
        )  # fmt: skip

    return await run_in_threadpool(run)


@router.get(
    "/api/citizen/notifications",
    response_model=Notices,
    summary="The citizen's notifications (e.g. emergency access to their record)",
    responses={
        401: {"description": "no valid token", **PROBLEM},
        403: {"description": "not a patient-bound token", **PROBLEM},
    },
)
async def citizen_notifications(request: Request, caller: Caller) -> Notices:
    if caller.patient is None:
        raise Forbidden([Issue("forbidden", "a patient-bound token is required")])
    records = services(request).records
    patient = caller.patient
    found = await run_in_threadpool(notifications, records, caller, patient)
    return Notices(notifications=[_notice(orjson.loads(v.content)) for v in found])


def _notice(resource: dict[str, Any]) -> Notice:
    category = (resource.get("category") or [{}])[0].get("coding", [{}])[0].get("code")
    payload = resource.get("payload") or [{}]
    return Notice(
        id=str(resource.get("id")), sent=resource.get("sent"), category=category,
        text=payload[0].get("contentString"),
    )  # fmt: skip
