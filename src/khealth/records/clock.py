"""Time for meta.lastUpdated and audit, injectable so tests can freeze it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from khealth.fhir.fhirdates import format_instant


class Clock(Protocol):
    def now_us(self) -> int: ...


class SystemClock:
    """Wall-clock microseconds, never going backwards within the process (so versions
    written in one transaction keep their order)."""

    def __init__(self) -> None:
        self._last = 0

    def now_us(self) -> int:
        now = time.time_ns() // 1000
        self._last = max(now, self._last + 1)
        return self._last


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_instant(text: str) -> int:
    """Microseconds since the epoch of an ISO instant (no zone = UTC), in integers so that
    a value written by :func:`format_instant` comes back exactly."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // timedelta(microseconds=1)


__all__ = ["Clock", "SystemClock", "format_instant", "parse_instant"]
