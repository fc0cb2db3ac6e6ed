"""HL7 v2 data types to FHIR R4 data types, after microsoft/FHIR-Converter's Hl7v2
templates (``DataType/*.liquid``): CX → Identifier, XPN → HumanName, XAD → Address,
XTN → ContactPoint, CE/CWE → CodeableConcept, XCN → Reference, DTM → dateTime.

Every function returns None (or an empty list) for an absent value rather than an empty
string: FHIR forbids empty strings, and ``clean`` drops what is left empty.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from khealth.ingest.hl7v2.message import Repetition, pick

#: the city's offset for times sent without one (Gwangju, KST; no daylight saving)
DEFAULT_OFFSET = "+09:00"

#: HL7 coding-system names (table 0396) → FHIR system URIs
CODE_SYSTEMS = {
    "LN": "http://loinc.org",
    "LOINC": "http://loinc.org",
    "SCT": "http://snomed.info/sct",
    "SNM": "http://snomed.info/sct",
    "SNOMED": "http://snomed.info/sct",
    "I10": "http://hl7.org/fhir/sid/icd-10",
    "I10C": "http://hl7.org/fhir/sid/icd-10-cm",
    "I9": "http://hl7.org/fhir/sid/icd-9-cm",
    "I9C": "http://hl7.org/fhir/sid/icd-9-cm",
    "UCUM": "http://unitsofmeasure.org",
    "NDC": "http://hl7.org/fhir/sid/ndc",
    "RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "RXN": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "CVX": "http://hl7.org/fhir/sid/cvx",
    "C4": "http://www.ama-assn.org/go/cpt",
    "CPT": "http://www.ama-assn.org/go/cpt",
    "KCD": "http://www.hl7korea.or.kr/CodeSystem/kostat-kcd-8",
    "KCD8": "http://www.hl7korea.or.kr/CodeSystem/kostat-kcd-8",
    "EDI": "http://www.hl7korea.or.kr/CodeSystem/hira-edi-procedure",
}
_HL7_TABLE = re.compile(r"HL7(\d{4})")
_DTM = re.compile(
    r"(?P<y>\d{4})(?P<mo>\d{2})?(?P<d>\d{2})?(?P<h>\d{2})?(?P<mi>\d{2})?(?P<s>\d{2})?"
    r"(?:\.(?P<f>\d{1,4}))?(?P<z>[+-]\d{4})?"
)


def clean(value: Any) -> Any:
    """Drop empty strings, lists and objects and None, recursively (FHIR allows none of
    them); strings are stripped.  (Called on every resource a message maps to: it
    dispatches on the exact type rather than walking ``isinstance`` chains.)"""
    kind = type(value)
    if kind is dict:
        out = {}
        for key, item in value.items():
            item = _clean_item(item)
            if item is not _DROP:
                out[key] = item
        return out
    if kind is list:
        return [c for c in map(_clean_item, value) if c is not _DROP]
    if kind is str:
        return value.strip()
    return value


_DROP = object()


def _clean_item(item: Any) -> Any:
    """``clean(item)``, or ``_DROP`` when that is empty or None."""
    kind = type(item)
    if kind is str:
        item = item.strip()
    elif kind is dict or kind is list:
        item = clean(item)
    elif item is None:
        return _DROP
    else:
        return item
    return item if item else _DROP


def cleaned(value: dict[str, Any]) -> dict[str, Any]:
    """``clean`` of an object, typed as one."""
    out: dict[str, Any] = clean(value)
    return out


def code_system(name: str) -> str | None:
    name = name.strip()
    if not name:
        return None
    if name in CODE_SYSTEMS:
        return CODE_SYSTEMS[name]
    table = _HL7_TABLE.fullmatch(name.upper())
    if table:
        return f"http://terminology.hl7.org/CodeSystem/v2-{table.group(1)}"
    return f"urn:khealth:hl7v2:code-system:{uri_token(name)}"


def uri_token(text: str) -> str:
    """A URI-safe form of a name (no spaces or delimiters)."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", text.strip())


def dtm(value: str) -> tuple[str, int] | None:
    """HL7 DTM/TS → (FHIR date or dateTime, precision in characters of the HL7 form).
    A time without an offset gets the city's (``DEFAULT_OFFSET``)."""
    m = _DTM.fullmatch(value.strip())
    if m is None:
        return None
    y, mo, d, h = m["y"], m["mo"], m["d"], m["h"]
    if h is None:
        return "-".join(p for p in (y, mo, d) if p), len(value)
    zone = m["z"]
    offset = f"{zone[:3]}:{zone[3:]}" if zone else DEFAULT_OFFSET
    seconds = m["s"] or "00"
    fraction = f".{m['f']}" if m["f"] else ""
    return f"{y}-{mo}-{d}T{h}:{m['mi'] or '00'}:{seconds}{fraction}{offset}", len(value)


def date_time(value: str) -> str | None:
    found = dtm(value)
    return found[0] if found else None


def date_only(value: str) -> str | None:
    found = dtm(value)
    return found[0][:10] if found else None


def epoch_us(value: str) -> int | None:
    """A DTM as microseconds since the epoch (for lag), or None when it has no time."""
    m = _DTM.fullmatch(value.strip())
    if m is None or m["d"] is None:
        return None
    zone = m["z"] or DEFAULT_OFFSET.replace(":", "")
    sign = -1 if zone[0] == "-" else 1
    offset = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5])))
    try:
        at = datetime(int(m["y"]), int(m["mo"]), int(m["d"]), int(m["h"] or 0),
                      int(m["mi"] or 0), int(m["s"] or 0), tzinfo=offset)  # fmt: skip
    except ValueError:
        return None
    return int(at.astimezone(UTC).timestamp() * 1_000_000)


