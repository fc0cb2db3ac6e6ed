"""What linkage compares, read from a stored Patient (FHIR JSON, RRN already a token)."""

from __future__ import annotations

import re
from typing import Any

from khealth.identity.model import PatientRecord
from khealth.records.identifiers import rrn_token_of

_NON_DIGITS = re.compile(r"\D")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ROAD_NAME_URL = "roadName"


def patient_record(resource: dict[str, Any]) -> PatientRecord:
    surname, name = _name(resource)
    birth = resource.get("birthDate")
    return PatientRecord(
        patient_id=str(resource.get("id", "")),
        token=rrn_token_of(resource),
        name=name,
        surname=surname,
        birth_date=birth if isinstance(birth, str) and _DATE.fullmatch(birth) else None,
        sex=_text(resource.get("gender")),
        phone=_mobile(resource.get("telecom")),
        district=_address_part(resource, "district"),
        road=_road(resource),
    )


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _name(resource: dict[str, Any]) -> tuple[str | None, str | None]:
    names = [n for n in resource.get("name") or () if isinstance(n, dict)]
    if not names:
        return None, None
    chosen = next((n for n in names if n.get("use") == "official"), names[0])
    family = _text(chosen.get("family")) or ""
    given = "".join(g for g in chosen.get("given") or () if isinstance(g, str))
    full = (family + given) or _text(chosen.get("text")) or ""
    full = "".join(full.split())
    return (family or full[:1] or None), (full or None)


def _mobile(telecom: Any) -> str | None:
    phones = [t for t in telecom or () if isinstance(t, dict) and t.get("system") == "phone"]
    chosen = next((t for t in phones if t.get("use") == "mobile"), phones[0] if phones else None)
    if chosen is None or not isinstance(chosen.get("value"), str):
        return None
    digits = _NON_DIGITS.sub("", chosen["value"])
    return digits or None


def _home_address(resource: dict[str, Any]) -> dict[str, Any] | None:
    addresses = [a for a in resource.get("address") or () if isinstance(a, dict)]
    return next(
        (a for a in addresses if a.get("use") == "home"), addresses[0] if addresses else None
    )


def _address_part(resource: dict[str, Any], part: str) -> str | None:
    address = _home_address(resource)
    return _text(address.get(part)) if address else None


def _road(resource: dict[str, Any]) -> str | None:
    """The road name from the KR Core road-name-address extension, else the first line
    without its building number."""
    address = _home_address(resource)
    if address is None:
        return None
    for extension in address.get("extension") or ():
        for part in extension.get("extension") or () if isinstance(extension, dict) else ():
            if isinstance(part, dict) and part.get("url") == _ROAD_NAME_URL:
                return _text(part.get("valueString"))
    lines = [line for line in address.get("line") or () if isinstance(line, str)]
    return _text(re.sub(r"\s*\d[\d-]*$", "", lines[0])) if lines else None
