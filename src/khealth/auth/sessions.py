"""Browser sessions of the sign-in pages: an opaque cookie (only its hash is stored), a
CSRF token per session, and idle and absolute timeouts.

| who         | idle    | absolute |
|-------------|---------|----------|
| staff       | 15 min  | 8 h      |  (a shift; HIPAA §164.312(a)(2)(iii) automatic logoff)
| citizen     | 30 min  | 12 h     |
| not signed in | 30 min | 1 h    |

The session id is replaced whenever the session's privilege changes (password accepted,
second factor accepted, citizen verified), so an id planted before sign-in is worthless
(session fixation).  These sessions only carry the sign-in; apps get OAuth tokens.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from khealth.auth.model import Session
from khealth.auth.ports import AuthStore
from khealth.auth.secrets import digest, new_secret


@dataclass(frozen=True, slots=True)
class Timeouts:
    idle: int
    absolute: int


STAFF = Timeouts(15 * 60, 8 * 3600)
CITIZEN = Timeouts(30 * 60, 12 * 3600)
ANONYMOUS = Timeouts(30 * 60, 3600)


def timeouts_for(session: Session) -> Timeouts:
    kind = session.data.get("kind")
    return STAFF if kind == "staff" else CITIZEN if kind == "citizen" else ANONYMOUS


def _now() -> int:
    return int(time.time())


class Sessions:
    def __init__(self, store: AuthStore, clock: Callable[[], int] = _now) -> None:
        self.store, self.clock = store, clock

    def open(self) -> tuple[str, Session]:
        cookie, now = new_secret(), self.clock()
        session = Session(digest(cookie), secrets.token_urlsafe(24), now, now)
        self.store.put_session(session)
        return cookie, session

    def load(self, cookie: str | None) -> Session | None:
        """The live session of ``cookie`` (its last activity now), or None when there is
        none or it timed out (then it is deleted)."""
        if not cookie:
            return None
        session = self.store.get_session(digest(cookie))
        if session is None:
            return None
        now, limits = self.clock(), timeouts_for(session)
        if now - session.last_seen > limits.idle or now - session.created > limits.absolute:
            self.store.delete_session(session.id_hash)
            return None
        touched = replace(session, last_seen=now)
        self.store.put_session(touched)
        return touched

    def save(self, session: Session) -> None:
        self.store.put_session(session)

    def elevate(self, session: Session, **changes: object) -> tuple[str, Session]:
        """A new id (and CSRF token) for a session whose privilege changes; the absolute
        timeout starts again at the first sign-in step."""
        self.store.delete_session(session.id_hash)
        cookie, now = new_secret(), self.clock()
        raised = replace(session, id_hash=digest(cookie), csrf=secrets.token_urlsafe(24),
                         last_seen=now, **changes)  # type: ignore[arg-type]  # fmt: skip
        self.store.put_session(raised)
        return cookie, raised

    def end(self, session: Session) -> None:
        self.store.delete_session(session.id_hash)


def csrf_ok(session: Session | None, sent: str | None) -> bool:
    return bool(session and sent) and secrets.compare_digest(session.csrf, str(sent))  # type: ignore[union-attr]
