"""Server-rendered pages: the landing page (Korean first, ``?lang=en``) and offline API docs.

The landing page shows only aggregate counts, read through the record service under the
platform's own service identity; it never shows a person's data (those pages need a
sign-in, which the trust layer brings).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import swagger_ui_bundle
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response

from khealth.access.context import AccessContext, PurposeOfUse, Role
from khealth.access.scopes import parse_scopes
from khealth.fhir.search_model import SearchQuery, TotalMode

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

DASHBOARD_TYPES = (
    "Organization", "Location", "Practitioner", "Patient", "Encounter", "Condition",
    "Observation", "MedicationRequest", "Immunization", "Procedure", "DiagnosticReport",
    "ImagingStudy", "DocumentReference", "AllergyIntolerance",
)  # fmt: skip

TEXT = {
    "ko": {
        "title": "khealth 광주 시민 건강 데이터 플랫폼",
        "subtitle": "도시의 모든 병원·의원 기록을 하나로 모아 시민에게 돌려드립니다 (합성 데이터 데모)",
        "open": "지금 열어 볼 곳",
        "records": "기록 현황",
        "total": "전체 자원",
        "token": "API 토큰 발급",
        "token_help": "스크립트와 서비스용 토큰은 다음 명령으로 발급합니다:",
        "api_docs": "API 문서 (OpenAPI)",
        "fhir": "FHIR R4 기능 명세 (CapabilityStatement)",
        "health": "상태 점검",
        "metrics": "지표 (Prometheus)",
        "empty": "아직 불러온 기록이 없습니다. `make run` 또는 `khealth import` 로 데이터를 넣으세요.",
        "synthetic": "모든 데이터는 합성 데이터이며 실제 개인의 정보가 아닙니다.",
        "switch": "English",
    },
    "en": {
        "title": "khealth: the city's health data platform",
        "subtitle": "Every hospital's and clinic's records in one place, given back to citizens (synthetic demo)",
        "open": "Where to go",
        "records": "Records held",
        "total": "resources in all",
        "token": "API tokens",
        "token_help": "Tokens for scripts and services are issued with:",
        "api_docs": "API documentation (OpenAPI)",
        "fhir": "FHIR R4 CapabilityStatement",
        "health": "Health check",
        "metrics": "Metrics (Prometheus)",
        "empty": "No records loaded yet. Use `make run` or `khealth import`.",
        "synthetic": "All data is synthetic; none of it describes a real person.",
        "switch": "한국어",
    },
}  # fmt: skip

DASHBOARD = AccessContext(
    subject="khealth-dashboard",
    role=Role.SERVICE,
    scopes=parse_scopes(" ".join(f"system/{t}.s" for t in DASHBOARD_TYPES)),
    purpose=PurposeOfUse.OPERATIONS,
)


def _counts(request: Request) -> list[tuple[str, int]]:
    records = request.app.state.services.records
    counts: list[tuple[str, int]] = []
    with records.begin(DASHBOARD, "dashboard-counts") as rs:
        for resource_type in DASHBOARD_TYPES:
            query = SearchQuery(resource_type, count=0, total=TotalMode.ACCURATE)
            counts.append((resource_type, rs.search(query).page.total or 0))
    return counts


def bar_chart(counts: list[tuple[str, int]], width: int = 560) -> dict[str, Any]:
    """Geometry of a horizontal bar chart drawn as SVG by the template."""
    top = max((c for _, c in counts), default=0) or 1
    row = 26
    bars = [
        {
            "label": label,
            "count": count,
            "y": i * row,
            "w": max(2, int((width - 220) * count / top)),
        }
        for i, (label, count) in enumerate(counts)
    ]
    return {"bars": bars, "height": row * len(counts), "width": width}


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, lang: str = "ko") -> Response:
    language = lang if lang in TEXT else "ko"
    counts = await run_in_threadpool(_counts, request)
    return templates.TemplateResponse(
        request,
        "home.html",
        {
            "t": TEXT[language],
            "lang": language,
            "other": "en" if language == "ko" else "ko",
            "chart": bar_chart(counts),
            "total": sum(c for _, c in counts),
        },
    )


def install(app: FastAPI) -> None:
    """Mount the bundled Swagger UI so /docs works without any CDN."""
    app.mount(
        "/static/swagger", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger"
    )

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="khealth API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )

    app.include_router(router)
