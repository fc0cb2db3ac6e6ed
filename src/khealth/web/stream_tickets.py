"""Stream tickets: how a browser's ``EventSource`` opens the ER board's event stream.

An ``EventSource`` cannot send an ``Authorization`` header, and the long-lived bearer token must
never travel in a URL (URLs end up in access logs, proxies and browser history). So the page
asks, **with its bearer token**, for a ticket (``POST /api/emergency/facilities/{id}/events/
ticket``) and opens ``.../events?ticket=...``. A ticket is

* **short-lived**: it must be presented within :data:`TICKET_SECONDS` (60 s);
* **single-purpose**: its audience is the event stream of one facility; it is signed under a
  different issuer (``<issuer>/stream-ticket``), so the bearer-token check refuses it anywhere
  else, and it only opens the stream of the facility it names;
* **bound to the caller**: it carries the caller's subject, role, scopes and facility, so the
  stream applies the same rule as a bearer request (the facility's own hospital or a system
  token), checked when the ticket is issued and again when the stream opens;
* **single-use** within a server process: a replayed ticket is refused (several worker
  processes do not share this memory; the 60 s lifetime bounds a replay there).

A stream opened with a ticket ends after :data:`STREAM_SECONDS` at the latest (see
``emergency_routes.events``), and the page then asks for a new ticket: so access stops soon after
the bearer token expires. Tickets are JWTs (ES256) signed with the platform's token key, so any
worker can verify them without shared state.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Annotated, Any

from fastapi import Query, Request
from joserfc import jwt
from joserfc.errors import JoseError

from khealth.access.context import AccessContext, Role
from khealth.access.scopes import parse_scopes
from khealth.access.tokens import ALGORITHM, TokenService
from khealth.core.errors import Issue, Unauthorized
from khealth.web.deps import access_context, services

TICKET_SECONDS = 60
TICKET_ISSUER_SUFFIX = "/stream-ticket"
_MAX_REMEMBERED = 10_000


def _audience(facility_id: str) -> str:
    return f"emergency-events:{facility_id}"


class StreamTickets:
    """Issue and redeem tickets with the app's token key; remembers redeemed ids until expiry."""

    def __init__(self, tokens: TokenService, clock: Any = time.time) -> None:
        self._tokens = tokens
        self._issuer = tokens.issuer + TICKET_ISSUER_SUFFIX
        self._clock = clock
        self._used: dict[str, float] = {}
        self._lock = threading.Lock()

    def issue(self, ctx: AccessContext, facility_id: str) -> str:
        now = int(self._clock())
        claims: dict[str, Any] = {
            "iss": self._issuer, "aud": _audience(facility_id), "sub": ctx.subject,
            "iat": now, "exp": now + TICKET_SECONDS, "jti": uuid.uuid4().hex,
            "role": str(ctx.role), "scope": " ".join(str(s) for s in ctx.scopes),
        }  # fmt: skip
        if ctx.facility:
            claims["facility"] = ctx.facility
        key = self._tokens.key
        return jwt.encode({"alg": ALGORITHM, "kid": key.kid}, claims, key)

    def redeem(self, ticket: str, facility_id: str) -> AccessContext:
        """The caller the ticket stands for; 401 when it is forged, expired, for another
        facility or already used."""
        try:
            claims = jwt.decode(ticket, self._tokens.key, algorithms=[ALGORITHM]).claims
        except (JoseError, ValueError):
            raise _refused() from None
        now = self._clock()
        exp = claims.get("exp")
        if claims.get("iss") != self._issuer or claims.get("aud") != _audience(facility_id):
            raise _refused()
        if not isinstance(exp, int) or exp < now or not self._first_use(str(claims.get("jti")), exp):  # fmt: skip
            raise _refused()
        try:
            role = Role(claims.get("role", ""))
        except ValueError:
            raise _refused() from None
        return AccessContext(
            subject=str(claims.get("sub", "")), role=role,
            scopes=parse_scopes(str(claims.get("scope", ""))),
            facility=claims.get("facility"), token_id=str(claims.get("jti")),
        )  # fmt: skip

    def _first_use(self, jti: str, exp: int) -> bool:
        now = self._clock()
        with self._lock:
            if len(self._used) > _MAX_REMEMBERED:
                self._used = {k: v for k, v in self._used.items() if v >= now}
            if jti in self._used:
                return False
            self._used[jti] = exp
            return True


def _refused() -> Unauthorized:
    return Unauthorized([Issue("login", "the stream ticket is not valid (ask for a new one)")])


_BUILD_LOCK = threading.Lock()


def stream_tickets(request: Request) -> StreamTickets:
    found: StreamTickets | None = getattr(request.app.state, "stream_tickets", None)
    if found is None:
        with _BUILD_LOCK:
            found = getattr(request.app.state, "stream_tickets", None)
            if found is None:
                found = StreamTickets(services(request).tokens)
                request.app.state.stream_tickets = found
    return found


def stream_caller(
    request: Request,
    facility_id: str,
    ticket: Annotated[
        str | None,
        Query(max_length=4096, description="a stream ticket from POST .../events/ticket "
              "(for browsers: EventSource cannot send the Authorization header)"),
    ] = None,
) -> AccessContext:  # fmt: skip
    """The caller of an event stream: a stream ticket for this facility, or a bearer token."""
    if ticket is not None:
        return stream_tickets(request).redeem(ticket, facility_id)
    return access_context(request)
