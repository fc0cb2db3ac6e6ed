"""Why a message is refused, in HL7 terms: the ACK code and where (ERR-2, ERL)."""

from __future__ import annotations

from dataclasses import dataclass

#: HL7 table 0357 (message error condition codes) texts for ERR-3
ERROR_CODES = {
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "207": "Application internal error",
}


@dataclass(eq=False)
class Hl7Error(Exception):
    """A refused message. ``ack`` is AE (application error: the content could not be
    mapped or stored) or AR (reject: bad MSH, unsupported type).  ``text`` never holds
    patient data: it names the place, not the value."""

    ack: str
    segment: str
    sequence: int  # 1-based occurrence of the segment in the message
    field: int  # 0 when the whole segment is meant
    code: str  # HL7 table 0357
    text: str

    def __post_init__(self) -> None:
        super().__init__(f"{self.location}: {self.text}")

    @property
    def location(self) -> str:
        """ERR-2 (ERL): ``PID^1^7``."""
        parts = [self.segment, str(self.sequence)]
        if self.field:
            parts.append(str(self.field))
        return "^".join(parts)


def missing(segment: str, field: int, what: str, sequence: int = 1) -> Hl7Error:
    return Hl7Error("AE", segment, sequence, field, "101", f"{what} is required")


def invalid(segment: str, field: int, what: str, sequence: int = 1) -> Hl7Error:
    return Hl7Error("AE", segment, sequence, field, "102", f"{what} is not valid")
