"""The sign-in pages of the authorisation server (Korean first, ``?lang=en``):
``/auth/authorize`` → ``/auth/login`` (citizen: mobile identity check; staff: password and
TOTP) → ``/auth/continue`` (patient picker for guardians, then the consent page) → back to
the app's redirect URI with ``code`` and ``state``.

Every form carries the session's CSRF token, checked on POST (403 otherwise).  Every page
has a Content-Security-Policy without inline script or style, ``X-Frame-Options: DENY``
and ``Cache-Control: no-store``.  The consent page's ``form-action`` also names the
app's redirect origin: browsers apply ``form-action`` to the redirect after the POST.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from khealth.auth.citizens import patients_for
from khealth.auth.errors import OAuthError, RateLimited
from khealth.auth.identity_verification import (
    CARRIERS,
    VerificationFailed,
    VerificationRequest,
    ci_hash,
)
from khealth.auth.model import AccountKind, Session
from khealth.auth.rate_limit import CODE_CHECK_IP, CODE_SEND_IP, SIGN_IN_IP
from khealth.auth.requests import AuthorizeRequest, check_authorize
from khealth.auth.service import Auth
from khealth.auth.sessions import csrf_ok
from khealth.web.auth_page_text import PAGE, describe_scope
from khealth.web.fhir_out import base_url

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
COOKIE = "khealth_session"
STATIC_PATH = "/static/khealth"
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")  # fmt: skip
HEADERS = {
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
}


def auth_of(request: Request) -> Auth:
    found: Auth = request.app.state.auth
    return found


def _lang(request: Request, session: Session | None) -> str:
    asked = request.query_params.get("lang")
    if asked in PAGE:
        return str(asked)
    return session.data.get("lang", "ko") if session else "ko"


def _ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def secure(response: Response, form_action: str = "'self'") -> Response:
    response.headers["Content-Security-Policy"] = CSP.replace("form-action 'self'",
                                                              f"form-action {form_action}")  # fmt: skip
    response.headers.update(HEADERS)
    return response


def _set_cookie(request: Request, response: Response, cookie: str) -> None:
    response.set_cookie(COOKIE, cookie, httponly=True, samesite="lax", path="/auth",
                        secure=request.url.scheme == "https")  # fmt: skip


def render(
    request: Request,
    template: str,
    session: Session | None,
    status: int = 200,
    cookie: str | None = None,
    form_action: str = "'self'",
    **context: Any,
) -> Response:
    language = _lang(request, session)
    response = templates.TemplateResponse(
        request, f"auth/{template}",
        {"t": PAGE[language], "lang": language, "other": "en" if language == "ko" else "ko",
         "static": STATIC_PATH, "csrf": session.csrf if session else "", **context},
        status_code=status,
    )  # fmt: skip
    if cookie:
        _set_cookie(request, response, cookie)
    return secure(response, form_action)


def message(request: Request, session: Session | None, key: str, status: int) -> Response:
    t = PAGE[_lang(request, session)]
    return render(request, "message.html", session, status, heading=t["error"],
                  message=t[key], error=True, csrf="")  # fmt: skip


def redirect(request: Request, url: str, cookie: str | None = None) -> Response:
    response = RedirectResponse(url, status_code=303)
    if cookie:
        _set_cookie(request, response, cookie)
    return secure(response)


async def _session(request: Request) -> Session | None:
    auth = auth_of(request)
    return await run_in_threadpool(auth.sessions.load, request.cookies.get(COOKIE))


async def _open(request: Request) -> tuple[Session, str | None]:
    """The live session, or a new anonymous one (and its cookie to set)."""
    session = await _session(request)
    if session is not None:
        if request.query_params.get("lang") in PAGE:
            session.data["lang"] = str(request.query_params["lang"])
            auth_of(request).sessions.save(session)
        return session, None
    cookie, session = auth_of(request).sessions.open()
    if request.query_params.get("lang") in PAGE:
        session.data["lang"] = str(request.query_params["lang"])
        auth_of(request).sessions.save(session)
    return session, cookie


async def _form(request: Request) -> tuple[Session | None, dict[str, str], bool]:
    """(session, form fields, CSRF ok) of a POST."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    session = await _session(request)
    return session, form, csrf_ok(session, form.get("csrf"))


