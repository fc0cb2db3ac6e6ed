"""The people of the test suite, in one place (house style, after healthchecks).

Each persona is a token claim set for ``Api.headers(**persona)``: scopes, role, and the
patient or facility the token is bound to.
"""

from __future__ import annotations

from typing import Any

ALICE_PATIENT = "alice"  # citizen; her Patient id in the test city
BOB_PATIENT = "bob"  # alice's guardian
FACILITY_A = "facility-a"

alice: dict[str, Any] = {
    "scope": "patient/*.rs",
    "subject": "alice",
    "role": "citizen",
    "patient": ALICE_PATIENT,
}
bob: dict[str, Any] = {
    "scope": "patient/*.rs",
    "subject": "bob",
    "role": "guardian",
    "patient": ALICE_PATIENT,
}
carol: dict[str, Any] = {
    "scope": "user/*.cruds",
    "subject": "carol",
    "role": "clinician",
    "facility": FACILITY_A,
}
dan: dict[str, Any] = {
    "scope": "user/Patient.rs user/Observation.rs user/Condition.rs user/AllergyIntolerance.rs user/MedicationRequest.rs",
    "subject": "dan",
    "role": "ems",
}
rita: dict[str, Any] = {"scope": "user/Group.rs", "subject": "rita", "role": "researcher"}
olivia: dict[str, Any] = {"scope": "system/*.cruds", "subject": "olivia", "role": "operator"}
mallory: dict[str, Any] = {
    "scope": "patient/Observation.rs",
    "subject": "mallory",
    "role": "citizen",
    "patient": "mallory",
}
