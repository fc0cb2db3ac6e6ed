"""/health (live and ready), /metrics (Prometheus text), FHIR discovery documents."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, Request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from khealth.web.body import check_accept
from khealth.web.capability import capability_statement, smart_configuration
from khealth.web.fhir_out import base_url, json_response

router = APIRouter(tags=["operations"])
# JSON only here too: an XML Accept gets 415 like every other /fhir route
fhir_meta = APIRouter(prefix="/fhir", tags=["fhir"], dependencies=[Depends(check_accept)])

REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "khealth_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=REGISTRY
)
LATENCY = Histogram(
    "khealth_http_request_seconds", "HTTP request latency", ["method", "route"], registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)  # fmt: skip


def observe(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


@router.get("/health")
async def health(request: Request) -> Response:
    """Live when the process answers; ready when the database answers too."""
    store = request.app.state.services.store
    try:
        await run_in_threadpool(store.ping)
        database = "up"
    except Exception:  # any driver error means not ready
        database = "down"
    status = 200 if database == "up" else 503
    body = {"status": "ok" if status == 200 else "unavailable", "live": True,
            "ready": database == "up", "database": database}  # fmt: skip
    return Response(orjson.dumps(body), status, media_type="application/json")


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


@fhir_meta.get("/metadata")
async def metadata(request: Request) -> Response:
    return json_response(capability_statement(base_url(request)))


@fhir_meta.get("/.well-known/smart-configuration")
async def smart(request: Request) -> Response:
    return Response(
        orjson.dumps(smart_configuration(base_url(request))),
        media_type="application/json",
    )