def to_client(request: AuthorizeRequest, **params: str) -> str:
    query = urlencode({**params, "state": request.state})
    separator = "&" if urlsplit(request.redirect_uri).query else "?"
    return f"{request.redirect_uri}{separator}{query}"


# -- authorize -------------------------------------------------------------------------
@router.get("/auth/authorize")
async def authorize(request: Request) -> Response:
    auth = auth_of(request)
    params = dict(request.query_params.items())
    try:
        pending = check_authorize(auth.store, params, base_url(request))
    except OAuthError as error:
        if not error.redirect:
            return render(request, "message.html", None, 400, heading=error.error,
                          message=error.description, error=True)  # fmt: skip
        state = params.get("state", "")
        query = urlencode({"error": error.error, "error_description": error.description,
                           **({"state": state} if state else {})})  # fmt: skip
        target = params["redirect_uri"]  # checked: exactly a registered URI
        return redirect(request, f"{target}{'&' if urlsplit(target).query else '?'}{query}")
    session, cookie = await _open(request)
    for key in [k for k in session.data if k.startswith("req_") or k == "patient"]:
        del session.data[key]
    session.data.update(pending.to_data())
    auth.sessions.save(session)
    return redirect(request, "/auth/continue", cookie)


@router.get("/auth/continue")
async def resume(request: Request) -> Response:
    """Where the flow goes next: sign-in, the patient picker, or the consent page."""
    auth = auth_of(request)
    session = await _session(request)
    pending = AuthorizeRequest.from_data(session.data) if session else None
    if session is None or pending is None:
        return message(request, session, "expired", 400)
    if session.stage != "active" or session.account_id is None:
        return redirect(request, "/auth/login")
    account = auth.store.get_account(session.account_id)
    if account is None:
        return message(request, session, "expired", 400)
    links = auth.store.links_of(account.id) if account.kind == AccountKind.CITIZEN else []
    if account.kind == AccountKind.CITIZEN and "patient" not in session.data:
        if not links:
            return message(request, session, "no_record", 403)
        if len(links) > 1:
            return render(request, "pick.html", session, links=links)
        session.data["patient"] = links[0].patient_id
        auth.sessions.save(session)
    client = auth.store.get_client(pending.client_id)
    language = _lang(request, session)
    scopes = [{"scope": s, "text": describe_scope(s, language)} for s in pending.scope.split()]
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(pending.redirect_uri))
    return render(request, "consent.html", session, form_action=f"'self' {origin}",
                  client_name=client.name if client else pending.client_id, scopes=scopes,
                  patient=session.data.get("patient"))  # fmt: skip


@router.post("/auth/pick")
async def pick(request: Request) -> Response:
    auth = auth_of(request)
    session, form, ok = await _form(request)
    if not ok or session is None or session.account_id is None:
        return message(request, session, "bad_csrf", 403)
    allowed = {link.patient_id for link in auth.store.links_of(session.account_id)}
    if form.get("patient") not in allowed:
        return message(request, session, "bad_csrf", 403)
    session.data["patient"] = form["patient"]
    auth.sessions.save(session)
    return redirect(request, "/auth/continue")


@router.post("/auth/consent")
async def consent(request: Request) -> Response:
    auth = auth_of(request)
    session, form, ok = await _form(request)
    if not ok or session is None:
        return message(request, session, "bad_csrf", 403)
    pending = AuthorizeRequest.from_data(session.data)
    account = auth.store.get_account(session.account_id or "")
    if pending is None or account is None or session.stage != "active":
        return message(request, session, "expired", 400)
    for key in [k for k in session.data if k.startswith("req_")]:
        del session.data[key]
    patient = session.data.pop("patient", None)
    auth.sessions.save(session)
    if form.get("decision") != "allow":
        return redirect(request, to_client(pending, error="access_denied"))
    relationship = next((link.relationship for link in auth.store.links_of(account.id)
                         if link.patient_id == patient), "self")  # fmt: skip
    try:
        code = await run_in_threadpool(auth.server.approve, pending, account, patient, relationship)
    except OAuthError as error:
        return redirect(request, to_client(pending, error=error.error,
                                           error_description=error.description))  # fmt: skip
    return redirect(request, to_client(pending, code=code))


