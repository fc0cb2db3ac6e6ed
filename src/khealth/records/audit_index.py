"""Whose records a request touched: the patients its audit entry is indexed under, so that a
citizen's "who accessed my record" is one indexed lookup (issue 5).

A Patient counts by its id; any other resource by the compartments stored with it (one
query for the whole request).  Writes and deletes add their compartments as they happen
(a delete leaves no compartment rows behind to look up; a write needs no lookup, which
also spares bulk import a join per batch).  Only the entities the event lists are looked
up (the first ``MAX_ENTITIES`` of a large search).
"""

from __future__ import annotations

from khealth.records.audit import AuditRecord
from khealth.records.ports import StoreSession


def patients_touched(session: StoreSession, record: AuditRecord) -> list[str]:
    keys: list[tuple[str, str]] = []
    found = set(record.patients)
    for ref in record.entities:
        if ref in record.located:
            continue
        resource_type, _, id = ref.partition("/")
        if resource_type == "Patient":
            found.add(id)
        elif resource_type != "Group":  # a Group is not in any compartment
            keys.append((resource_type, id))
    if keys:
        found |= session.patients_of(keys)
    return sorted(found)
