"""ORU^R01 (unsolicited observation result) → DiagnosticReport per OBR and Observation per
OBX, after FHIR-Converter's ``ORU_R01`` template.

OBX value types: NM → valueQuantity (UCUM when the unit is one), ST/TX/FT → valueString,
CE/CWE/CNE → valueCodeableConcept, SN → Quantity with comparator, Range or Ratio,
DT/TS/DTM → valueDateTime, TM → valueTime; others (ED, RP, …) keep the observation with a
``dataAbsentReason`` of ``unsupported``.  OBX-7 → referenceRange, OBX-8 → interpretation,
OBX-11 → status.
"""

from __future__ import annotations

import re
from typing import Any

from khealth.ingest.hl7v2 import datatypes as dt
from khealth.ingest.hl7v2.errors import Hl7Error, invalid, missing
from khealth.ingest.hl7v2.mapping import Mapper, add_patient, criteria, facility_system, new_url
from khealth.ingest.hl7v2.message import Message, Segment, pick
from khealth.ingest.hl7v2.model import Mapped

#: OBX-11 / OBR-25 result status (HL7 table 0085 / 0123) → FHIR status
_OBSERVATION_STATUS = {"F": "final", "P": "preliminary", "C": "corrected", "X": "cancelled",
                       "W": "entered-in-error", "D": "entered-in-error", "R": "registered",
                       "I": "registered", "S": "preliminary", "U": "final", "A": "amended"}  # fmt: skip
_REPORT_STATUS = {"F": "final", "P": "preliminary", "C": "corrected", "X": "cancelled",
                  "A": "partial", "R": "partial", "I": "registered", "O": "registered",
                  "S": "registered", "Y": "unknown", "Z": "unknown"}  # fmt: skip
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
UCUM = "http://unitsofmeasure.org"
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_RANGE = re.compile(r"\s*([+-]?[\d.]+)\s*[-_~]\s*([+-]?[\d.]+)\s*")
_UCUM_LIKE = re.compile(r"[A-Za-z0-9%/.*\[\]{}()^'-]+")


def _number(text: str) -> float | int | None:
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        return None
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def _quantity(value: float | int, obx: Segment) -> dict[str, Any]:
    """OBX-6 units: code (1), text (2), system (3); UCUM when the sender says so or the
    code reads as a UCUM unit."""
    code, text, system = obx.get(6, 1), obx.get(6, 2), obx.get(6, 3).upper()
    ucum = system in ("UCUM", "ISO+", "ANSI+", "ISO") or (
        not system and bool(code) and _UCUM_LIKE.fullmatch(code) is not None
    )
    return dt.cleaned({"value": value, "unit": text or code, "system": UCUM if ucum and code else None,
                     "code": code if ucum else None})  # fmt: skip


def _structured_numeric(obx: Segment, rep: int) -> dict[str, Any] | None:
    """SN: comparator (1), number (2), separator (3), number (4)."""
    field = obx.field(5)[rep]
    comparator, first, separator, second = (pick(field, i) for i in (1, 2, 3, 4))
    low, high = _number(first), _number(second)
    if low is None:
        return None
    if separator in ("-", "+") and high is not None:
        return {"valueRange": {"low": _quantity(low, obx), "high": _quantity(high, obx)}}
    if separator in (":", "/") and high is not None:
        return {"valueRatio": {"numerator": {"value": low}, "denominator": {"value": high}}}
    quantity = _quantity(low, obx)
    if comparator in ("<", "<=", ">=", ">"):
        quantity["comparator"] = comparator
    return {"valueQuantity": quantity}


def observation_value(obx: Segment, sequence: int) -> dict[str, Any]:
    """The value[x] of one OBX; a malformed value is an AE at OBX-5."""
    kind = obx.get(2).upper()
    reps = obx.reps(5)
    if not reps:
        return {}
    if kind == "NM":
        number = _number(pick(reps[0], 1))
        if number is None:
            raise invalid("OBX", 5, "OBX-5 numeric value", sequence)
        return {"valueQuantity": _quantity(number, obx)}
    if kind in ("ST", "TX", "FT"):
        return {"valueString": "\n".join(pick(r, 1) for r in reps)}
    if kind in ("CE", "CWE", "CNE", "CF"):
        return {"valueCodeableConcept": dt.codeable_concept(reps[0])}
    if kind == "SN":
        found = _structured_numeric(obx, 0)
        if found is None:
            raise invalid("OBX", 5, "OBX-5 structured numeric value", sequence)
        return found
    if kind in ("DT", "TS", "DTM"):
        moment = dt.date_time(pick(reps[0], 1))
        if moment is None:
            raise invalid("OBX", 5, "OBX-5 date/time value", sequence)
        return {"valueDateTime": moment}
    if kind == "TM":
        text = pick(reps[0], 1)
        if not re.fullmatch(r"\d{4}(\d{2})?", text):
            raise invalid("OBX", 5, "OBX-5 time value", sequence)
        return {"valueTime": f"{text[:2]}:{text[2:4]}:{text[4:6] or '00'}"}
    return {"dataAbsentReason": {"coding": [{
        "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
        "code": "unsupported"}], "text": f"HL7 v2 value type {kind or 'missing'}"}}  # fmt: skip


