"""Values of the DICOMweb use cases: what a store did, per instance."""

from __future__ import annotations

from dataclasses import dataclass, field

# Failure reasons of a store (PS3.4 Annex B / PS3.18 §10.5.3): the standard codes, and
# a short text (never a value from the file) for people reading the response.
PROCESSING_FAILURE = 0x0110
DUPLICATE_INSTANCE = 0x0111
NOT_AUTHORIZED = 0x0124
DOES_NOT_MATCH = 0xA900
CANNOT_UNDERSTAND = 0xC000


@dataclass(frozen=True, slots=True)
class StoredInstance:
    sop_class_uid: str
    sop_uid: str
    study_uid: str
    series_uid: str


@dataclass(frozen=True, slots=True)
class FailedInstance:
    sop_class_uid: str | None
    sop_uid: str | None
    code: int
    reason: str
    part: int  # 1-based position of the part in the request


@dataclass(slots=True)
class StoreOutcome:
    """PS3.18 §10.5.3: 200 when every instance was stored, 409 when none was, else 202."""

    stored: list[StoredInstance] = field(default_factory=list)
    failed: list[FailedInstance] = field(default_factory=list)

    @property
    def status(self) -> int:
        if not self.failed:
            return 200
        return 409 if not self.stored else 202
