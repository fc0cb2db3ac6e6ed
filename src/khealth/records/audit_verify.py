"""``khealth audit verify``: recompute the audit chain and the checkpoints, say where it breaks.

The verifier reads rows in seq order exactly once (a server-side cursor feeds it) and keeps
only the entry hashes since the last checkpoint, so memory stays flat for any log length.
It keeps going after a break, anchored on the stored hashes, so that one report lists every
place that was touched (up to ``MAX_FINDINGS``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from khealth.records.audit_chain import (
    GENESIS,
    Checkpoint,
    SignatureCheck,
    entry_hash,
    merkle_root,
)

MAX_FINDINGS = 100
Row = tuple[int, int, bytes, bytes, bytes]  # seq, recorded, content, prev_hash, entry_hash


@dataclass(frozen=True, slots=True)
class Finding:
    seq: int
    kind: str  # edited | deleted | inserted | reordered | broken-link | checkpoint
    detail: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.kind}: {self.detail}"


@dataclass(slots=True)
class Report:
    entries: int = 0
    head_seq: int = 0
    head_hash: bytes = GENESIS
    checkpoints: int = 0
    unsealed: int = 0  # entries after the last checkpoint (chain-protected only)
    findings: list[Finding] = field(default_factory=list)
    more_findings: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, seq: int, kind: str, detail: str) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(Finding(seq, kind, detail))
        else:
            self.more_findings += 1


def verify(
    rows: Iterable[Row], checkpoints: Sequence[Checkpoint], check_signature: SignatureCheck
) -> Report:
    report = Report()
    pending = sorted(checkpoints, key=lambda c: c.seq)
    for c in pending:
        if not check_signature(c.key_id, c.note(), c.signature):
            report.add(c.seq, "checkpoint", "signature does not verify (forged or altered)")
    _Walk(report, pending).run(rows)
    return report


class _Walk:
    def __init__(self, report: Report, checkpoints: list[Checkpoint]) -> None:
        self.report = report
        self.checkpoints = checkpoints
        self.next_checkpoint = 0
        self.leaves: list[bytes] = []
        self.expected_seq = 1
        self.prev = GENESIS
        self.shift = 0  # rows found written under seq + shift (a renumbered run)

    def run(self, rows: Iterable[Row]) -> None:
        report = self.report
        hash_of = entry_hash
        expected, prev, leaves = self.expected_seq, self.prev, self.leaves
        cp_seq = self._checkpoint_seq()
        for seq, recorded, content, prev_hash, stored in rows:
            computed = hash_of(seq, recorded, content, prev_hash)
            if seq != expected or prev_hash != prev or computed != stored:
                self.expected_seq, self.prev = expected, prev
                self._explain(seq, recorded, content, prev_hash, stored, computed)
            expected, prev = seq + 1, stored
            leaves.append(stored)
            report.entries += 1
            if seq >= cp_seq:
                self.expected_seq = expected
                self._close_checkpoint(seq, prev)
                leaves = self.leaves
                cp_seq = self._checkpoint_seq()
        report.head_seq, report.head_hash = expected - 1, prev
        self._checkpoints_past_end(expected - 1)
        report.unsealed = len(self.leaves)
        report.checkpoints = len(self.checkpoints)

    def _checkpoint_seq(self) -> int:
        if self.next_checkpoint < len(self.checkpoints):
            return self.checkpoints[self.next_checkpoint].seq
        return 1 << 62

    def _explain(
        self, seq: int, recorded: int, content: bytes, prev_hash: bytes, stored: bytes,
        computed: bytes,
    ) -> None:  # fmt: skip
        """Name what happened at the first row that does not fit."""
        add, expected = self.report.add, self.expected_seq
        if seq > expected:
            missing = f"{expected}" if seq == expected + 1 else f"{expected}..{seq - 1}"
            add(expected, "deleted", f"entries {missing} are missing (gap before seq {seq})")
        elif seq < expected:
            add(seq, "inserted", f"a second entry with seq {seq} after seq {expected - 1}")
        if computed != stored:
            moved = self._moved_from(seq, recorded, content, prev_hash, stored)
            if moved is None:
                add(seq, "edited", "content or time does not match the entry's hash")
            else:
                self._moved(seq, moved - seq)
        elif prev_hash != self.prev and seq == expected:
            add(seq, "broken-link", "prev_hash is not the hash of the entry before it "
                "(an entry before it was inserted, removed or rewritten)")  # fmt: skip

    def _moved(self, seq: int, delta: int) -> None:
        """A row written under another seq: one shifted run (an insertion renumbers every
        later entry up by one) is reported once, a swap at each end."""
        if delta == -1 and self.shift == 0:
            self.report.add(seq, "inserted", f"an entry was inserted before seq {seq} "
                            "(the entries from here on were written one seq lower)")  # fmt: skip
        elif delta != self.shift:
            self.report.add(seq, "reordered", f"holds the entry written as seq {seq + delta}")
        self.shift = delta

    @staticmethod
    def _moved_from(
        seq: int, recorded: int, content: bytes, prev_hash: bytes, stored: bytes
    ) -> int | None:
        """Was this row written under a nearby seq (rows swapped or renumbered)?"""
        for delta in (1, -1, 2, -2):
            if seq + delta > 0 and entry_hash(seq + delta, recorded, content, prev_hash) == stored:
                return seq + delta
        return None

    def _close_checkpoint(self, seq: int, head: bytes) -> None:
        c = self.checkpoints[self.next_checkpoint]
        self.next_checkpoint += 1
        first = (
            self.checkpoints[self.next_checkpoint - 2].seq + 1 if self.next_checkpoint > 1 else 1
        )
        if c.first != first:
            self.report.add(c.seq, "checkpoint", f"covers from seq {c.first}, expected {first}")
        if c.seq != seq:
            self.report.add(c.seq, "checkpoint", f"names seq {c.seq} but the log has no such entry")
        elif c.head_hash != head:
            self.report.add(seq, "checkpoint", "the entry's hash differs from the signed head")
        elif merkle_root(self.leaves) != c.root:
            self.report.add(
                seq, "checkpoint", f"entries {c.first}..{c.seq} differ from the signed Merkle root"
            )
        self.leaves = []

    def _checkpoints_past_end(self, last: int) -> None:
        for c in self.checkpoints[self.next_checkpoint :]:
            self.report.add(
                c.seq, "deleted",
                f"a signed checkpoint covers seq {c.seq} but the log ends at seq {last}",
            )  # fmt: skip
