"""/api/emergency: the AI ambulance's JSON API (issue 6).

Errors are RFC 9457 problem details through ``web/errors.py``; a 422 names the bad fields in
``errors[].pointer``. Every route needs a bearer token.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from khealth.access.context import AccessContext
from khealth.emergency.triage import assess
from khealth.web.deps import access_context
from khealth.web.emergency_triage_schema import AssessmentIn, TriageOut, triage_out

router = APIRouter(prefix="/api/emergency", tags=["emergency"])

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


# -- triage (issue 6 part 2) -----------------------------------------------------------------
@router.post(
    "/triage",
    response_model=TriageOut,
    summary="Triage a crew's assessment / 환자 중증도 분류",
    responses={
        401: {"description": "no or invalid bearer token", **PROBLEM},
        422: {"description": "a field is mistyped or out of range; errors[].pointer names it",
              **PROBLEM},
    },
)  # fmt: skip
async def triage(
    body: AssessmentIn, caller: Annotated[AccessContext, Depends(access_context)]
) -> TriageOut:
    """Pre-KTAS-style level 1-5 with the rules that fired, NEWS2 and its band, qSOFA, shock
    index, suspected time-critical pathways, the capabilities they need and their windows.

    Any valid bearer token may call it (EMS crews, clinicians): it reads and stores no record,
    so there is no scope to check and nothing to audit; the assessment stays in the request.
    Rules and sources: docs/emergency-triage.md."""
    return triage_out(assess(body.to_domain()))


# -- live status, destination, pre-notification (issue 6 parts 1, 3, 4) ---------------------
from khealth.web.emergency_routes import install as _install_routes  # noqa: E402

_install_routes(router)
