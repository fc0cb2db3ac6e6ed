"""FHIR R4 Consent builders for the tests (the platform's categories, provision trees)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from khealth.access.consent import (
    CATEGORY_SYSTEM,
    EMERGENCY_ACCESS,
    TREATMENT_SHARING,
)
from khealth.records.service import Records
from tests.support import system_context

Resource = dict[str, Any]
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
KCD8 = "http://www.hl7korea.or.kr/CodeSystem/kostat-kcd-8"


def consent(
    patient: str, category: str = TREATMENT_SHARING, provision: Resource | None = None,
    status: str = "active", id: str | None = None,
) -> Resource:  # fmt: skip
    body: Resource = {
        "resourceType": "Consent",
        "status": status,
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                              "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": category}]}],
        "patient": {"reference": f"Patient/{patient}"},
        "policyRule": {"coding": [{"system": ACT_CODE, "code": "OPTIN"}]},
        "provision": provision if provision is not None else {"type": "permit"},
    }  # fmt: skip
    if id is not None:
        body["id"] = id
    return body


def label(*codes: str) -> list[Resource]:
    return [{"system": ACT_CODE, "code": c} for c in codes]


def permit_sensitive(*labels: str) -> Resource:
    """Root permit with a nested permit naming these sensitive labels."""
    return {"type": "permit", "provision": [{"type": "permit", "securityLabel": label(*labels)}]}


def share_for_treatment(records: Records, patients: Iterable[str]) -> None:
    """Every patient consents to cross-hospital treatment sharing (no sensitive data)."""
    with records.begin(system_context(), "test-consent") as rs:
        for p in patients:
            rs.create(consent(p))


def emergency_consent(patient: str) -> Resource:
    return consent(patient, EMERGENCY_ACCESS)
