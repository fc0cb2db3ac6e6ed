"""Sliding-window rate limits for sign-in and one-time codes (answered with 429).

Counted in the process's memory: each web worker limits on its own, so N workers allow up
to N times the numbers below (docs/auth.md).  A shared counter (a table or Redis) is the
change for a multi-worker deployment; the interface stays.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from khealth.auth.errors import RateLimited


@dataclass(frozen=True, slots=True)
class Limit:
    attempts: int
    window: int  # seconds


# per account (username, or a verification / phone) and per client IP
SIGN_IN_ACCOUNT = Limit(5, 15 * 60)
SIGN_IN_IP = Limit(30, 60)
CODE_SEND_PHONE = Limit(3, 10 * 60)
CODE_SEND_IP = Limit(10, 10 * 60)
CODE_CHECK_ACCOUNT = Limit(5, 10 * 60)
CODE_CHECK_IP = Limit(30, 60)


class RateLimiter:
    def __init__(self, clock: Callable[[], int]) -> None:
        self.clock = clock
        self._hits: dict[str, deque[int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: Limit) -> None:
        """Count one attempt for ``key``; raise RateLimited when over ``limit``."""
        now = self.clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - limit.window:
                hits.popleft()
            if len(hits) >= limit.attempts:
                raise RateLimited(max(1, hits[0] + limit.window - now))
            hits.append(now)
            if len(self._hits) > 100_000:  # bound memory under a flood of distinct keys
                self._prune(now, limit.window)

    def _prune(self, now: int, window: int) -> None:
        stale = [k for k, v in self._hits.items() if not v or v[-1] <= now - window]
        for key in stale:
            del self._hits[key]
