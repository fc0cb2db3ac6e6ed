"""Patient records as columns of integer codes, so that blocking and comparison run in NumPy.

Each text field becomes a code (−1 when missing) into its list of distinct values; the birth
date becomes year, month, day, a day ordinal and its eight digits.  Nothing here is written
anywhere: the table lives for one linkage run (or in the online index) and is dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from khealth.identity.jamo import initial_consonant
from khealth.identity.model import PatientRecord

Codes = npt.NDArray[np.int64]


def encode(values: Sequence[str | None]) -> tuple[Codes, list[str]]:
    """Integer codes of ``values`` (−1 for None) and the distinct values in code order."""
    lookup: dict[str, int] = {}
    codes = np.fromiter(
        (-1 if v is None else lookup.setdefault(v, len(lookup)) for v in values),
        dtype=np.int64,
        count=len(values),
    )
    return codes, list(lookup)


def _birth_parts(value: str | None) -> tuple[int, int, int, int]:
    if value is None:
        return -1, -1, -1, -1
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return -1, -1, -1, -1
    return day.year, day.month, day.day, day.toordinal()


class RecordTable:
    """Columns over a fixed list of records (row i is ``records[i]``)."""

    def __init__(self, records: Sequence[PatientRecord]) -> None:
        self.ids = [r.patient_id for r in records]
        self.token, self.tokens = encode([r.token for r in records])
        self.name, self.names = encode([r.name for r in records])
        self.initial, _ = encode([initial_consonant(r.surname) if r.surname else None for r in records])  # fmt: skip
        self.sex, _ = encode([r.sex for r in records])
        self.phone, _ = encode([r.phone for r in records])
        self.district, _ = encode([r.district for r in records])
        self.road, _ = encode([r.road for r in records])
        parts = np.array([_birth_parts(r.birth_date) for r in records], dtype=np.int64)
        parts = parts.reshape(len(records), 4)
        self.year, self.month, self.day, self.ordinal = (parts[:, i] for i in range(4))
        self.digits = _date_digits(self.year, self.month, self.day)

    def __len__(self) -> int:
        return len(self.ids)


def _date_digits(year: Codes, month: Codes, day: Codes) -> npt.NDArray[np.int8]:
    """YYYYMMDD as eight digit columns (a year-digit slip is one differing column)."""
    number = np.where(year >= 0, year * 10000 + month * 100 + day, 0)
    powers = 10 ** np.arange(7, -1, -1, dtype=np.int64)
    return ((number[:, None] // powers[None, :]) % 10).astype(np.int8)
