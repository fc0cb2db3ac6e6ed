"""Which of the requested scopes a client gets for a person (SMART App Launch 2.x
"Scopes and Launch Context").

* Resource scopes are granted only within the client's registered ceiling and within
  the person's kind: citizens (and guardians) get ``patient/`` scopes, bound to the
  patient they chose; staff get ``user/`` scopes; only backend clients get ``system/``.
* v1 forms (``patient/Observation.read``) are accepted and granted as written (the
  access layer reads them as ``.rs``).
* Scopes with a query (``patient/Observation.rs?category=laboratory``) are not granted:
  the access layer does not enforce the query yet, and granting the scope without it
  would give more than was asked (docs/auth.md, limits).
* Non-resource scopes: ``openid``, ``fhirUser``, ``profile``, ``launch/patient``,
  ``offline_access``, ``online_access``; ``launch`` (EHR launch) is not supported.
"""

from __future__ import annotations

from khealth.access.scopes import Scope, parse_scope
from khealth.auth.errors import OAuthError
from khealth.core.errors import KhealthError

CONTEXT_SCOPES = frozenset(
    {"openid", "fhirUser", "profile", "launch/patient", "offline_access", "online_access"}
)


def _covered(scope: Scope, ceiling: list[Scope]) -> bool:
    return any(
        c.context == scope.context
        and c.resource_type in ("*", scope.resource_type)
        and set(scope.interactions) <= set(c.interactions)
        for c in ceiling
    )


def _resource_ceiling(text: str) -> list[Scope]:
    found: list[Scope] = []
    for part in text.split():
        if "?" in part:
            continue
        scope = _parse(part)
        if scope is not None:
            found.append(scope)
    return found


def _parse(part: str) -> Scope | None:
    try:
        return parse_scope(part)
    except KhealthError:
        raise OAuthError("invalid_scope", "a requested scope is malformed") from None


def grant_scopes(requested: str, client_ceiling: str, contexts: frozenset[str]) -> str:
    """The granted scope string; ``contexts`` are the scope contexts this person or client
    may hold (``{"patient"}``, ``{"user"}`` or ``{"system"}``).  Raises ``invalid_scope``
    when no resource scope is left."""
    ceiling_words = set(client_ceiling.split())
    ceiling = _resource_ceiling(client_ceiling)
    granted: list[str] = []
    for part in dict.fromkeys(requested.split()):  # de-duplicated, order kept
        if part in CONTEXT_SCOPES:
            if part in ceiling_words:
                granted.append(part)
            continue
        scope = _parse(part)
        if scope is None or "?" in part:
            continue
        if scope.context in contexts and _covered(scope, ceiling):
            granted.append(part)
    if not any("/" in g and not g.startswith("launch") for g in granted):
        raise OAuthError("invalid_scope", "none of the requested resource scopes can be granted")
    return " ".join(granted)