# -- sign-in ----------------------------------------------------------------------------
@router.get("/auth/login")
async def login(request: Request, tab: str = "citizen") -> Response:
    session, cookie = await _open(request)
    return render(request, "login.html", session, cookie=cookie,
                  tab="staff" if tab == "staff" else "citizen", carriers=CARRIERS)  # fmt: skip


def _too_many(request: Request, session: Session | None, limited: RateLimited) -> Response:
    response = message(request, session, "too_many", 429)
    response.headers["Retry-After"] = str(limited.retry_after)
    return response


@router.post("/auth/login/citizen")
async def citizen_start(request: Request) -> Response:
    auth = auth_of(request)
    session, form, ok = await _form(request)
    if not ok or session is None:
        return message(request, session, "bad_csrf", 403)
    asked = VerificationRequest(form.get("name", ""), form.get("birth_date", ""),
                                form.get("phone", ""), form.get("carrier", ""))  # fmt: skip
    try:
        auth.limiter.hit("sms-ip:" + _ip(request), CODE_SEND_IP)
        verification = await run_in_threadpool(auth.verifier.start, asked)
    except RateLimited as limited:
        return _too_many(request, session, limited)
    except VerificationFailed as failed:
        return render(request, "login.html", session, 422, tab="citizen", carriers=CARRIERS,
                      message=str(failed))  # fmt: skip
    session.data["verification"] = verification
    auth.sessions.save(session)
    return redirect(request, "/auth/login/code")


@router.get("/auth/login/code")
async def citizen_code_form(request: Request) -> Response:
    session = await _session(request)
    if session is None or "verification" not in session.data:
        return message(request, session, "expired", 400)
    return _code_page(request, session)


def _code_page(request: Request, session: Session, error: str = "", status: int = 200) -> Response:
    t = PAGE[_lang(request, session)]
    return render(request, "code.html", session, status, heading=t["citizen"],
                  help=t["code_sent"], action="/auth/login/code", message=error,
                  outbox=auth_of(request).settings.dev_mode)  # fmt: skip


@router.post("/auth/login/code")
async def citizen_code(request: Request) -> Response:
    auth = auth_of(request)
    session, form, ok = await _form(request)
    if not ok or session is None or "verification" not in session.data:
        return message(request, session, "bad_csrf", 403)
    try:
        auth.limiter.hit("code-ip:" + _ip(request), CODE_CHECK_IP)
        identity = await run_in_threadpool(
            auth.verifier.confirm, session.data["verification"], form.get("code", "")
        )
    except RateLimited as limited:
        return _too_many(request, session, limited)
    except VerificationFailed as failed:
        return _code_page(request, session, str(failed), 401)
    records = request.app.state.services.records
    patients = await run_in_threadpool(patients_for, records, identity)
    account = auth.accounts.citizen(ci_hash(auth.secret, identity.ci), patients)
    data = {k: v for k, v in session.data.items() if k != "verification"} | {"kind": "citizen"}
    cookie, raised = auth.sessions.elevate(session, account_id=account.id, stage="active",
                                           data=data, created=auth.sessions.clock())  # fmt: skip
    return redirect(request, _after_sign_in(raised), cookie)


def _after_sign_in(session: Session) -> str:
    return "/auth/continue" if AuthorizeRequest.from_data(session.data) else "/auth/signed-in"


