"""AccessContext: who is asking, in what role, with which rights, and why.

Every read or write of a resource carries one of these into the repository (the one
door).  It is built by the web layer from a verified bearer token, or by a CLI command
or job for its own service identity; domain code never builds one from user input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from khealth.access.scopes import Scope


class Role(StrEnum):
    CITIZEN = "citizen"
    GUARDIAN = "guardian"
    CLINICIAN = "clinician"
    HOSPITAL_SYSTEM = "hospital-system"
    EMS = "ems"
    RESEARCHER = "researcher"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    SERVICE = "service"  # the platform's own jobs (import, export workers)


class PurposeOfUse(StrEnum):
    """HL7 v3 PurposeOfUse codes (http://terminology.hl7.org/CodeSystem/v3-ActReason)."""

    TREATMENT = "TREAT"
    EMERGENCY = "ETREAT"
    PATIENT_REQUEST = "PATRQT"
    RESEARCH = "HRESCH"
    OPERATIONS = "HOPERAT"
    PUBLIC_HEALTH = "PUBHLTH"


@dataclass(frozen=True, slots=True)
class AccessContext:
    subject: str  # stable id of the caller (token `sub`), never a name
    role: Role
    scopes: tuple[Scope, ...]
    patient: str | None = None  # SMART launch patient: restricts patient/ scopes to its compartment
    purpose: PurposeOfUse = PurposeOfUse.TREATMENT
    facility: str | None = None  # Organization id of a clinician or hospital system
    client_id: str | None = None
    token_id: str | None = None  # jti, for audit correlation
    extra: dict[str, str] = field(default_factory=dict)

    def can(self, resource_type: str, interaction: str) -> bool:
        """Does any scope grant ``interaction`` (one of c r u d s) on ``resource_type``?"""
        return any(s.allows(resource_type, interaction) for s in self.scopes)

    def compartment_bound(self, resource_type: str, interaction: str) -> bool:
        """True when the only scopes allowing this are ``patient/`` scopes: the request
        must then stay inside the launch patient's compartment."""
        allowing = [s for s in self.scopes if s.allows(resource_type, interaction)]
        return bool(allowing) and all(s.context == "patient" for s in allowing)
