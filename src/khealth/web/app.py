"""The FastAPI application: FHIR API, health, metrics, and (later) pages."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # a caller's id is kept only if it is plain


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
    app.add_middleware(RequestLog)
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


class RequestLog:
    """One JSON log line per request: method, route template, status, time, request id; the
    id and ``nosniff`` go on the response.  The URL's query and the path's ids are left out:
    they can identify a patient.  Plain ASGI (not BaseHTTPMiddleware, whose extra task and
    streams cost more than a read by id does)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                extra = [(b"x-request-id", request_id.encode("latin-1")),
                         (b"x-content-type-options", b"nosniff")]  # fmt: skip
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        started = time.perf_counter()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
            elapsed = time.perf_counter() - started
            template = getattr(scope.get("route"), "path", "unmatched")
            ops.observe(scope["method"], template, status, elapsed)
            log.info("request", request_id=request_id, method=scope["method"], route=template,
                     status=status, ms=round(elapsed * 1000, 2))  # fmt: skip
