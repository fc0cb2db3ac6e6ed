"""Master patient index over HTTP.

* ``POST /fhir/Patient/$match`` — FHIR R4 Patient $match
  (http://hl7.org/fhir/R4/patient-operation-match.html): Parameters with ``resource``,
  ``onlyCertainMatches`` and ``count`` → a searchset Bundle of Patients with ``search.score``
  and the match-grade extension.  Any caller who may search Patient; every returned Patient
  is read through the record service with the caller's context (checked and audited).
* ``/api/mpi`` — operators only (role operator, or ``system/`` scopes): ``GET /review``,
  ``POST /review/{id}`` (accept|reject), ``POST /merge``, ``POST /move``,
  ``POST /unmerge/{id}``, ``POST /link``, ``GET /stats``.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from khealth.access import policy
from khealth.access.context import AccessContext, Role
from khealth.core.errors import Forbidden, InvalidRequest, Issue
from khealth.identity.features import patient_record
from khealth.identity.matcher import Match, OnlineIndex
from khealth.identity.service import SERVICE_CONTEXT, PatientIndex
from khealth.records.identifiers import protect_identifiers
from khealth.records.service import load_json
from khealth.web.deps import access_context, services
from khealth.web.fhir_out import json_response

Caller = Annotated[AccessContext, Depends(access_context)]
MATCH_GRADE = "http://hl7.org/fhir/StructureDefinition/match-grade"
router = APIRouter()
_BUILD = threading.Lock()


def _index(request: Request) -> PatientIndex:
    return PatientIndex(services(request).records)


def _online(request: Request) -> OnlineIndex:
    found: OnlineIndex | None = getattr(request.app.state, "mpi_online", None)
    if found is None:
        with _BUILD:
            found = getattr(request.app.state, "mpi_online", None)
            if found is None:
                found = OnlineIndex(_index(request), SERVICE_CONTEXT)
                found.refresh(force=True)
                request.app.state.mpi_online = found
    return found


def _operator(ctx: AccessContext) -> AccessContext:
    if ctx.role is Role.OPERATOR or any(s.context == "system" for s in ctx.scopes):
        return ctx
    raise Forbidden([Issue("forbidden", "the master patient index is for operators")])


def _match_input(body: Any) -> tuple[dict[str, Any], bool, int]:
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise InvalidRequest([Issue("invalid", "the body must be a Parameters resource")])
    params = {p.get("name"): p for p in body.get("parameter") or () if isinstance(p, dict)}
    resource = (params.get("resource") or {}).get("resource")
    if not isinstance(resource, dict) or resource.get("resourceType") != "Patient":
        raise InvalidRequest([Issue("required", "parameter 'resource' must hold a Patient", ("Parameters.parameter",))])  # fmt: skip
    only_certain = bool((params.get("onlyCertainMatches") or {}).get("valueBoolean", False))
    count = (params.get("count") or {}).get("valueInteger", 10)
    if not isinstance(count, int) or not 1 <= count <= 100:
        raise InvalidRequest([Issue("invalid", "count must be an integer from 1 to 100")])
    return resource, only_certain, count


@router.post("/fhir/Patient/$match", tags=["mpi"])
async def patient_match(request: Request, ctx: Caller, body: Annotated[Any, Body()]) -> Response:
    policy.require(ctx, "Patient", "search")
    resource, only_certain, count = _match_input(body)
    online = _online(request)
    query = patient_record(protect_identifiers("Patient", resource))  # no plain RRN in memory
    matches = await run_in_threadpool(online.match, query, count)
    if only_certain:
        matches = [m for m in matches if m.grade == "certain"][:1]
    return json_response(_match_bundle(request, ctx, matches), headers={"Content-Type": "application/fhir+json"})  # fmt: skip


def _match_bundle(request: Request, ctx: AccessContext, matches: list[Match]) -> dict[str, Any]:
    entries = []
    with services(request).records.begin(ctx, "patient-match") as rs:
        for m in matches:
            stored = rs.read("Patient", m.patient_id)
            entries.append({
                "fullUrl": f"Patient/{m.patient_id}",
                "resource": load_json(stored.content),
                "search": {
                    "mode": "match", "score": round(m.probability, 6),
                    "extension": [{"url": MATCH_GRADE, "valueCode": m.grade}],
                },
            })  # fmt: skip
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}


class Decision(BaseModel):
    decision: Literal["accept", "reject"]


class MergeIn(BaseModel):
    survivor: str
    merged: str


class MoveIn(BaseModel):
    patient: str
    person: str


@router.get("/api/mpi/review", tags=["mpi"])
def review(request: Request, ctx: Caller, state: Annotated[str, Query(pattern="^(pending|accepted|rejected|all)$")] = "pending") -> dict[str, Any]:  # fmt: skip
    return {"items": _index(request).review_items(_operator(ctx), state)}


@router.post("/api/mpi/review/{item_id}", tags=["mpi"])
def decide(request: Request, ctx: Caller, item_id: str, body: Decision) -> dict[str, Any]:
    return _index(request).decide(_operator(ctx), item_id, body.decision == "accept")


@router.post("/api/mpi/merge", tags=["mpi"], status_code=201)
def merge(request: Request, ctx: Caller, body: MergeIn) -> dict[str, str]:
    return {"merge": _index(request).merge(_operator(ctx), body.survivor, body.merged)}


@router.post("/api/mpi/move", tags=["mpi"], status_code=201)
def move(request: Request, ctx: Caller, body: MoveIn) -> dict[str, str]:
    return {"merge": _index(request).move(_operator(ctx), body.patient, body.person)}


@router.post("/api/mpi/unmerge/{merge_id}", tags=["mpi"])
def unmerge(request: Request, ctx: Caller, merge_id: str) -> dict[str, str]:
    _index(request).unmerge(_operator(ctx), merge_id)
    return {"unmerged": merge_id}


@router.post("/api/mpi/link", tags=["mpi"])
def link(request: Request, ctx: Caller, full: bool = False) -> dict[str, Any]:
    summary = _index(request).link(_operator(ctx), full=full)
    online: OnlineIndex | None = getattr(request.app.state, "mpi_online", None)
    if online is not None:
        online.refresh(force=True)
    return {"stats": summary.stats, "persons_written": summary.persons_written}


@router.get("/api/mpi/stats", tags=["mpi"])
def stats(request: Request, ctx: Caller) -> dict[str, Any]:
    return _index(request).stats(_operator(ctx))
