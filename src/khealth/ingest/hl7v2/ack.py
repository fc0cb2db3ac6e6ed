"""Acknowledgements (HL7 v2.8 chapter 2, original acknowledgement mode): MSA-1 AA, AE or
AR; MSA-2 the original MSH-10; an ERR segment naming the place (ERR-2, ``PID^1^7``), the
condition (ERR-3, table 0357), the severity (ERR-4) and a text without patient data (ERR-8).
The ACK's MSH mirrors the original: its sender is our receiver and the other way round."""

from __future__ import annotations

import itertools
import time

from khealth.ingest.hl7v2.errors import ERROR_CODES, Hl7Error
from khealth.ingest.hl7v2.message import Delimiters, Message, escape

_COUNTER = itertools.count(1)


def _now() -> str:
    return time.strftime("%Y%m%d%H%M%S%z")


def _mirrored_msh(message: Message | None) -> list[str]:
    """MSH-3..6 swapped, MSH-9 ACK^event^ACK, MSH-11/12 and MSH-18 as received."""
    if message is None:
        return ["MSH", "^~\\&", "KHEALTH", "KHEALTH", "", "", _now(), "", "ACK", _control_id(),
                "P", "2.5"]  # fmt: skip
    msh = message.msh
    event = msh.get(9, 2)
    fields = ["MSH", msh.raw_field(2), msh.raw_field(5), msh.raw_field(6), msh.raw_field(3),
              msh.raw_field(4), _now(), "", f"ACK^{event}^ACK" if event else "ACK",
              _control_id(), msh.raw_field(11) or "P", msh.raw_field(12) or "2.5"]  # fmt: skip
    if message.charset:
        fields += [""] * 5 + [msh.raw_field(18)]
    return fields


def _control_id() -> str:
    return f"KH{time.time_ns() // 1000:x}{next(_COUNTER):x}"


def build_ack(message: Message | None, code: str, error: Hl7Error | None = None) -> bytes:
    """The ACK bytes (segments ended by ``\\r``), encoded in the original's charset."""
    d = message.delimiters if message else Delimiters()
    msh = _mirrored_msh(message)
    control_id = escape(message.control_id, d) if message else ""
    segments = [d.field.join(msh), d.field.join(["MSA", code, control_id])]
    if error is not None:
        condition = f"{error.code}{d.component}{ERROR_CODES.get(error.code, '')}" \
                    f"{d.component}HL70357"  # fmt: skip
        location = error.location.replace("^", d.component)
        severity = "E"
        segments.append(d.field.join(["ERR", "", location, condition, severity, "", "", "",
                                      escape(error.text, d)]))  # fmt: skip
    text = "\r".join(segments) + "\r"
    return text.encode("utf-8")