def coding(rep: Repetition, first: int = 1) -> dict[str, Any] | None:
    code, display, system = (pick(rep, first + i) for i in range(3))
    if not code and not display:
        return None
    return cleaned({"system": code_system(system), "code": code, "display": display})


def codeable_concept(rep: Repetition) -> dict[str, Any] | None:
    """CE/CWE: the primary coding, the alternate (components 4-6), the original text (9)."""
    codings = [c for c in (coding(rep, 1), coding(rep, 4)) if c and c.get("code")]
    text = pick(rep, 9) or (pick(rep, 2) if not codings else "")
    concept = clean({"coding": codings, "text": text})
    return concept or None


def hd_system(namespace: str, universal: str, universal_type: str) -> str | None:
    """An assigning authority or facility (HD) as a URI: its OID or UUID when sent, else
    its local name under our own namespace."""
    kind = universal_type.upper()
    if universal and kind == "ISO" and re.fullmatch(r"[0-2](\.\d+)+", universal):
        return f"urn:oid:{universal}"
    if universal and kind in ("UUID", "GUID"):
        return f"urn:uuid:{universal.lower()}"
    if namespace or universal:
        return f"urn:khealth:hl7v2:authority:{uri_token(namespace or universal)}"
    return None


def identifier(rep: Repetition, default_system: str) -> dict[str, Any] | None:
    """CX: value (1), assigning authority (4, an HD in subcomponents), type code (5)."""
    value = pick(rep, 1)
    if not value:
        return None
    system = hd_system(pick(rep, 4, 1), pick(rep, 4, 2), pick(rep, 4, 3)) or default_system
    kind = pick(rep, 5)
    type_ = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                         "code": kind}]} if kind else None  # fmt: skip
    return cleaned({"type": type_, "system": system, "value": value})


_NAME_USE = {"L": "official", "D": "usual", "M": "maiden", "N": "nickname", "A": "anonymous",
             "B": "official", "C": "official", "S": "anonymous", "T": "temp"}  # fmt: skip


def human_name(rep: Repetition) -> dict[str, Any] | None:
    """XPN: family (1.1), given (2), middle (3), suffix (4), prefix (5), degree (6), use (7)."""
    family = pick(rep, 1, 1)
    given = [g for g in (pick(rep, 2), pick(rep, 3)) if g]
    name = cleaned({
        "use": _NAME_USE.get(pick(rep, 7).upper()),
        "family": family,
        "given": given,
        "prefix": [pick(rep, 5)],
        "suffix": [pick(rep, 4), pick(rep, 6)],
    })  # fmt: skip
    return name if name.get("family") or name.get("given") else None


_ADDRESS_USE = {"H": "home", "B": "work", "O": "work", "C": "temp", "BA": "old"}
_ADDRESS_TYPE = {"M": "postal", "SH": "physical", "P": "physical"}


def address(rep: Repetition) -> dict[str, Any] | None:
    """XAD: street (1.1), other designation (2), city (3), state (4), postal code (5),
    country (6), type (7)."""
    kind = pick(rep, 7).upper()
    found = cleaned({
        "use": _ADDRESS_USE.get(kind),
        "type": _ADDRESS_TYPE.get(kind),
        "line": [pick(rep, 1, 1), pick(rep, 2)],
        "city": pick(rep, 3),
        "state": pick(rep, 4),
        "postalCode": pick(rep, 5),
        "country": pick(rep, 6),
    })  # fmt: skip
    return found if set(found) - {"use", "type"} else None


_PHONE_USE = {"PRN": "home", "ORN": "home", "VHN": "home", "WPN": "work", "EMR": "home",
              "NET": "home", "BPN": "work", "PRS": "mobile"}  # fmt: skip
_PHONE_SYSTEM = {"PH": "phone", "CP": "phone", "FX": "fax", "BP": "pager", "INTERNET": "email",
                 "X.400": "email", "TDD": "other", "TTY": "other", "MD": "other"}  # fmt: skip


def contact_point(rep: Repetition) -> dict[str, Any] | None:
    """XTN: number (1, or country 5 + area 6 + local 7 + extension 8), use (2),
    equipment (3), email (4)."""
    equipment = pick(rep, 3).upper()
    email = pick(rep, 4)
    local = "".join(pick(rep, i) for i in (6, 7))
    value = email if equipment in ("INTERNET", "X.400") and email else pick(rep, 1) or local
    if not value:
        return None
    use = "mobile" if equipment == "CP" else _PHONE_USE.get(pick(rep, 2).upper())
    return cleaned({"system": _PHONE_SYSTEM.get(equipment, "phone"), "value": value, "use": use})


def practitioner(rep: Repetition) -> dict[str, Any] | None:
    """XCN as a logical reference: the identifier (1, authority 9) and the name as display."""
    id_value = pick(rep, 1)
    parts = [pick(rep, 6), pick(rep, 3), pick(rep, 4), pick(rep, 2, 1)]
    display = " ".join(p for p in parts if p)
    if not id_value and not display:
        return None
    system = hd_system(pick(rep, 9, 1), pick(rep, 9, 2), pick(rep, 9, 3))
    return cleaned({
        "type": "Practitioner",
        "identifier": {"system": system, "value": id_value} if id_value else None,
        "display": display,
    })  # fmt: skip
