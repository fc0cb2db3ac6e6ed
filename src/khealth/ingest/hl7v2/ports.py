"""What the HL7 v2 feed needs from storage (implemented in ``khealth.store.feeds_sql`` and
``khealth.store.feeds_memory``).

``seen`` and ``record`` (and their group forms) run inside the record session's store
transaction, so that a message's resources and the row saying it was applied commit
together: a message acknowledged AA is applied exactly once, a crash before commit leaves
neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from khealth.ingest.hl7v2.model import DeadLetter, FacilityStats, ProcessedMessage
from khealth.records.ports import StoreSession


class FeedLedger(Protocol):
    def seen(self, session: StoreSession, facility: str, control_id: str) -> bool: ...

    def record(self, session: StoreSession, message: ProcessedMessage) -> None: ...

    def seen_many(
        self, session: StoreSession, keys: Sequence[tuple[str, str]]
    ) -> set[tuple[str, str]]:
        """Which (facility, control id) keys were applied already, in one lookup."""
        ...

    def record_many(self, session: StoreSession, messages: Sequence[ProcessedMessage]) -> None:
        """``record`` for a group commit's messages at once."""
        ...

    def add_dead_letter(self, letter: DeadLetter) -> int:
        """Store a refused message in its own transaction; returns its id."""
        ...

    def dead_letters(self, limit: int, include_replayed: bool) -> list[DeadLetter]:
        """Newest first."""
        ...

    def dead_letter(self, id: int) -> DeadLetter | None: ...

    def update_dead_letter(self, id: int, state: str, error: str, updated: int) -> None: ...

    def facility_stats(self, now: int) -> list[FacilityStats]:
        """Per facility: last message, volume and errors in the last hour and day, lag."""
        ...
