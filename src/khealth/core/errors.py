"""Errors as values with one mapping to the wire.

Every failure the platform reports is a :class:`KhealthError` carrying one or more
:class:`Issue` values.  The web layer turns them into an OperationOutcome on FHIR
routes and RFC 9457 problem details elsewhere; nothing else decides status codes.
Diagnostics must never contain patient data (names, identifiers, clinical values).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Issue:
    """One OperationOutcome.issue: what went wrong and where (FHIRPath in ``expression``)."""

    code: str  # http://hl7.org/fhir/issue-type, e.g. "invalid", "required", "not-found"
    diagnostics: str
    expression: tuple[str, ...] = ()
    severity: str = "error"

    def to_fhir(self) -> dict[str, Any]:
        issue: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            issue["expression"] = list(self.expression)
        return issue


@dataclass(eq=False)
class KhealthError(Exception):
    """Base of every expected failure; ``status`` is the HTTP status it maps to."""

    issues: list[Issue] = field(default_factory=list)
    status: int = 400

    def __post_init__(self) -> None:
        super().__init__(self.summary())

    @classmethod
    def of(cls, code: str, diagnostics: str, *expression: str) -> KhealthError:
        return cls([Issue(code, diagnostics, tuple(expression))])

    def summary(self) -> str:
        return "; ".join(i.diagnostics for i in self.issues) or type(self).__name__

    def outcome(self) -> dict[str, Any]:
        return {"resourceType": "OperationOutcome", "issue": [i.to_fhir() for i in self.issues]}


class InvalidRequest(KhealthError):
    """400: the request itself is malformed (bad JSON, bad parameter, bad Bundle)."""

    def __init__(self, issues: list[Issue] | None = None, status: int = 400) -> None:
        super().__init__(issues or [], status)


class InvalidResource(KhealthError):
    """422: the resource is well-formed JSON but breaks FHIR rules (validation)."""

    def __init__(self, issues: list[Issue] | None = None, status: int = 422) -> None:
        super().__init__(issues or [], status)


class NotFound(KhealthError):
    def __init__(self, issues: list[Issue] | None = None, status: int = 404) -> None:
        super().__init__(issues or [], status)


class Gone(KhealthError):
    """410: the resource existed and was deleted."""

    def __init__(self, issues: list[Issue] | None = None, status: int = 410) -> None:
        super().__init__(issues or [], status)


class Conflict(KhealthError):
    def __init__(self, issues: list[Issue] | None = None, status: int = 409) -> None:
        super().__init__(issues or [], status)


class PreconditionFailed(KhealthError):
    """412: If-Match named a stale version, or a conditional matched too many."""

    def __init__(self, issues: list[Issue] | None = None, status: int = 412) -> None:
        super().__init__(issues or [], status)


class Unauthorized(KhealthError):
    def __init__(self, issues: list[Issue] | None = None, status: int = 401) -> None:
        super().__init__(issues or [], status)


class Forbidden(KhealthError):
    def __init__(self, issues: list[Issue] | None = None, status: int = 403) -> None:
        super().__init__(issues or [], status)


class UnsupportedMediaType(KhealthError):
    def __init__(self, issues: list[Issue] | None = None, status: int = 415) -> None:
        super().__init__(issues or [], status)


class NotSupported(KhealthError):
    """501/405: a valid FHIR interaction this server does not offer."""

    def __init__(self, issues: list[Issue] | None = None, status: int = 405) -> None:
        super().__init__(issues or [], status)


class PayloadTooLarge(KhealthError):
    def __init__(self, issues: list[Issue] | None = None, status: int = 413) -> None:
        super().__init__(issues or [], status)
