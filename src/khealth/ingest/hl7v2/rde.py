"""RDE^O11 / RDE^O25 (pharmacy encoded order) → MedicationRequest per ORC/RXE group,
after FHIR-Converter's ``RDE_O11`` template: RXE-2 give code → medication, RXE-3/5 give
amount and units → dose, RXR-1 → route, RXE-10/11 → dispense quantity, RXE-12 → refills,
ORC-1/5 → status, ORC-9 → authoredOn, ORC-12 → requester."""

from __future__ import annotations

from typing import Any

from khealth.ingest.hl7v2 import datatypes as dt
from khealth.ingest.hl7v2.errors import Hl7Error, invalid, missing
from khealth.ingest.hl7v2.mapping import Mapper, add_patient, criteria, facility_system, new_url
from khealth.ingest.hl7v2.message import Message, Segment
from khealth.ingest.hl7v2.oru import _number

#: ORC-1 order control (table 0119), then ORC-5 order status (table 0038) → status
_CONTROL = {"CA": "cancelled", "DC": "stopped", "HD": "on-hold", "OC": "cancelled",
            "OD": "stopped", "OH": "on-hold", "RL": "active"}  # fmt: skip
_ORDER_STATUS = {"CA": "cancelled", "CM": "completed", "DC": "stopped", "HD": "on-hold",
                 "IP": "active", "SC": "active", "A": "active"}  # fmt: skip


def _groups(message: Message) -> list[tuple[Segment, int, Segment | None, Segment | None]]:
    """(ORC, its sequence, the RXE and RXR that follow it before the next ORC)."""
    groups: list[tuple[Segment, int, Segment | None, Segment | None]] = []
    orc_count = 0
    for segment in message.segments:
        if segment.name == "ORC":
            orc_count += 1
            groups.append((segment, orc_count, None, None))
        elif groups and segment.name == "RXE" and groups[-1][2] is None:
            orc, n, _, rxr = groups[-1]
            groups[-1] = (orc, n, segment, rxr)
        elif groups and segment.name == "RXR" and groups[-1][3] is None:
            orc, n, rxe, _ = groups[-1]
            groups[-1] = (orc, n, rxe, segment)
    return groups


def _dose(rxe: Segment, sequence: int) -> dict[str, Any] | None:
    amount = rxe.get(3)
    if not amount:
        return None
    value = _number(amount)
    if value is None:
        raise invalid("RXE", 3, "RXE-3 give amount", sequence)
    units = rxe.get(5)
    return {"doseQuantity": dt.clean({"value": value, "unit": rxe.get(5, 2) or units,
                                      "code": units, "system": dt.code_system(rxe.get(5, 3))})}  # fmt: skip


def medication_request(
    orc: Segment, sequence: int, rxe: Segment, rxr: Segment | None, patient: str, mapped: Any
) -> tuple[dict[str, Any], str]:
    medication = dt.codeable_concept(rxe.field(2)[0]) if rxe.reps(2) else None
    if medication is None:
        raise missing("RXE", 2, "RXE-2 give code", sequence)
    placer = orc.get(2) or orc.get(3)
    if not placer:
        raise missing("ORC", 2, "ORC-2 placer or ORC-3 filler order number", sequence)
    identifier = {"system": facility_system(mapped.header, "medication-order"), "value": placer}
    status = _CONTROL.get(orc.get(1).upper()) or _ORDER_STATUS.get(orc.get(5).upper(), "active")
    refills = _number(rxe.get(12)) if rxe.get(12) else None
    quantity = _number(rxe.get(10)) if rxe.get(10) else None
    route = dt.codeable_concept(rxr.field(1)[0]) if rxr is not None and rxr.reps(1) else None
    instructions = [r[0][0] for r in rxe.reps(7) if r and r[0] and r[0][0]]
    dose = _dose(rxe, sequence)
    resource = dt.clean({
        "resourceType": "MedicationRequest",
        "identifier": [identifier],
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": medication,
        "subject": {"reference": patient},
        "authoredOn": dt.date_time(orc.get(9)),
        "requester": next((p for r in orc.reps(12) if (p := dt.practitioner(r))), None),
        "dosageInstruction": [{"text": "; ".join(instructions) or None, "route": route,
                               "doseAndRate": [dose] if dose else None}],
        "dispenseRequest": {
            "numberOfRepeatsAllowed": int(refills) if refills is not None else None,
            "quantity": {"value": quantity, "unit": rxe.get(11, 2) or rxe.get(11)}
            if quantity is not None else None,
        },
    })  # fmt: skip
    return resource, criteria(identifier)


def map_rde(message: Message, mapped: Any, rrn_key: bytes) -> None:
    patient = add_patient(mapped, message, rrn_key, update=False)
    groups = [g for g in _groups(message) if g[2] is not None]
    if not groups:
        raise Hl7Error("AE", "RXE", 1, 0, "100", "an ORC followed by an RXE is required")
    for orc, sequence, rxe, rxr in groups:
        assert rxe is not None
        resource, key = medication_request(orc, sequence, rxe, rxr, patient, mapped)
        mapped.add(f"RXE^{sequence}", {"fullUrl": new_url(), "resource": resource,
                                       "request": {"method": "PUT",
                                                   "url": f"MedicationRequest?{key}"}})  # fmt: skip


MAPPERS: dict[str, Mapper] = {"O11": map_rde, "O25": map_rde}
