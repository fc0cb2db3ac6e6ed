"""From a verified identity to the Patient records a citizen may act for.

1. Patients carrying the CI as an identifier (system :data:`CI_SYSTEM`): hospitals that
   verified the patient through a mobile identity check record it (the synthetic city
   writes it for tertiary and general hospitals; ``synth/history.py``).
2. Otherwise, **a demo lookup**: Patients with the same birth date and mobile number and
   the same name.  This stands in for the platform's master patient index (issue 4), and
   it is only as good as the registration data; docs/auth.md lists it as a limit.

The lookup reads through the record service under a service identity whose purpose is
operations, so each sign-in's Patient search is audited like any other access.
"""

from __future__ import annotations

from typing import Any

import orjson

from khealth.access.context import AccessContext, PurposeOfUse, Role
from khealth.access.scopes import parse_scopes
from khealth.auth.identity_verification import VerifiedIdentity
from khealth.fhir.search_parse import parse_search
from khealth.records.service import Records

CI_SYSTEM = "https://khealth.example.org/fhir/sid/kr-ci"  # = khealth.synth.codes.SID_CI
SIGN_IN_CONTEXT = AccessContext(
    subject="khealth-sign-in",
    role=Role.SERVICE,
    scopes=parse_scopes("system/Patient.rs"),
    purpose=PurposeOfUse.OPERATIONS,
)


def _search(records: Records, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
    query = parse_search("Patient", [*params, ("_count", "20")])
    with records.begin(SIGN_IN_CONTEXT, "citizen-sign-in") as rs:
        matches = rs.search(query).page.matches
    return [orjson.loads(m.content) for m in matches if not m.deleted]


def _names(patient: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for name in patient.get("name", []) or []:
        if isinstance(name, dict):
            text = name.get("text") or (
                str(name.get("family", "")) + "".join(name.get("given", []) or [])
            )
            found.add(str(text).replace(" ", ""))
    return found


def patients_for(records: Records, identity: VerifiedIdentity) -> list[str]:
    """Ids of the Patient records of the verified person (sorted; may be empty)."""
    by_ci = _search(records, [("identifier", f"{CI_SYSTEM}|{identity.ci}")])
    if by_ci:
        return sorted(str(p["id"]) for p in by_ci)
    candidates = _search(records, [("birthdate", identity.birth_date), ("phone", identity.phone)])
    name = identity.name.replace(" ", "")
    return sorted(str(p["id"]) for p in candidates if name in _names(p))
