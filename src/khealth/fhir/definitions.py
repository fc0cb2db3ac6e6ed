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

#: The core resource types of the city record (issue 2's list): every one of them is
#: tested for search; the server stores and searches every other R4 type the same way.
CORE_TYPES: tuple[str, ...] = (
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


def release_parsed() -> None:
    """Forget the parsed files (~60 MB, most of it ``profiles-resources.json``).  What was
    compiled from them stays cached where it was built; a later need parses a file again.
    For long bulk imports, whose processes must stay within their memory budget."""
    load_definition.cache_clear()


def _all_resource_types() -> tuple[str, ...]:
    """Concrete resource types of the R4 specification (not Medplum's own)."""
    bundle = load_definition("profiles-resources.json")
    names = {
        sd["type"]
        for sd in (e["resource"] for e in bundle["entry"])
        if sd.get("resourceType") == "StructureDefinition"
        and sd.get("kind") == "resource"
        and not sd.get("abstract")
        and sd.get("url", "").startswith("http://hl7.org/fhir/StructureDefinition/")
    }
    return tuple(sorted(names - _NOT_STORED))


#: Types that only travel in messages and are never stored as records.
_NOT_STORED = frozenset({"Parameters", "OperationOutcome"})

#: Every R4 resource type this server stores and searches.
SUPPORTED_TYPES: tuple[str, ...] = _all_resource_types()
