"""One AuditEvent per request (IHE Basic Audit Log Patterns, simplified).

The event names who (token subject, role, client), why (purpose of use), what
interaction, and which resources by reference.  It never holds resource content or
search values: those can carry identifiers.  Issue 5 chains these into a
tamper-evident log.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from khealth.access.context import AccessContext
from khealth.records.clock import format_instant

MAX_ENTITIES = 500  # a large search is audited by its first references and a count

_ACTION = {"create": "C", "read": "R", "vread": "R", "update": "U", "patch": "U", "delete": "D"}


@dataclass(slots=True)
class AuditRecord:
    action: str  # the REST interaction or operation name
    entities: list[str] = field(default_factory=list)
    entity_count: int = 0
    query_type: str | None = None
    type_counts: dict[str, int] = field(default_factory=dict)  # a bulk export: how many per type
    break_glass: bool = False  # something was read only under a break-the-glass grant
    patients: set[str] = field(default_factory=set)  # whose compartments were touched
    #: entities whose compartments are in ``patients`` already (written by this request)
    located: set[str] = field(default_factory=set)

    def saw(self, resource_type: str, id: str) -> None:
        self.entity_count += 1
        if len(self.entities) < MAX_ENTITIES:
            self.entities.append(f"{resource_type}/{id}")

    def changed(
        self, resource_type: str, id: str, _letter: str, compartments: frozenset[str] | None = None
    ) -> None:
        """A write; with the compartments it was stored under, which then need no lookup."""
        self.saw(resource_type, id)
        if compartments is not None:
            self.patients.update(compartments)
            self.located.add(f"{resource_type}/{id}")

    def searched(self, resource_type: str) -> None:
        self.query_type = resource_type


def audit_event(
    ctx: AccessContext, record: AuditRecord, recorded: int, outcome: str, note: str | None
) -> bytes:
    event = {
        "resourceType": "AuditEvent",
        "id": str(uuid.uuid4()),
        "type": {
            "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
            "code": "rest",
        },
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": record.action}],
        "action": _ACTION.get(record.action, "E"),
        "recorded": format_instant(recorded),
        "outcome": outcome,
        "purposeOfUse": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                        "code": str(ctx.purpose),
                    }
                ]
            }
        ],
        "agent": [
            {
                "who": {"identifier": {"value": ctx.subject}},
                "requestor": True,
                "role": [{"text": str(ctx.role)}],
                **({"altId": ctx.client_id} if ctx.client_id else {}),
            }
        ],
        "source": {"observer": {"display": "khealth"}},
        "entity": [{"what": {"reference": ref}} for ref in record.entities],
    }
    if ctx.facility:  # the organisation a citizen's access log names (never a person)
        event["agent"][0]["location"] = {"identifier": {"value": ctx.facility}}  # type: ignore[index]
    event["entity"].extend(_patient_entity(p) for p in sorted(record.patients))  # type: ignore[attr-defined]
    if record.query_type:
        event["entity"].append({"type": {"code": "2"}, "name": record.query_type})  # type: ignore[attr-defined]
    event["entity"].extend(  # type: ignore[attr-defined]
        {
            "type": {"system": "http://hl7.org/fhir/resource-types", "code": resource_type},
            "detail": [{"type": "count", "valueString": str(count)}],
        }
        for resource_type, count in record.type_counts.items()
    )
    if record.break_glass:
        _flag_break_glass(event)
    if record.entity_count > len(record.entities):
        event["outcomeDesc"] = (
            f"{record.entity_count} resources; first {len(record.entities)} listed"
        )
    elif note:
        event["outcomeDesc"] = note
    if record.break_glass:
        event["outcomeDesc"] = f"break-the-glass access; {event.get('outcomeDesc', '')}".rstrip(
            "; "
        )
    return orjson.dumps(event)


def _patient_entity(patient: str) -> dict[str, Any]:
    """IHE BALP: the patient an access concerns, as entity role 1 (Patient), so that a
    chained entry names whose record it touched."""
    return {
        "what": {"reference": f"Patient/{patient}"},
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1"},
        "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1"},
    }


def _flag_break_glass(event: dict[str, Any]) -> None:
    """An access under break-the-glass: purpose ETREAT and the BTG security label, so the
    post-hoc review can find every one (IHE BALP; v3-ActReason BTG)."""
    reasons = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
    event["purposeOfEvent"] = [{"coding": [{"system": reasons, "code": "ETREAT"}]}]
    event["meta"] = {"security": [{"system": reasons, "code": "BTG", "display": "break the glass"}]}
