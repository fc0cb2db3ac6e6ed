"""Seeded random streams: one independent `random.Random` per (seed, purpose, index).

Every citizen, facility and EMS day draws from its own stream, so output never depends on the
order of generation, on global random state or on the clock.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from typing import TypeVar

T = TypeVar("T")


def derive_seed(seed: int, *labels: object) -> int:
    """A 64-bit seed derived from the city seed and labels, stable across runs and platforms."""
    text = "\x1f".join([str(seed), *map(str, labels)]).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def stream(seed: int, *labels: object) -> random.Random:
    return random.Random(derive_seed(seed, *labels))  # noqa: S311  (synthetic data, not crypto)


def opaque_id(rng: random.Random) -> str:
    """A 20-hex-digit resource id (80 bits) that reveals nothing about the citizen behind it."""
    return f"{rng.getrandbits(80):020x}"


def weighted_choice(rng: random.Random, items: list[T], cumulative: list[float]) -> T:
    """Pick from `items` with precomputed cumulative weights (faster than `rng.choices` in a loop)."""
    return items[bisect.bisect(cumulative, rng.random() * cumulative[-1])]


def cumulative(weights: list[float]) -> list[float]:
    total = 0.0
    out: list[float] = []
    for weight in weights:
        total += weight
        out.append(total)
    return out
