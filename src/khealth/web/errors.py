"""One mapping from error values to the wire: OperationOutcome under /fhir, RFC 9457
problem details elsewhere."""

from __future__ import annotations

from http import HTTPStatus

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from khealth.core.errors import Issue, KhealthError

log = structlog.get_logger("khealth.web")


def is_fhir(request: Request) -> bool:
    return request.url.path.startswith("/fhir")


def error_response(request: Request, error: KhealthError) -> Response:
    headers = {}
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="khealth"'
    if is_fhir(request):
        return Response(
            orjson.dumps(error.outcome()), error.status, headers, media_type="application/fhir+json"
        )
    problem = {
        "type": "about:blank",
        "title": HTTPStatus(error.status).phrase,
        "status": error.status,
        "detail": error.summary(),
        "errors": [
            {"detail": i.diagnostics, "pointer": i.expression[0] if i.expression else None}
            for i in error.issues
        ],
    }
    return Response(
        orjson.dumps(problem), error.status, headers, media_type="application/problem+json"
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(KhealthError)
    async def _khealth(request: Request, error: KhealthError) -> Response:
        if error.status >= 500:
            log.error("request_failed", status=error.status)
        return error_response(request, error)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        code = {404: "not-found", 405: "not-supported"}.get(error.status_code, "processing")
        text = str(error.detail) if error.status_code != 404 else "no such route"
        return error_response(request, KhealthError([Issue(code, text)], error.status_code))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> Response:
        issues = [
            Issue(
                "invalid",
                str(e.get("msg", "invalid")),
                (".".join(str(p) for p in e.get("loc", ())),),
            )
            for e in error.errors()
        ]
        return error_response(request, KhealthError(issues, 422 if not is_fhir(request) else 400))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> Response:
        # Never echo the exception text: it may carry resource content.
        log.error("unexpected_error", error_type=type(error).__name__)
        return error_response(request, KhealthError([Issue("exception", "internal error")], 500))