def _reference_range(obx: Segment) -> list[dict[str, Any]]:
    text = obx.get(7)
    if not text:
        return []
    match = _RANGE.fullmatch(text)
    if match:
        low, high = _number(match.group(1)), _number(match.group(2))
        if low is not None and high is not None:
            return [{"low": _quantity(low, obx), "high": _quantity(high, obx), "text": text}]
    return [{"text": text}]


def _interpretation(obx: Segment) -> list[dict[str, Any]]:
    return [
        {"coding": [dt.clean({"system": INTERPRETATION, "code": pick(r, 1),
                              "display": pick(r, 2)})]}
        for r in obx.reps(8) if pick(r, 1)
    ]  # fmt: skip


def _order_identifier(obr: Segment, mapped: Mapped, sequence: int) -> dict[str, Any]:
    """OBR-3 filler order number, else OBR-2 placer (EI: entity, namespace, id, type)."""
    for field_no, what in ((3, "filler-order"), (2, "placer-order")):
        value = obr.get(field_no)
        if value:
            system = dt.hd_system(obr.get(field_no, 2), obr.get(field_no, 3), obr.get(field_no, 4))
            return {"system": system or facility_system(mapped.header, what), "value": value}
    raise missing("OBR", 3, "OBR-3 filler or OBR-2 placer order number", sequence)


def _observation(
    obx: Segment, number: int, order: dict[str, Any] | None, patient: str, effective: str | None,
    mapped: Mapped, notes: list[str],
) -> tuple[dict[str, Any], str]:  # fmt: skip
    code = dt.codeable_concept(obx.field(3)[0]) if obx.reps(3) else None
    if code is None:
        raise missing("OBX", 3, "OBX-3 observation identifier", number)
    set_id = obx.get(1) or str(number)
    base = order["value"] if order else f"{mapped.header.control_id}"
    identifier = {"system": facility_system(mapped.header, "observation"),
                  "value": f"{base}/{set_id}/{obx.get(3)}/{obx.get(4)}"}  # fmt: skip
    resource = dt.clean({
        "resourceType": "Observation",
        "identifier": [identifier],
        "status": _OBSERVATION_STATUS.get(obx.get(11).upper(), "final"),
        "code": code,
        "subject": {"reference": patient},
        "effectiveDateTime": dt.date_time(obx.get(14)) or effective,
        **observation_value(obx, number),
        "interpretation": _interpretation(obx),
        "referenceRange": _reference_range(obx),
        "note": [{"text": n} for n in notes],
    })  # fmt: skip
    return resource, criteria(identifier)


def map_oru(message: Message, mapped: Mapped, rrn_key: bytes) -> None:
    patient = add_patient(mapped, message, rrn_key, update=False)
    if message.first("OBR") is None:
        raise Hl7Error("AE", "OBR", 1, 0, "100", "an OBR segment is required for ORU^R01")
    counts: dict[str, int] = {}
    report: dict[str, Any] | None = None
    order: dict[str, Any] | None = None
    effective: str | None = None
    segments = list(message.segments)
    for index, segment in enumerate(segments):
        counts[segment.name] = sequence = counts.get(segment.name, 0) + 1
        if segment.name == "OBR":
            report, order = _report(segment, sequence, mapped, patient)
            effective = report.get("effectiveDateTime")
        elif segment.name == "OBX":
            notes = _following_notes(segments, index)
            resource, key = _observation(segment, sequence, order, patient, effective, mapped,
                                         notes)  # fmt: skip
            url = new_url()
            mapped.add(f"OBX^{sequence}", {"fullUrl": url, "resource": resource,
                                           "request": {"method": "PUT", "url": f"Observation?{key}"}})  # fmt: skip
            if report is not None:
                report.setdefault("result", []).append({"reference": url})


def _following_notes(segments: list[Segment], index: int) -> list[str]:
    notes: list[str] = []
    for segment in segments[index + 1 :]:
        if segment.name != "NTE":
            break
        text = "\n".join(pick(r, 1) for r in segment.reps(3))
        if text:
            notes.append(text)
    return notes


def _report(
    obr: Segment, sequence: int, mapped: Mapped, patient: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    code = dt.codeable_concept(obr.field(4)[0]) if obr.reps(4) else None
    if code is None:
        raise missing("OBR", 4, "OBR-4 universal service identifier", sequence)
    order = _order_identifier(obr, mapped, sequence)
    issued = dt.date_time(obr.get(22))
    resource: dict[str, Any] = dt.clean({
        "resourceType": "DiagnosticReport",
        "identifier": [order],
        "status": _REPORT_STATUS.get(obr.get(25).upper(), "final"),
        "code": code,
        "subject": {"reference": patient},
        "effectiveDateTime": dt.date_time(obr.get(7)),
        "issued": issued if issued and "T" in issued else None,
    })  # fmt: skip
    mapped.add(f"OBR^{sequence}", {"fullUrl": new_url(), "resource": resource,
                                   "request": {"method": "PUT",
                                               "url": f"DiagnosticReport?{criteria(order)}"}})  # fmt: skip
    return resource, order


MAPPERS: dict[str, Mapper] = {"R01": map_oru}