@router.post("/auth/login/staff")
async def staff_password(request: Request) -> Response:
    auth = auth_of(request)
    session, form, ok = await _form(request)
    if not ok or session is None:
        return message(request, session, "bad_csrf", 403)
    try:
        auth.limiter.hit("sign-in-ip:" + _ip(request), SIGN_IN_IP)
        account = await run_in_threadpool(auth.accounts.check_password, form.get("username", ""),
                                          form.get("password", ""), _ip(request))  # fmt: skip
    except RateLimited as limited:
        return _too_many(request, session, limited)
    if account is None:
        t = PAGE[_lang(request, session)]
        return render(request, "login.html", session, 401, tab="staff", carriers=CARRIERS,
                      message=t["wrong_password"])  # fmt: skip
    data = dict(session.data) | {"kind": "staff"}
    cookie, _raised = auth.sessions.elevate(session, account_id=account.id, stage="password",
                                           data=data, created=auth.sessions.clock())  # fmt: skip
    return redirect(request, "/auth/login/totp", cookie)


@router.get("/auth/login/totp")
async def staff_totp_form(request: Request) -> Response:
    session = await _session(request)
    if session is None or session.stage != "password":
        return message(request, session, "expired", 400)
    return _totp_page(request, session)


def _totp_page(request: Request, session: Session, error: str = "", status: int = 200) -> Response:
    auth = auth_of(request)
    account = auth.store.get_account(session.account_id or "")
    assert account is not None
    otpauth = secret = ""
    if not account.totp_confirmed:  # enrolment: show the key until a code confirms it
        if account.totp_secret is None:
            account, otpauth = auth.accounts.begin_totp(account)
        else:
            from khealth.auth.totp import provisioning_uri

            otpauth = provisioning_uri(account.totp_secret, account.username or account.id)
        secret = account.totp_secret or ""
    t = PAGE[_lang(request, session)]
    return render(request, "code.html", session, status, heading=t["totp"], help=t["totp_help"],
                  action="/auth/login/totp", message=error, otpauth=otpauth, secret=secret)  # fmt: skip


@router.post("/auth/login/totp")
async def staff_totp(request: Request) -> Response:
    auth = auth_of(request)
    session, form, ok = await _form(request)
    if not ok or session is None or session.stage != "password":
        return message(request, session, "bad_csrf", 403)
    account = auth.store.get_account(session.account_id or "")
    if account is None:
        return message(request, session, "expired", 400)
    try:
        accepted = auth.accounts.check_totp(account, form.get("code", ""))
    except RateLimited as limited:
        return _too_many(request, session, limited)
    if not accepted:
        return _totp_page(request, session, PAGE[_lang(request, session)]["wrong_totp"], 401)
    cookie, raised = auth.sessions.elevate(session, stage="active")
    return redirect(request, _after_sign_in(raised), cookie)


@router.get("/auth/signed-in")
async def signed_in(request: Request) -> Response:
    session = await _session(request)
    if session is None or session.stage != "active":
        return redirect(request, "/auth/login")
    t = PAGE[_lang(request, session)]
    return render(request, "message.html", session, heading=t["title"], message=t["signed_in"])


@router.post("/auth/logout")
async def logout(request: Request) -> Response:
    session, _form_fields, ok = await _form(request)
    if not ok or session is None:
        return message(request, session, "bad_csrf", 403)
    auth_of(request).sessions.end(session)
    response = redirect(request, "/auth/login")
    response.delete_cookie(COOKIE, path="/auth")
    return response


@router.get("/auth/dev/sms-outbox")
async def sms_outbox(request: Request) -> Response:
    """The identity verification stand-in's "sent" texts; exists only in development mode."""
    auth = auth_of(request)
    if not auth.settings.dev_mode:
        return secure(Response(status_code=404))
    messages = [
        {"id": m.id, "recipient": m.recipient, "body": m.body,
         "sent": dt.datetime.fromtimestamp(m.created, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")}
        for m in auth.store.recent_sms(50)
    ]  # fmt: skip
    return render(request, "sms_outbox.html", None, messages=messages)
