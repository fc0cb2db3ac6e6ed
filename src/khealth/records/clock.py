"""Time for meta.lastUpdated and audit, injectable so tests can freeze it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


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


def format_instant(us: int) -> str:
    """FHIR instant with microseconds, e.g. ``2026-11-29T08:30:00.123456Z``."""
    return datetime.fromtimestamp(us / 1_000_000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_instant(text: str) -> int:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1_000_000)
