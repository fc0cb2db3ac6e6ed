"""FHIR R4 Consent (http://hl7.org/fhir/R4/consent.html) as plain values, and how one
consent answers one access request.

A consent's ``provision`` tree is read the R4 way: the root provision is the base rule,
nested provisions are exceptions to their parent.  A provision applies to a request when
every criterion it states matches (a criterion it leaves out matches anything); the
deepest applicable provision decides, and among applicable siblings a deny wins.  A
consent whose root does not apply says nothing (``None``).

Sensitive categories (see :mod:`khealth.access.consent`) are let through by a permit only
when a provision on the deciding path names them (by security label or code), so a broad
"share everything" permit never covers mental health, STIs, genetics or reproductive care.

The parser is lenient about what it does not use and strict about what it does: a
provision it cannot read makes the whole consent a deny (fail closed), because skipping an
unreadable deny would widen access.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from khealth.core.errors import KhealthError
from khealth.fhir.fhirdates import date_range

PERMIT = "permit"
DENY = "deny"
#: consent actions (http://terminology.hl7.org/CodeSystem/consentaction) that cover a read
READ_ACTIONS = frozenset({"access", "use", "disclose"})


@dataclass(frozen=True, slots=True)
class Period:
    start: int | None  # µs since the epoch, inclusive
    end: int | None  # µs, inclusive (the end of the stated precision)

    def contains(self, instant: int) -> bool:
        return (self.start is None or instant >= self.start) and (
            self.end is None or instant <= self.end
        )


@dataclass(frozen=True, slots=True)
class Actor:
    """``provision.actor``: a reference (``Organization/x``, ``Practitioner/y``) and/or a
    role code (the platform's roles, e.g. ``EMS``, ``clinician``)."""

    role: str | None
    reference: str | None


@dataclass(frozen=True, slots=True)
class CodeMatch:
    """A ``provision.code`` coding: matches a resource code of the same system (any system
    when None) that starts with ``code`` (so KCD-8 ``F3`` covers ``F32.9``)."""

    system: str | None
    code: str

    def matches(self, system: str, code: str) -> bool:
        return (self.system is None or self.system == system) and code.startswith(self.code)


@dataclass(frozen=True, slots=True)
class Provision:
    type: str  # permit | deny
    period: Period | None = None
    actors: tuple[Actor, ...] = ()
    actions: frozenset[str] = frozenset()
    security_labels: frozenset[str] = frozenset()
    purposes: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()  # resource types
    codes: tuple[CodeMatch, ...] = ()
    data_period: Period | None = None
    data: frozenset[str] = frozenset()  # "Type/id" references
    provisions: tuple[Provision, ...] = ()


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    id: str
    patient: str | None
    status: str
    scope: str | None
    categories: frozenset[str]  # codes of urn:khealth:consent-category (and others)
    policy_rule: str | None
    provision: Provision | None
    version: int = 0


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """What a consent is asked about: who (role, facility, subject), why, what."""

    role: str
    facility: str | None
    subject: str
    purpose: str
    now: int
    resource_type: str
    resource_ref: str  # "Type/id"
    labels: frozenset[str]  # security labels, explicit and implied by sensitive codes
    codes: frozenset[tuple[str, str]]  # (system, code)
    recorded: int | None  # when the data was recorded (µs), for dataPeriod
    action: str = "access"


@dataclass(frozen=True, slots=True)
class Answer:
    """One consent's answer: the effect and the sensitive categories named on the path."""

    effect: str  # permit | deny
    named: frozenset[str] = field(default_factory=frozenset)


#: how provisions name sensitive categories: (labels, codes) -> categories
Namer = Callable[[frozenset[str], tuple[CodeMatch, ...]], frozenset[str]]


# -- evaluation -----------------------------------------------------------------------------
def evaluate(consent: ConsentRecord, request: AccessRequest, namer: Namer) -> Answer | None:
    """This consent's answer to the request, or None when it does not apply."""
    if consent.provision is None:
        rule = (consent.policy_rule or "").upper()
        if rule == "OPTIN":
            return Answer(PERMIT)
        if rule == "OPTOUT":
            return Answer(DENY)
        return None
    return _evaluate(consent.provision, request, namer, frozenset())


def _evaluate(
    provision: Provision, request: AccessRequest, namer: Namer, named: frozenset[str]
) -> Answer | None:
    if not applies(provision, request):
        return None
    here = named | namer(provision.security_labels, provision.codes)
    answers = [_evaluate(child, request, namer, here) for child in provision.provisions]
    denied = [a for a in answers if a is not None and a.effect == DENY]
    if denied:
        return denied[0]
    permitted = [a for a in answers if a is not None]
    if permitted:
        return Answer(PERMIT, frozenset().union(*(a.named for a in permitted)))
    return Answer(provision.type, here)


def applies(p: Provision, r: AccessRequest) -> bool:
    """Does every criterion this provision states match the request?"""
    return (
        (p.period is None or p.period.contains(r.now))
        and (not p.actors or any(_actor_matches(a, r) for a in p.actors))
        and (not p.actions or r.action in p.actions or bool(p.actions & READ_ACTIONS))
        and (not p.security_labels or bool(p.security_labels & r.labels))
        and (not p.purposes or r.purpose in p.purposes)
        and (not p.classes or r.resource_type in p.classes)
        and (not p.codes or any(c.matches(s, k) for c in p.codes for s, k in r.codes))
        and (
            p.data_period is None or (r.recorded is not None and p.data_period.contains(r.recorded))
        )
        and (not p.data or r.resource_ref in p.data)
    )


def _actor_matches(actor: Actor, r: AccessRequest) -> bool:
    ref = actor.reference
    if ref is not None and ref.startswith("Organization/"):
        return r.facility is not None and ref == f"Organization/{r.facility}"
    if ref is not None and ref.split("/", 1)[0] in ("Practitioner", "PractitionerRole"):
        return ref.split("/", 1)[1] == r.subject
    return actor.role is not None and actor.role.lower() == r.role.lower()


def names_instances(consent: ConsentRecord) -> bool:
    """Does any provision name resource instances or a data period?  (Then a decision
    depends on the resource itself, not only on its kind, codes and labels.)"""

    def walk(p: Provision) -> bool:
        return bool(p.data) or p.data_period is not None or any(walk(c) for c in p.provisions)

    return consent.provision is not None and walk(consent.provision)


# -- parsing --------------------------------------------------------------------------------
class UnreadableConsent(KhealthError):
    """A consent the decision point cannot read: treated as a deny."""


def parse_consent(resource: Mapping[str, Any], version: int = 0) -> ConsentRecord:
    """A ConsentRecord from a FHIR R4 Consent; a provision it cannot read gives a consent
    that denies everything (fail closed)."""
    patient = _local_id(_get(resource, "patient", "reference"), "Patient")
    categories = frozenset(_codes(resource.get("category") or []))
    scope = next(iter(_codes([resource.get("scope") or {}])), None)
    rule = _get(resource, "policyRule", "coding", 0, "code")
    base = ConsentRecord(
        id=str(resource.get("id", "")), patient=patient,
        status=str(resource.get("status", "")), scope=scope, categories=categories,
        policy_rule=rule if isinstance(rule, str) else None, provision=None, version=version,
    )  # fmt: skip
    raw = resource.get("provision")
    if raw is None:
        return base
    try:
        provision = parse_provision(raw)
    except (TypeError, ValueError, KeyError, AttributeError, KhealthError):
        provision = Provision(DENY)
    return ConsentRecord(
        base.id, base.patient, base.status, base.scope, base.categories, base.policy_rule,
        provision, version,
    )  # fmt: skip


def parse_provision(raw: Mapping[str, Any]) -> Provision:
    kind = raw.get("type", PERMIT)
    if kind not in (PERMIT, DENY):
        raise ValueError("provision.type")
    return Provision(
        type=kind,
        period=_period(raw.get("period")),
        actors=tuple(_actor(a) for a in raw.get("actor") or []),
        actions=frozenset(_codes(raw.get("action") or [])),
        security_labels=frozenset(_coding_codes(raw.get("securityLabel") or [])),
        purposes=frozenset(_coding_codes(raw.get("purpose") or [])),
        classes=frozenset(_coding_codes(raw.get("class") or [])),
        codes=tuple(
            CodeMatch(c.get("system"), str(c["code"]))
            for concept in raw.get("code") or []
            for c in concept.get("coding") or []
        ),
        data_period=_period(raw.get("dataPeriod")),
        data=frozenset(str(d["reference"]["reference"]) for d in raw.get("data") or []),
        provisions=tuple(parse_provision(p) for p in raw.get("provision") or []),
    )


def _period(raw: Any) -> Period | None:
    if raw is None:
        return None
    start = date_range(raw["start"])[0] if raw.get("start") else None
    end = date_range(raw["end"])[1] if raw.get("end") else None
    return Period(start, end)


def _actor(raw: Mapping[str, Any]) -> Actor:
    role = next(iter(_codes([raw.get("role") or {}])), None)
    reference = _get(raw, "reference", "reference")
    if role is None and reference is None:
        raise ValueError("provision.actor")
    return Actor(role, reference if isinstance(reference, str) else None)


def _codes(concepts: Iterable[Any]) -> Iterable[str]:
    for concept in concepts:
        for coding in concept.get("coding") or []:
            if isinstance(coding.get("code"), str):
                yield coding["code"]


def _coding_codes(codings: Iterable[Any]) -> Iterable[str]:
    for coding in codings:
        if isinstance(coding.get("code"), str):
            yield coding["code"]


def _get(value: Any, *path: str | int) -> Any:
    for step in path:
        if isinstance(step, int):
            value = value[step] if isinstance(value, list) and len(value) > step else None
        else:
            value = value.get(step) if isinstance(value, Mapping) else None
    return value


def _local_id(reference: Any, resource_type: str) -> str | None:
    if isinstance(reference, str) and reference.startswith(f"{resource_type}/"):
        return reference.split("/", 1)[1]
    return None
