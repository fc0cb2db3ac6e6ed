"""The access decision the repository asks before every read and write.

Until the trust layer (consent, break-the-glass) lands this enforces SMART scopes and
the patient compartment of ``patient/`` scopes.  Denials never say what exists.
"""

from __future__ import annotations

from khealth.access.context import AccessContext
from khealth.core.errors import Forbidden, Issue
from khealth.fhir.extract import compartment_params

INTERACTION_LETTER = {
    "create": "c",
    "read": "r",
    "vread": "r",
    "history": "r",
    "update": "u",
    "patch": "u",
    "delete": "d",
    "search": "s",
    "export": "r",
}


def require(ctx: AccessContext, resource_type: str, interaction: str) -> None:
    letter = INTERACTION_LETTER[interaction]
    if not ctx.can(resource_type, letter):
        raise Forbidden(
            [
                Issue(
                    "forbidden", f"the token's scopes do not allow {interaction} on {resource_type}"
                )
            ]
        )


def in_patient_compartments(resource_type: str) -> bool:
    """Can resources of this type belong to a patient (R4 CompartmentDefinition Patient)?
    Practitioner, Organization, Location, Medication... cannot: patient scopes read them."""
    return resource_type == "Patient" or resource_type in compartment_params()


def compartment_of(ctx: AccessContext, resource_type: str, interaction: str) -> str | None:
    """The patient compartment the request must stay in, or None when unrestricted."""
    if not in_patient_compartments(resource_type) and interaction in ("read", "vread", "search"):
        return None
    letter = INTERACTION_LETTER[interaction]
    if ctx.compartment_bound(resource_type, letter):
        if ctx.patient is None:
            raise Forbidden([Issue("forbidden", "a patient/ scope needs a patient in the token")])
        return ctx.patient
    return None


def require_in_compartment(
    ctx: AccessContext, resource_type: str, interaction: str, compartments: frozenset[str]
) -> None:
    patient = compartment_of(ctx, resource_type, interaction)
    if patient is not None and patient not in compartments:
        raise Forbidden(
            [Issue("forbidden", f"{resource_type} is outside the patient compartment of the token")]
        )
