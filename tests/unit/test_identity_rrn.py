"""The resident number becomes a keyed token before anything is stored."""

from __future__ import annotations

import pytest

from khealth.access.rrn import RRN_TOKEN_SYSTEM, tokenise_rrn
from khealth.records.identifiers import protect_identifiers, rrn_token_of

pytestmark = pytest.mark.unit
KEY = b"k" * 32
RRN = "800304-1990013"


def patient(*identifiers: dict[str, str]) -> dict[str, object]:
    return {"resourceType": "Patient", "identifier": list(identifiers)}


def test_an_identifier_under_the_rrn_system_becomes_its_token() -> None:
    out = protect_identifiers(
        "Patient",
        patient({"system": "https://khealth.example.org/fhir/sid/kr-rrn", "value": RRN}),
        KEY,
    )
    assert out["identifier"] == [{"system": RRN_TOKEN_SYSTEM, "value": tokenise_rrn(RRN, KEY)}]
    assert rrn_token_of(out) == tokenise_rrn(RRN, KEY)


def test_an_rrn_shaped_value_under_another_system_is_tokenised_too() -> None:
    out = protect_identifiers(
        "Patient", patient({"system": "urn:x", "value": "8003041990013"}), KEY
    )
    assert RRN not in str(out) and "8003041990013" not in str(out)


def test_the_hyphen_does_not_change_the_token() -> None:
    assert tokenise_rrn(RRN, KEY) == tokenise_rrn(RRN.replace("-", ""), KEY)


def test_the_token_depends_on_the_key() -> None:
    assert tokenise_rrn(RRN, KEY) != tokenise_rrn(RRN, b"j" * 32)


def test_other_identifiers_and_the_callers_object_are_left_alone() -> None:
    mrn = {"system": "urn:mrn", "value": "031000000001"}
    original = patient(mrn, {"system": "https://khealth.example.org/fhir/sid/kr-rrn", "value": RRN})
    out = protect_identifiers("Patient", original, KEY)
    assert out["identifier"][0] == mrn
    assert original["identifier"][1]["value"] == RRN  # type: ignore[index]


def test_a_thirteen_digit_number_on_an_observation_is_not_touched() -> None:
    obs = {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:x", "value": "8003041990013"}],
    }
    assert protect_identifiers("Observation", obs, KEY) is obs
