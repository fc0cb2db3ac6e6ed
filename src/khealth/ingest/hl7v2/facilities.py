"""Which registered facility sent a message, so that what it sends is held by it.

A resource's holder is the facility in its ``meta.source`` (``urn:khealth:facility:<id>``):
the consent decision point lets that facility's clinicians read what their own hospital
filed.  The feed writes under its own service identity, so the record service does not
stamp for it (a platform job keeps what the source sent); the feed stamps each message's
resources itself with the Organization registered under the message's sending facility
(MSH-4: its universal id, as given or as ``urn:oid:``, or its namespace, e.g. the
요양기관기호 of the city's directory), when exactly one Organization carries one of them.  An unregistered
sender's records stay unstamped, visible only by the citizen's own grants: nothing is
filed under a guessed name.

The Organization is also named on the message's Provenance (``agent.who.reference``) and
as a new Encounter's ``serviceProvider`` when the message did not say.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from khealth.access.consent import FACILITY_SOURCE
from khealth.fhir.search_model import SearchQuery
from khealth.fhir.search_parse import parse_search
from khealth.fhir.search_values import escape
from khealth.ingest.hl7v2.model import Header, Mapped
from khealth.records.clock import Clock
from khealth.records.service import RecordSession

#: how long an answer is trusted (µs): a facility registered later is found within a minute
FOUND_FOR_US = 600_000_000
MISSING_FOR_US = 60_000_000


class FacilityDirectory:
    """MSH-4 facility keys → Organization ids, looked up in the record and remembered."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._known: dict[str, tuple[str | None, int]] = {}  # key → (id, until µs)

    def holders(self, rs: RecordSession, headers: Iterable[Header]) -> dict[str, str | None]:
        """{facility key: its Organization id or None} for the messages' senders."""
        now = self.clock.now_us()
        found: dict[str, str | None] = {}
        for h in headers:
            key = h.facility
            if key in found:
                continue
            known = self._known.get(key)
            if known is None or known[1] <= now:
                organization = _registered(rs, h)
                until = now + (FOUND_FOR_US if organization else MISSING_FOR_US)
                known = self._known[key] = (organization, until)
            found[key] = known[0]
        return found


def _registered(rs: RecordSession, h: Header) -> str | None:
    """The one Organization with an identifier value naming the sender (any system)."""
    names = {h.facility, h.facility_name} - {""}
    names |= {"urn:oid:" + n for n in names if _OID.fullmatch(n)}
    if not names:
        return None
    values = ",".join(sorted(escape(n) for n in names))
    query = parse_search("Organization", [("identifier", values)])
    matches = rs.search(SearchQuery("Organization", query.clauses, count=2)).page.matches
    return matches[0].id if len(matches) == 1 else None


_OID = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+")


def stamp(mapped: Mapped, organization: str) -> None:
    """Hold every resource of the message by ``organization`` (idempotent)."""
    reference = f"Organization/{organization}"
    for entry in mapped.entries:
        resource: dict[str, Any] = entry["resource"]
        resource.setdefault("meta", {})["source"] = FACILITY_SOURCE + organization
        kind = resource.get("resourceType")
        if kind == "Encounter":
            resource.setdefault("serviceProvider", {"reference": reference})
        elif kind == "Provenance":
            for agent in resource.get("agent", []):
                agent.get("who", {})["reference"] = reference
