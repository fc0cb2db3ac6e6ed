"""Values of the HL7 v2 feed: the message header we act on, a mapped message, and the
rows of the feed ledger (processed control ids, dead letters, per-facility health)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Header:
    """What MSH tells us. ``facility`` is the sending facility's key (MSH-4's namespace
    or universal id; MSH-3 when MSH-4 is empty), ``facility_system`` its URI."""

    facility: str
    facility_system: str
    facility_name: str
    control_id: str
    message_type: str  # "ADT^A01"
    event: str  # "A01"
    version: str
    message_time: int | None  # MSH-7 in µs since the epoch
    sha256: str  # of the raw bytes: the Provenance names the message by hash, not content


@dataclass(frozen=True, slots=True)
class Merge:
    """A40: the Patient that the surviving one replaces (searched at commit time)."""

    old_identifier: str  # conditional criteria "identifier=system|value"
    old_resource_identifier: dict[str, Any]  # the same, as a FHIR Identifier
    survivor_url: str  # the fullUrl of the surviving Patient's entry


@dataclass(slots=True)
class Mapped:
    """A message as transaction Bundle entries; ``sources[i]`` names the segment entry i
    came from (``PID^1``), so that a storage error can be reported at the HL7 place."""

    header: Header
    entries: list[dict[str, Any]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    merge: Merge | None = None
    patient_key: str = ""  # the Patient's conditional criteria

    def add(self, source: str, entry: dict[str, Any]) -> None:
        self.entries.append(entry)
        self.sources.append(source)


@dataclass(frozen=True, slots=True)
class ProcessedMessage:
    """A message applied (one row per facility and control id, in the data's transaction)."""

    facility: str
    control_id: str
    message_type: str
    received: int  # µs since the epoch
    message_time: int | None
    sha256: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A refused message, kept for operators: the error says where, never what; the
    message itself is sealed (AES-GCM under a key in the data directory)."""

    id: int
    received: int
    facility: str
    message_type: str
    control_id: str
    ack_code: str  # AE | AR
    error: str  # "PID^1^7: ... " (place and reason, no patient data)
    sealed: bytes
    state: str = "new"  # new | replayed
    updated: int = 0


@dataclass(frozen=True, slots=True)
class FacilityStats:
    facility: str
    last_received: int | None
    accepted_hour: int
    accepted_day: int
    errors_hour: int
    errors_day: int
    lag_avg_ms_day: float | None  # received - MSH-7, over the day's accepted messages
    lag_max_ms_day: float | None
