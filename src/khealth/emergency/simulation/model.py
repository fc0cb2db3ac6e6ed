"""Values the simulation produces: one :class:`Outcome` per incident and policy."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

#: The pathways the report breaks times down by, keyed by the incident's TRUE condition.
GROUPS = {"stemi": "stemi", "stroke_lvo": "stroke_lvo", "major_trauma": "major_trauma"}


@dataclass(frozen=True, slots=True)
class Inquiry:
    """One phone inquiry to an ER: who, when it answered, and why it declined (None: accepted)."""

    facility_id: str
    answered_at: dt.datetime
    declined: str | None
    meets_need: bool | None = None  # the ranking's view, recommended policy only
    within_window: bool | None = None
    fallback: bool = False  # the ranking said no capable ER could take the patient (in time)


@dataclass(frozen=True, slots=True)
class Outcome:
    incident_id: str
    true_condition: str
    true_need: str | None  # Capability value the true condition needs, None: any ER
    triage_pathway: str | None  # what the crew's triage suspected
    call: dt.datetime
    first_contact: dt.datetime  # crew at the patient (STEMI clock)
    inquiries: tuple[Inquiry, ...]
    first_hospital: str | None  # where the ambulance took the patient
    final_hospital: str | None  # where definitive care was given (after a transfer, if any)
    definitive_at: dt.datetime | None
    transferred: bool  # secondary transfer: the first hospital could not give definitive care
    forced: bool  # every ER declined; the crew brought the patient to its first choice anyway
    failed: str | None = None  # why no hospital was reached (None: one was)

    @property
    def declines(self) -> int:
        return sum(1 for i in self.inquiries if i.declined is not None)

    @property
    def minutes_to_definitive(self) -> float | None:
        if self.definitive_at is None:
            return None
        return (self.definitive_at - self.call).total_seconds() / 60

    @property
    def capable_first_time(self) -> bool:
        """The first ER asked accepted and could give the definitive care (no bounce)."""
        return self.declines == 0 and not self.transferred and not self.forced and not self.failed

    @property
    def group(self) -> str:
        return GROUPS.get(self.true_condition, "other")
