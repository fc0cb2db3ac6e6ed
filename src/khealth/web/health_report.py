"""GET /api/citizen/health-report: the personal health report for the citizen app (issue 7).

The patient is the token's patient claim (a citizen token with ``patient/*.rs``), or the
``patient`` parameter; the record service decides whether the token may read that patient
(another citizen's token gets 403, an unknown patient 404). ``lang=en`` gives English texts.
FINDRISC's questionnaire items are not in the record: the app may pass the person's own answers
(``physically_active``, ``daily_vegetables``, ``family_diabetes``); without them the report
says they are missing.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from khealth.access.context import AccessContext
from khealth.cds.features import gather
from khealth.cds.report import health_report
from khealth.core.errors import Forbidden, Issue
from khealth.web.deps import access_context, services

router = APIRouter(prefix="/api/citizen", tags=["citizen"])
Caller = Annotated[AccessContext, Depends(access_context)]
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


@router.get(
    "/health-report",
    summary="Personal health report (latest checkup, trends, risks, next steps)",
    responses={
        401: {"description": "no valid token", **PROBLEM},
        403: {"description": "the token may not read this patient", **PROBLEM},
        404: {"description": "no such patient", **PROBLEM},
    },
)
async def health_report_endpoint(
    request: Request,
    caller: Caller,
    lang: Literal["ko", "en"] = "ko",
    patient: Annotated[str | None, Query(description="defaults to the token's patient")] = None,
    physically_active: bool | None = None,
    daily_vegetables: bool | None = None,
    family_diabetes: Literal["none", "second_degree", "first_degree"] | None = None,
) -> Response:
    patient_id = patient or caller.patient
    if not patient_id:
        raise Forbidden([Issue("forbidden", "name a patient or use a patient-bound token")])
    answers = {"physically_active": physically_active, "daily_vegetables": daily_vegetables,
               "family_diabetes": family_diabetes}  # fmt: skip
    records = services(request).records

    def run() -> dict[str, Any]:
        features = gather(records, caller, patient_id)
        return health_report(features, lang, answers)

    report = await run_in_threadpool(run)
    return Response(orjson.dumps(report), media_type="application/json")
