"""/api/feeds: operator views of the hospital feeds (issue 4): per-facility health, and
the HL7 v2 dead letters with replay.

Operators only (role ``operator`` or a ``system/`` token): the lists carry places and
reasons, never message content; a replay writes through the record service like the
listener does.  Errors are RFC 9457 problem details through ``web/errors.py``.
"""

from __future__ import annotations

import threading
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from khealth.access.context import AccessContext, Role
from khealth.core.errors import Forbidden, Issue, NotFound
from khealth.ingest.hl7v2.model import DeadLetter
from khealth.ingest.hl7v2.service import Hl7Feed
from khealth.web.deps import access_context, services

router = APIRouter(prefix="/api/feeds", tags=["feeds"])
_BUILD_LOCK = threading.Lock()


def operator(caller: Annotated[AccessContext, Depends(access_context)]) -> AccessContext:
    if caller.role == Role.OPERATOR or any(s.context == "system" for s in caller.scopes):
        return caller
    raise Forbidden([Issue("forbidden", "feed operations need an operator or system token")])


def feed(request: Request) -> Hl7Feed:
    """The app's HL7 v2 feed, built on first use over the app's store."""
    found: Hl7Feed | None = getattr(request.app.state, "hl7_feed", None)
    if found is None:
        with _BUILD_LOCK:
            found = getattr(request.app.state, "hl7_feed", None)
            if found is None:
                from khealth.store.feeds_sql import open_feed

                s = services(request)
                found = open_feed(s.store, s.records, s.settings.data_dir)
                request.app.state.hl7_feed = found
    return found


def _letter(letter: DeadLetter) -> dict[str, Any]:
    return {"id": letter.id, "received": _iso(letter.received), "facility": letter.facility,
            "messageType": letter.message_type, "controlId": letter.control_id,
            "ack": letter.ack_code, "error": letter.error, "state": letter.state,
            "updated": _iso(letter.updated)}  # fmt: skip


def _iso(us: int | None) -> str | None:
    from khealth.records.clock import format_instant

    return format_instant(us) if us else None


@router.get("/health", summary="Per-facility feed health / 기관별 연계 상태")
def health(
    _caller: Annotated[AccessContext, Depends(operator)], hl7: Annotated[Hl7Feed, Depends(feed)]
) -> dict[str, Any]:
    """For each sending facility: the last message received, accepted and refused messages in
    the last hour and day, the error rate over the day, and the lag between the message time
    (MSH-7) and its arrival (average and maximum over the day, milliseconds)."""
    now = time.time_ns() // 1000
    facilities = []
    for s in hl7.ledger.facility_stats(now):
        total = s.accepted_day + s.errors_day
        facilities.append({
            "facility": s.facility, "lastReceived": _iso(s.last_received),
            "acceptedLastHour": s.accepted_hour, "acceptedLastDay": s.accepted_day,
            "errorsLastHour": s.errors_hour, "errorsLastDay": s.errors_day,
            "errorRateLastDay": round(s.errors_day / total, 4) if total else 0.0,
            "lagAvgMsLastDay": s.lag_avg_ms_day, "lagMaxMsLastDay": s.lag_max_ms_day,
        })  # fmt: skip
    return {"generated": _iso(now), "facilities": facilities}


@router.get("/dead-letters", summary="Refused HL7 v2 messages / 처리 실패 메시지")
def dead_letters(
    _caller: Annotated[AccessContext, Depends(operator)],
    hl7: Annotated[Hl7Feed, Depends(feed)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    include_replayed: Annotated[bool, Query(alias="includeReplayed")] = False,
) -> dict[str, Any]:
    """Newest first: where and why each message was refused (never its content)."""
    return {"deadLetters": [_letter(d) for d in hl7.ledger.dead_letters(limit, include_replayed)]}


@router.post("/dead-letters/{letter_id}/replay", summary="Replay a refused message / 재처리")
def replay(
    letter_id: int,
    _caller: Annotated[AccessContext, Depends(operator)],
    hl7: Annotated[Hl7Feed, Depends(feed)],
) -> dict[str, Any]:
    """Run the message again (after a fix to the mapping or to the data it refers to). On
    success the letter is marked ``replayed``; otherwise its error is updated."""
    try:
        applied, ack = hl7.replay(letter_id)
    except KeyError:
        raise NotFound([Issue("not-found", "no such dead letter")]) from None
    letter = hl7.ledger.dead_letter(letter_id)
    assert letter is not None
    return {"applied": applied, "ack": _ack_code(ack), "deadLetter": _letter(letter)}


def _ack_code(ack: bytes) -> str:
    for segment in ack.split(b"\r"):
        if segment.startswith(b"MSA"):
            return segment.decode("utf-8", "replace").split(segment.decode()[3])[1]
    return ""
