"""HL7 v2 message → FHIR transaction entries: the header, the Patient (from PID) and the
Provenance every message carries, and the dispatch to the per-type mappers.

Field semantics follow microsoft/FHIR-Converter's ``Hl7v2`` Liquid templates.  Resources
are keyed by identifiers (conditional PUT / ifNoneExist), so that one facility's MRN is one
Patient and a visit number one Encounter however many messages mention them.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from khealth.access.rrn import RRN_TOKEN_SYSTEM, looks_like_rrn, tokenise_rrn
from khealth.fhir.search_values import escape
from khealth.ingest.hl7v2 import datatypes as dt
from khealth.ingest.hl7v2.errors import Hl7Error, invalid, missing
from khealth.ingest.hl7v2.message import Message, Segment, pick
from khealth.ingest.hl7v2.model import Header, Mapped
from khealth.records.clock import format_instant

_GENDER = {"M": "male", "F": "female", "O": "other", "A": "other", "U": "unknown", "N": "unknown"}


def facility_key(message: Message) -> str:
    """The sending facility as the ledger keys it: MSH-4's universal id, else its namespace,
    else MSH-3 (some senders name only the application)."""
    msh = message.msh
    return (msh.get(4, 2) or msh.get(4, 1) or msh.get(3, 1))[:64]


def header(message: Message, raw: bytes) -> Header:
    msh = message.msh
    namespace, universal, kind = msh.get(4, 1), msh.get(4, 2), msh.get(4, 3)
    if not namespace and not universal:
        namespace = msh.get(3, 1)  # some senders leave MSH-4 empty and name only the app
    if not namespace and not universal:
        raise Hl7Error("AR", "MSH", 1, 4, "101", "MSH-4 sending facility is required")
    if not message.control_id:
        raise Hl7Error("AR", "MSH", 1, 10, "101", "MSH-10 message control id is required")
    code, event = message.message_type[:2]
    if not code:
        raise Hl7Error("AR", "MSH", 1, 9, "101", "MSH-9 message type is required")
    facility = (universal or namespace)[:64]
    return Header(
        facility=facility,
        facility_system=dt.hd_system(namespace, universal, kind) or "",
        facility_name=namespace or universal,
        control_id=message.control_id[:64],
        message_type=f"{code}^{event}",
        event=event,
        version=msh.get(12),
        message_time=dt.epoch_us(msh.get(7)),
        sha256=hashlib.sha256(raw).hexdigest(),
    )


def _search_escape(text: str) -> str:
    """FHIR search escaping, then URL quoting."""
    return quote(escape(text), safe="")


def criteria(identifier: dict[str, Any]) -> str:
    """``identifier=system|value`` for a conditional URL."""
    return (
        f"identifier={_search_escape(identifier['system'])}|{_search_escape(identifier['value'])}"
    )


def facility_system(h: Header, what: str) -> str:
    """The namespace of a facility's own numbers (visits, orders, results)."""
    return f"urn:khealth:hl7v2:{dt.uri_token(h.facility)}:{what}"


