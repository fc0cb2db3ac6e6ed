"""What linkage compares, read from a stored Patient (FHIR JSON, RRN already a token).

:func:`patient_fields` is the one reading, as a plain tuple (the batch reads 1.4 million of
these, so it avoids building an object per Patient); :func:`patient_record` wraps it for the
online index and the tests.
"""

from __future__ import annotations

import re
from typing import Any

from khealth.access.rrn import RRN_TOKEN_SYSTEM
from khealth.identity.model import PatientRecord

_NON_DIGITS = re.compile(r"\D")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_BUILDING_NUMBER = re.compile(r"\s*\d[\d-]*$")
_ROAD_NAME_URL = "roadName"

#: the fields of :func:`patient_fields`, in order (the PatientRecord fields after the id)
FIELDS = ("token", "name", "surname", "birth_date", "sex", "phone", "district", "road")
Fields = tuple[str | None, str | None, str | None, str | None, str | None, str | None, str | None, str | None]  # fmt: skip


def patient_record(resource: dict[str, Any]) -> PatientRecord:
    return PatientRecord(str(resource.get("id", "")), *patient_fields(resource))


def patient_fields(resource: dict[str, Any]) -> Fields:
    """token, name (family + given, no spaces), surname, birth date, sex, mobile digits,
    home district and road name; None where the Patient does not say."""
    surname, name = _name(resource.get("name"))
    birth = resource.get("birthDate")
    address = _home_address(resource.get("address"))
    return (
        _token(resource.get("identifier")),
        name,
        surname,
        birth if isinstance(birth, str) and _DATE.fullmatch(birth) else None,
        _text(resource.get("gender")),
        _mobile(resource.get("telecom")),
        _text(address.get("district")) if address else None,
        _road(address) if address else None,
    )


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _token(identifiers: Any) -> str | None:
    """The resident-number token (records.identifiers.rrn_token_of, on the list)."""
    for identifier in identifiers or ():
        if isinstance(identifier, dict) and identifier.get("system") == RRN_TOKEN_SYSTEM:
            value = identifier.get("value")
            return value if isinstance(value, str) else None
    return None


def _name(names: Any) -> tuple[str | None, str | None]:
    chosen = None
    for n in names or ():
        if isinstance(n, dict):
            if n.get("use") == "official":
                chosen = n
                break
            chosen = chosen or n
    if chosen is None:
        return None, None
    family = _text(chosen.get("family")) or ""
    given = "".join(g for g in chosen.get("given") or () if isinstance(g, str))
    full = (family + given) or _text(chosen.get("text")) or ""
    full = "".join(full.split())
    return (family or full[:1] or None), (full or None)


def _mobile(telecom: Any) -> str | None:
    chosen = None
    for t in telecom or ():
        if isinstance(t, dict) and t.get("system") == "phone":
            if t.get("use") == "mobile":
                chosen = t
                break
            chosen = chosen or t
    if chosen is None or not isinstance(chosen.get("value"), str):
        return None
    return _NON_DIGITS.sub("", chosen["value"]) or None


def _home_address(addresses: Any) -> dict[str, Any] | None:
    chosen = None
    for a in addresses or ():
        if isinstance(a, dict):
            if a.get("use") == "home":
                return a
            chosen = chosen or a
    return chosen


def _road(address: dict[str, Any]) -> str | None:
    """The road name from the KR Core road-name-address extension, else the first line
    without its building number."""
    for extension in address.get("extension") or ():
        for part in extension.get("extension") or () if isinstance(extension, dict) else ():
            if isinstance(part, dict) and part.get("url") == _ROAD_NAME_URL:
                return _text(part.get("valueString"))
    lines = [line for line in address.get("line") or () if isinstance(line, str)]
    return _text(_BUILDING_NUMBER.sub("", lines[0])) if lines else None
