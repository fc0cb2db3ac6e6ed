"""The consent decision point: may this caller see this resource, now, for this purpose?

``decide(ctx, meta, consents)`` answers permit, deny or permit-with-redaction with reasons
(short, fixed texts: never an identifier or a clinical value).  The default policy per role
(docs/consent.md has the table and the legal basis):

* the platform's own service identity (import, workers): permit (it runs the platform);
* a citizen or guardian: their own record, all of it (의료법 art. 21: a patient may see their
  records); anyone else's: deny;
* a clinician or hospital system: what its facility holds; other facilities' records only
  under an active consent whose category opens the purpose (cross-hospital treatment);
* an EMS crew: what it wrote itself; anything else only under an emergency (or treatment
  sharing) consent or a break-the-glass grant; its purpose is always ``ETREAT``;
* a researcher: never through FHIR (the Open Lab has its own separate consent);
* an auditor: AuditEvents only;
* an operator: no clinical data; with purpose ``HOPERAT`` the administrative types in
  ``OPERATIONS_TYPES`` (identity and consent support), never sensitive ones.

Resources outside every patient compartment (Organization, Practitioner, Location...) are
not personal health data: permit.  Sensitive categories need a permit that names them; a
break-the-glass grant never opens them.  An explicit deny in a consent beats any permit and is
lifted only by break-the-glass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from khealth.access.break_glass import BreakGlassGrant
from khealth.access.consent import ResourceMeta, consent_purposes, named_categories
from khealth.access.consent_model import (
    DENY,
    PERMIT,
    AccessRequest,
    ConsentRecord,
    evaluate,
)
from khealth.access.context import AccessContext, PurposeOfUse, Role

OPERATIONS_TYPES = frozenset({"Patient", "Person", "Consent", "Coverage", "Account"})
CONSENT_SCOPES = frozenset({"patient-privacy"})


class Effect(StrEnum):
    PERMIT = "permit"
    DENY = "deny"
    PERMIT_WITH_REDACTION = "permit-with-redaction"


@dataclass(frozen=True, slots=True)
class Decision:
    effect: Effect
    reasons: tuple[str, ...]
    break_glass: bool = False  # permitted only because of a break-the-glass grant

    @property
    def allowed(self) -> bool:
        return self.effect != Effect.DENY


def permit(reason: str, redact: bool = False, break_glass: bool = False) -> Decision:
    effect = Effect.PERMIT_WITH_REDACTION if redact else Effect.PERMIT
    return Decision(effect, (reason,), break_glass)


def deny(reason: str) -> Decision:
    return Decision(Effect.DENY, (reason,))


def exempt(ctx: AccessContext) -> bool:
    """Callers the decision point never restricts, so the repository can skip it: the
    platform's service identity, and a citizen or guardian whose every scope is a
    ``patient/`` scope bound to their patient (the store already keeps them in it)."""
    if ctx.role == Role.SERVICE:
        return True
    return (
        ctx.role in (Role.CITIZEN, Role.GUARDIAN)
        and ctx.patient is not None
        and bool(ctx.scopes)
        and all(s.context == "patient" for s in ctx.scopes)
    )


def request_purpose(ctx: AccessContext) -> str:
    return str(PurposeOfUse.EMERGENCY) if ctx.role == Role.EMS else str(ctx.purpose)


def decide(
    ctx: AccessContext,
    meta: ResourceMeta,
    consents: Sequence[ConsentRecord],
    *,
    now: int,
    grant: BreakGlassGrant | None = None,
    write: bool = False,
) -> Decision:
    """The decision for one resource.  ``consents`` are the active consents of the
    resource's patients (others are ignored); ``grant`` a break-the-glass grant of this
    caller for one of them; ``write`` asks for an update or delete of it."""
    if ctx.role == Role.SERVICE:
        return permit("platform service")
    if not meta.patients:
        return permit("not in a patient compartment")
    redact = bool(meta.displayed_refs)
    if ctx.role in (Role.CITIZEN, Role.GUARDIAN):
        if ctx.patient is not None and ctx.patient in meta.patients:
            return permit("own record")
        return deny("another person's record")
    if ctx.role == Role.RESEARCHER:
        return deny("research reads only through the Open Lab")
    if ctx.role == Role.AUDITOR:
        return permit("audit trail") if meta.resource_type == "AuditEvent" else deny("auditor")
    if ctx.role == Role.OPERATOR:
        return _operator(ctx, meta)
    if _holds(ctx, meta):
        return permit("held by the caller's facility or written by the caller", redact)
    if ctx.role not in (Role.CLINICIAN, Role.HOSPITAL_SYSTEM, Role.EMS):
        return deny("role without access to patient records")
    return _by_consent(ctx, meta, consents, now, grant, write, redact)


def _operator(ctx: AccessContext, meta: ResourceMeta) -> Decision:
    if (
        ctx.purpose == PurposeOfUse.OPERATIONS
        and meta.resource_type in OPERATIONS_TYPES
        and not meta.sensitive
    ):
        return permit("operations: administrative data")
    return deny("operators do not read clinical data")


def _holds(ctx: AccessContext, meta: ResourceMeta) -> bool:
    if ctx.facility is not None and f"facility:{ctx.facility}" in meta.holders:
        return True
    return ctx.role == Role.EMS and f"agent:{ctx.subject}" in meta.holders


def _by_consent(
    ctx: AccessContext, meta: ResourceMeta, consents: Sequence[ConsentRecord], now: int,
    grant: BreakGlassGrant | None, write: bool, redact: bool,
) -> Decision:  # fmt: skip
    answer = consent_answer(ctx, meta, consents, now)
    if answer == PERMIT:
        return permit("permitted by the patient's consent", redact)
    glass = grant is not None and grant.active(now) and grant.patient in meta.patients
    if glass and grant is not None and grant.subject == ctx.subject:
        if meta.sensitive:
            return deny("sensitive data stays closed under break-the-glass")
        if write:
            return deny("break-the-glass access is read-only")
        return permit("break-the-glass", redact, break_glass=True)
    if answer == DENY:
        return deny("denied by the patient's consent")
    if answer == "sensitive":
        return deny("sensitive category not included in the patient's consent")
    return deny("no consent covers this access")


def consent_answer(
    ctx: AccessContext, meta: ResourceMeta, consents: Sequence[ConsentRecord], now: int
) -> str | None:
    """permit, deny, "sensitive" (a permit that does not name the resource's sensitive
    categories) or None, over every patient the resource belongs to: each must permit."""
    request = AccessRequest(
        role=str(ctx.role), facility=ctx.facility, subject=ctx.subject,
        purpose=request_purpose(ctx), now=now, resource_type=meta.resource_type,
        resource_ref=meta.ref, labels=meta.labels, codes=meta.codes, recorded=meta.recorded,
    )  # fmt: skip
    results = [_patient_answer(request, meta, consents, p) for p in sorted(meta.patients)]
    for outcome in (DENY, None, "sensitive"):
        if outcome in results:
            return outcome
    return PERMIT


def _patient_answer(
    request: AccessRequest, meta: ResourceMeta, consents: Sequence[ConsentRecord], patient: str
) -> str | None:
    answers = [
        evaluate(c, request, named_categories)
        for c in consents
        if c.patient == patient
        and c.status == "active"
        and (c.scope is None or c.scope in CONSENT_SCOPES)
        and request.purpose in consent_purposes(c.categories)
    ]
    if any(a is not None and a.effect == DENY for a in answers):
        return DENY
    permits = [a for a in answers if a is not None and a.effect == PERMIT]
    if any(meta.sensitive <= a.named for a in permits):
        return PERMIT
    return "sensitive" if permits else None
