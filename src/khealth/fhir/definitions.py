"""Where the official FHIR R4 (4.0.1) definitions are read from.

``scripts/fetch-definitions.sh`` (run by ``make``) installs them into the package's
``definitions`` folder; ``KHEALTH_DEFINITIONS_DIR`` points elsewhere if needed.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import orjson

from khealth.core.errors import KhealthError

FHIR_VERSION = "4.0.1"

#: The resource types this server stores and searches (issue 2's list).
SUPPORTED_TYPES: tuple[str, ...] = (
    "Patient", "Person", "Practitioner", "PractitionerRole", "Organization", "Location",
    "HealthcareService", "Endpoint", "Encounter", "EpisodeOfCare", "Condition", "Observation",
    "DiagnosticReport", "Medication", "MedicationRequest", "MedicationStatement",
    "MedicationDispense", "Immunization", "AllergyIntolerance", "Procedure", "ServiceRequest",
    "ImagingStudy", "DocumentReference", "CarePlan", "Coverage", "Claim", "ExplanationOfBenefit",
    "Consent", "Provenance", "AuditEvent", "Device", "Group", "Flag", "RiskAssessment",
    "QuestionnaireResponse", "Appointment",
)  # fmt: skip


def definitions_dir() -> Path:
    configured = os.environ.get("KHEALTH_DEFINITIONS_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).parent / "definitions"


@functools.cache
def load_definition(name: str) -> Any:
    """Parse one definitions file (e.g. ``search-parameters.json``), once per process."""
    path = definitions_dir() / name
    if not path.exists():
        raise KhealthError.of(
            "exception",
            f"FHIR definitions file {name} is missing from {path.parent}; "
            "run `make definitions` (scripts/fetch-definitions.sh)",
        )
    return orjson.loads(path.read_bytes())