def new_url() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def patient_identifiers(
    pid: Segment, h: Header, rrn_key: bytes
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """PID-3 identifiers (plus a resident number from PID-2, 4 or 19, tokenised) and the
    one that keys the Patient: the first medical record number, else the first."""
    found: list[dict[str, Any]] = []
    tokens: list[dict[str, Any]] = []
    for field_no in (2, 3, 4, 19):
        for rep in pid.reps(field_no):
            value = pick(rep, 1)
            if value and looks_like_rrn(value):
                tokens.append({"system": RRN_TOKEN_SYSTEM, "value": tokenise_rrn(value, rrn_key)})
            elif field_no == 3:
                ident = dt.identifier(rep, facility_system(h, "patient"))
                if ident:
                    found.append(scope_local(ident, h))
    if not found:
        raise missing("PID", 3, "PID-3 patient identifier (other than a resident number)")
    key = next((i for i in found if _type_code(i) == "MR"), found[0])
    unique_tokens = [dict(t) for t in {t["value"]: t for t in tokens}.values()]
    return [*found, *unique_tokens], key


def scope_local(ident: dict[str, Any], h: Header) -> dict[str, Any]:
    """A local assigning authority (no OID) is only unique inside its facility."""
    system = str(ident["system"])
    prefix = "urn:khealth:hl7v2:authority:"
    if system.startswith(prefix):
        ident = {**ident, "system": facility_system(h, "authority:" + system[len(prefix) :])}
    return ident


def _type_code(ident: dict[str, Any]) -> str:
    codings = (ident.get("type") or {}).get("coding") or [{}]
    return str(codings[0].get("code", ""))


def patient_resource(pid: Segment, h: Header, rrn_key: bytes) -> tuple[dict[str, Any], str]:
    """Patient from PID, and the conditional criteria that key it."""
    identifiers, key = patient_identifiers(pid, h, rrn_key)
    birth = pid.get(7)
    birth_date = dt.date_only(birth) if birth else None
    if birth and birth_date is None:
        raise invalid("PID", 7, "PID-7 date of birth")
    deceased = dt.date_time(pid.get(29)) if pid.get(29) else None
    telecom = [dt.contact_point(r) for r in pid.reps(13)]
    telecom += [
        {**c, "use": "work"} for r in pid.reps(14) if (c := dt.contact_point(r)) is not None
    ]
    resource = dt.clean({
        "resourceType": "Patient",
        "identifier": identifiers,
        "active": True,
        "name": [dt.human_name(r) for r in pid.reps(5)],
        "telecom": telecom,
        "gender": _GENDER.get(pid.get(8).upper()),
        "birthDate": birth_date,
        "deceasedDateTime": deceased,
        "deceasedBoolean": True if pid.get(30).upper() == "Y" and not deceased else None,
        "address": [dt.address(r) for r in pid.reps(11)],
        "maritalStatus": dt.codeable_concept(pid.field(16)[0]) if pid.reps(16) else None,
    })  # fmt: skip
    return resource, criteria(key)


def add_patient(mapped: Mapped, message: Message, rrn_key: bytes, update: bool) -> str:
    """The Patient entry: a conditional update when the message is about the patient (ADT),
    a conditional create when it only refers to them (results, orders).  Returns its fullUrl;
    ``mapped.patient_key`` becomes the identifier value that keys it."""
    pid = message.first("PID")
    if pid is None:
        raise Hl7Error("AE", "PID", 1, 0, "100", "a PID segment is required")
    resource, key = patient_resource(pid, mapped.header, rrn_key)
    mapped.patient_key = key
    url = new_url()
    request = (
        {"method": "PUT", "url": f"Patient?{key}"}
        if update
        else {"method": "POST", "url": "Patient", "ifNoneExist": key}
    )
    mapped.add("PID^1", {"fullUrl": url, "resource": resource, "request": request})
    return url


def add_provenance(mapped: Mapped, received_us: int) -> None:
    """Who sent it (the facility) and which message it was (MSH-10 and a SHA-256 of the
    bytes: the raw message is not kept in the record)."""
    h = mapped.header
    targets = [{"reference": e["fullUrl"]} for e in mapped.entries]
    message_system = facility_system(h, "message")
    resource = dt.clean({
        "resourceType": "Provenance",
        "target": targets,
        "recorded": format_instant(received_us),
        "activity": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0003",
                                 "code": h.event}], "text": h.message_type},
        "agent": [{
            "type": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                "code": "author"}]},
            "who": {"type": "Organization", "display": h.facility_name,
                    "identifier": {"system": h.facility_system, "value": h.facility}},
        }],
        "entity": [
            {"role": "source", "what": {"identifier": {"system": message_system,
                                                       "value": h.control_id},
                                        "display": h.message_type}},
            {"role": "source", "what": {"identifier": {
                "system": "urn:khealth:hl7v2:message-sha256", "value": h.sha256}}},
        ],
    })  # fmt: skip
    mapped.add("MSH^1", {"fullUrl": new_url(), "resource": resource,
                         "request": {"method": "POST", "url": "Provenance"}})  # fmt: skip


Mapper = Callable[[Message, Mapped, bytes], None]


def map_message(message: Message, raw: bytes, rrn_key: bytes, received_us: int) -> Mapped:
    """The transaction entries for one message, or ``Hl7Error`` naming the place."""
    from khealth.ingest.hl7v2 import adt, oru, rde

    h = header(message, raw)
    code, event = h.message_type.split("^")
    mappers: dict[str, dict[str, Mapper]] = {"ADT": adt.MAPPERS, "ORU": oru.MAPPERS,
                                             "RDE": rde.MAPPERS}  # fmt: skip
    by_event = mappers.get(code)
    if by_event is None:
        raise Hl7Error("AR", "MSH", 1, 9, "200", f"message type {code} is not accepted")
    mapper = by_event.get(event)
    if mapper is None:
        raise Hl7Error("AR", "MSH", 1, 9, "201", f"event {code}^{event} is not accepted")
    mapped = Mapped(h)
    mapper(message, mapped, rrn_key)
    add_provenance(mapped, received_us)
    return mapped
