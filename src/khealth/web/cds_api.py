"""/api/cds: the validated clinical calculators over HTTP (issue 7, part 1).

``GET /api/cds/calculators`` lists every calculator (name, titles in Korean and English, unit,
source, inputs with type, unit, range and whether required); ``GET .../{name}`` shows one;
``POST .../{name}`` takes the inputs as a JSON object and answers ``{"result", "unit",
"category", "source", "detail"}``. A missing, mistyped, unknown or out-of-range input is a 422
problem-details response whose ``errors[].pointer`` names the input; an unknown calculator 404.
Both come from the domain errors through the one mapping in ``web/errors.py``.

Everything here is generated from ``khealth.cds.calculators.registry``: one POST operation per
calculator, its request body schema built from the calculator's inputs, so the OpenAPI document
shows each calculator's inputs with units and ranges.

No AccessContext (and no bearer token) is required: these calculators read nothing from the
record and store nothing; the inputs arrive in the request and only the answer leaves. The
features of issue 7 that read a person's record (CDS Hooks, the personal report) go through the
one door with the caller's AccessContext like every other read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from khealth.cds.calculators import (
    Calculator,
    CalculatorResult,
    all_calculators,
    compute,
    get_calculator,
)

router = APIRouter(prefix="/api/cds", tags=["clinical calculators"])

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no calculator has that name", **PROBLEM},
    422: {"description": "an input is missing, mistyped, unknown or out of range; "
          "errors[].pointer names it", **PROBLEM},
}  # fmt: skip


class Titles(BaseModel):
    ko: str
    en: str


class InputOut(BaseModel):
    name: str
    type: str
    description: str
    required: bool
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    range_basis: str | None = None
    enum: list[str | int] | None = None
    default: bool | None = None


class CalculatorOut(BaseModel):
    name: str
    title: Titles
    unit: str
    source: str
    inputs: list[InputOut]
    categories: list[str]
    notes: str


class CalculatorList(BaseModel):
    calculators: list[CalculatorOut]


class ResultOut(BaseModel):
    name: str
    result: float = Field(description="the calculator's number, in ``unit``")
    unit: str
    category: str | None
    source: str
    detail: dict[str, Any] = Field(description="points per item, criteria met, stages ...")


def _answer(name: str, result: CalculatorResult) -> dict[str, object]:
    return {"name": name, **result.as_dict()}


def _compute_endpoint(calculator: Calculator) -> Callable[..., Awaitable[dict[str, object]]]:
    name = calculator.name

    async def compute_one(inputs: Annotated[dict[str, Any], Body()]) -> dict[str, object]:
        return _answer(name, compute(name, inputs))

    return compute_one


@router.get("/calculators", response_model=CalculatorList)
async def list_calculators() -> dict[str, object]:
    """Every calculator with its titles, source and inputs (units, ranges, enums)."""
    return {"calculators": [c.as_dict() for c in all_calculators()]}


@router.get("/calculators/{name}", response_model=CalculatorOut, responses={404: ERRORS[404]})
async def show_calculator(name: str) -> dict[str, object]:
    return get_calculator(name).as_dict()


# One documented operation per calculator; registered before the catch-all below.
for _calculator in all_calculators():
    router.add_api_route(
        f"/calculators/{_calculator.name}",
        _compute_endpoint(_calculator),
        methods=["POST"],
        response_model=ResultOut,
        responses=ERRORS,
        summary=f"{_calculator.title_en} / {_calculator.title_ko}",
        description=f"Source: {_calculator.source}. {_calculator.notes}",
        operation_id=f"compute_{_calculator.name}",
        openapi_extra={
            "requestBody": {"content": {"application/json": {"schema": _calculator.json_schema()}}}
        },
    )


@router.post("/calculators/{name}", include_in_schema=False)
async def compute_unknown(name: str) -> dict[str, object]:
    """Only names no calculator has reach this route: answer 404 problem details."""
    get_calculator(name)
    raise AssertionError("unreachable: every known calculator has its own route")
