"""The FastAPI application: FHIR API, health, metrics, and (later) pages."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from starlette.responses import Response

from khealth import __version__
from khealth.access.audit_signing import KeySigner
from khealth.access.tokens import TokenService, load_or_create_key
from khealth.core.config import Settings, get_settings
from khealth.records.export import BulkExports
from khealth.records.ports import ResourceStore
from khealth.records.service import Records
from khealth.store.audit_log import seal_audit_log
from khealth.web import (
    access_api,  # issue 5: /api/access/break-glass, /api/citizen/notifications
    auth_routes,  # issue 5: /auth (OAuth 2.0 / SMART), sign-in pages, /api/citizen/apps
    bulk_api,
    cds_api,
    cds_hooks,
    citizen_audit_api,  # issue 5: /api/citizen/access-log
    dicomweb,  # issue 4: /dicomweb (STOW-RS, QIDO-RS, WADO-RS)
    emergency_api,  # issue 6: /api/emergency
    emergency_pages,  # issue 6: /ems, /er/{facility-id}
    errors,
    feeds_api,  # issue 4: /api/feeds (feed health, HL7 v2 dead letters)
    fhir_api,
    health_report,
    mpi_api,  # issue 4: /fhir/Patient/$match, /api/mpi
    ops,
    pages,
)
from khealth.web.deps import Services

log = structlog.get_logger("khealth.web")


def build_services(settings: Settings, store: ResourceStore | None = None) -> Services:
    if store is None:
        from khealth.store.factory import open_store

        store = open_store(settings.resolved_database_url(), migrate=True)
    key = load_or_create_key(settings.data_dir)
    seal_audit_log(store, KeySigner(key))  # issue 5: signed audit checkpoints
    return Services(settings, store, Records(store), TokenService(key, settings.token_issuer))


def create_app(settings: Settings | None = None, store: ResourceStore | None = None) -> FastAPI:
    settings = settings or get_settings()
    services = build_services(settings, store)
    bulk_exports = BulkExports(services.records, settings.data_dir / "exports")

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        bulk_exports.shutdown()  # running exports end as failed; clients start them again
        services.store.close()  # graceful shutdown: uvicorn drains requests first

    app = FastAPI(
        title="khealth",
        version=__version__,
        description="City-wide FHIR R4 clinical data platform",
        lifespan=lifespan,
        docs_url=None,  # served by pages.install from bundled assets, no CDN
        redoc_url=None,
    )
    app.state.services = services
    app.state.bulk_exports = bulk_exports
    errors.install(app)
    app.middleware("http")(_request_log)
    app.include_router(ops.router)
    app.include_router(ops.fhir_meta)
    pages.install(app)
    app.include_router(mpi_api.router)  # before fhir_api: "$match" is no id
    app.include_router(bulk_api.router)  # before fhir_api: "$export" is no type or id
    app.include_router(fhir_api.router)
    app.include_router(cds_api.router)
    app.include_router(emergency_api.router)
    emergency_pages.install(app)
    app.include_router(cds_hooks.router)
    app.include_router(health_report.router)
    app.include_router(access_api.router)
    auth_routes.install(app)  # also gives the token verifier its revocation check
    app.include_router(citizen_audit_api.router)
    app.include_router(dicomweb.router)
    app.include_router(feeds_api.router)
    return app


async def _request_log(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """One JSON log line per request: method, route template, status, time, request id.
    The URL's query and the path's ids are left out: they can identify a patient."""
    request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
    started = time.perf_counter()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    try:
        response = await call_next(request)
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    elapsed = time.perf_counter() - started
    route = request.scope.get("route")
    template = getattr(route, "path", "unmatched")
    ops.observe(request.method, template, response.status_code, elapsed)
    log.info("request", request_id=request_id, method=request.method, route=template,
             status=response.status_code, ms=round(elapsed * 1000, 2))  # fmt: skip
    response.headers["X-Request-Id"] = request_id
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
