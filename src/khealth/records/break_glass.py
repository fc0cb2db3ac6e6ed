"""Opening a break-the-glass grant through the record service (the rules are in
:mod:`khealth.access.break_glass`).

Two transactions: first the citizen's notice (a Communication, written by the platform's
notifier identity, which alone may write it), then the grant in the requester's own session,
whose audit event names the requester, the patient and the BTG flag.  The notice goes first
so that no grant can exist without one; a failure between the two leaves a notice of an
access that was never opened, which the citizen can see is unused in the audit trail.
"""

from __future__ import annotations

from dataclasses import replace

from khealth.access.break_glass import DEFAULT_TTL_S, BreakGlassGrant, new_grant, notice
from khealth.access.context import AccessContext, Role
from khealth.access.scopes import parse_scopes
from khealth.core.errors import Issue, NotFound
from khealth.fhir.search_parse import parse_search
from khealth.records.clock import format_instant
from khealth.records.ports import StoredVersion
from khealth.records.service import Records

MAX_NOTIFICATIONS = 100
NOTIFIER = AccessContext(
    subject="khealth-notifier", role=Role.SERVICE,
    scopes=parse_scopes("system/Communication.c system/Patient.r"),
)  # fmt: skip


def open_break_glass(
    records: Records, ctx: AccessContext, patient: str, reason_code: str, reason_text: str,
    ttl_s: int = DEFAULT_TTL_S,
) -> BreakGlassGrant:  # fmt: skip
    """Check, notify the citizen, record the grant; Forbidden for a role that may not."""
    grant = new_grant(ctx, patient, reason_code, reason_text, records.clock.now_us(), ttl_s)
    with records.begin(NOTIFIER, "break-glass-notice") as rs:
        found = rs.s.current("Patient", patient)
        if found is None or found.deleted:
            raise NotFound([Issue("not-found", "no such patient")])
        rs.create(notice(grant, format_instant(grant.created)))
    with records.begin(ctx, "break-glass") as rs:
        rs.put_grant(grant)
        rs.audit.saw("Patient", patient)
        rs.audit.break_glass = True
    return grant


def notifications(records: Records, ctx: AccessContext, patient: str) -> list[StoredVersion]:
    """The Communications addressed to a patient, newest first, read with the caller's
    context (a citizen reads their own; the decision point refuses anyone else's)."""
    query = parse_search("Communication", [("recipient", f"Patient/{patient}"), ("_sort", "-sent")])
    with records.begin(ctx, "search-type") as rs:
        return rs.search(replace(query, count=MAX_NOTIFICATIONS)).page.matches
