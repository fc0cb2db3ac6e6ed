"""The audit log's tamper evidence: a hash chain over every entry and signed checkpoints.

Format (version 1; docs/security.md has the procedure):

* ``entry_hash(n) = SHA-256("khealth.audit/v1" || u64(seq) || i64(recorded) ||
  u32(len(content)) || content || prev_hash)``, big-endian integers, ``content`` the stored
  AuditEvent bytes exactly, ``prev_hash`` the previous entry's hash (32 zero bytes before
  the first entry).  Editing, deleting, inserting or reordering an entry changes a hash
  that the next entry (or a checkpoint) holds.
* A checkpoint covers the entries ``first..seq`` since the previous checkpoint: the head's
  hash and an RFC 9162 section 2.1 Merkle root over their entry hashes (leaf
  ``SHA-256(0x00 || h)``, node ``SHA-256(0x01 || left || right)``), signed with the
  platform's ES256 key.  Someone who can write the database can recompute a chain, but
  cannot sign a checkpoint without the key; a checkpoint held outside (a witness) also
  shows a log truncated or rewritten from the start.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

GENESIS = bytes(32)
_PREFIX = b"khealth.audit/v1"
_HEADER = struct.Struct(">QqI")
NOTE_ORIGIN = "khealth.audit.checkpoint/v1"


def entry_hash(seq: int, recorded: int, content: bytes, prev_hash: bytes) -> bytes:
    digest = hashlib.sha256(_PREFIX)
    digest.update(_HEADER.pack(seq, recorded, len(content)))
    digest.update(content)
    digest.update(prev_hash)
    return digest.digest()


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """RFC 9162 section 2.1.1 Merkle Tree Hash; the empty tree hashes the empty string."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = [hashlib.sha256(b"\x00" + leaf).digest() for leaf in leaves]
    return _reduce(level)


def _reduce(nodes: list[bytes]) -> bytes:
    """MTH over already-hashed leaves: split at the largest power of two below n (the
    left subtree is always full, so pairing from the left level by level gives the
    same tree; an odd node out moves up unchanged)."""
    while len(nodes) > 1:
        paired = [
            hashlib.sha256(b"\x01" + nodes[i] + nodes[i + 1]).digest()
            for i in range(0, len(nodes) - 1, 2)
        ]
        if len(nodes) % 2:
            paired.append(nodes[-1])
        nodes = paired
    return nodes[0]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int  # the head entry this checkpoint covers
    first: int  # first entry covered (the previous checkpoint's seq + 1)
    recorded: int  # when it was made, µs since the epoch
    head_hash: bytes
    root: bytes  # Merkle root over entry hashes first..seq
    key_id: str
    signature: bytes  # DER ECDSA P-256/SHA-256 over note()

    def note(self) -> bytes:
        return checkpoint_note(self.seq, self.first, self.recorded, self.head_hash, self.root)


def checkpoint_note(seq: int, first: int, recorded: int, head_hash: bytes, root: bytes) -> bytes:
    """The signed text: one field per line, like a transparency-log checkpoint."""
    lines = (
        NOTE_ORIGIN,
        f"seq {seq}",
        f"first {first}",
        f"recorded {recorded}",
        f"head {head_hash.hex()}",
        f"root {root.hex()}",
    )
    return ("\n".join(lines) + "\n").encode()


class Signer(Protocol):
    key_id: str

    def sign(self, message: bytes) -> bytes: ...


class SignatureCheck(Protocol):
    def __call__(self, key_id: str, message: bytes, signature: bytes) -> bool: ...


@dataclass(frozen=True, slots=True)
class SealPolicy:
    """When to sign a checkpoint: after ``every_entries`` entries, or at the first entry
    ``every_us`` after the last checkpoint."""

    every_entries: int = 1000
    every_us: int = 60_000_000

    def due(self, since_checkpoint: int, recorded: int, last_recorded: int) -> bool:
        if since_checkpoint <= 0:
            return False
        return since_checkpoint >= self.every_entries or recorded - last_recorded >= self.every_us


def make_checkpoint(
    signer: Signer, seq: int, first: int, recorded: int, hashes: Sequence[bytes]
) -> Checkpoint:
    """Sign the entries ``first..seq`` whose hashes are ``hashes`` (in seq order)."""
    assert len(hashes) == seq - first + 1 and hashes
    root = merkle_root(hashes)
    note = checkpoint_note(seq, first, recorded, hashes[-1], root)
    return Checkpoint(seq, first, recorded, hashes[-1], root, signer.key_id, signer.sign(note))
