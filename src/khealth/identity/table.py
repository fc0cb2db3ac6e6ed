"""Patient records as columns of integer codes, so that blocking and comparison run in NumPy.

Each text field becomes a code (−1 when missing) into its list of distinct values; the birth
date becomes year, month, day, a day ordinal and its eight digits (parsed once per distinct
date).  Nothing here is written anywhere: the table lives for one linkage run (or in the
online index) and is dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import cached_property

import numpy as np
import numpy.typing as npt

from khealth.identity.columns import PatientColumns
from khealth.identity.features import FIELDS
from khealth.identity.jamo import HANGUL_LETTERS, decompose, initial_consonant
from khealth.identity.model import PatientRecord

Codes = npt.NDArray[np.int64]
#: letters counted per name for the cheap bound of :mod:`compare`: the Hangul letters of
#: :mod:`jamo` get a column each, anything else shares one of ``_OTHER`` columns (sharing
#: can only over-count common letters, which loosens the bound and never wrongly rejects)
_COLUMN = {letter: i for i, letter in enumerate(HANGUL_LETTERS)}
_OTHER = 29


def encode(values: Sequence[str | None]) -> tuple[Codes, list[str]]:
    """Integer codes of ``values`` (−1 for None) and the distinct values in code order."""
    lookup: dict[str, int] = {}
    codes = np.fromiter(
        (-1 if v is None else lookup.setdefault(v, len(lookup)) for v in values),
        dtype=np.int64,
        count=len(values),
    )
    return codes, list(lookup)


def columns_of(records: Sequence[PatientRecord]) -> PatientColumns:
    codes, values = {}, {}
    for field in FIELDS:
        column, values[field] = encode([getattr(r, field) for r in records])
        codes[field] = column.astype(np.int32)
    return PatientColumns([r.patient_id for r in records], codes, values)


def _birth_parts(value: str) -> tuple[int, int, int, int]:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return -1, -1, -1, -1
    return day.year, day.month, day.day, day.toordinal()


def _through(codes: npt.NDArray[np.int32], table: Codes) -> Codes:
    """``table[code]`` per row, −1 where the code is −1."""
    return np.append(table, -1)[codes].astype(np.int64)


class RecordTable:
    """Columns over a fixed list of records (row i is ``records[i]``)."""

    def __init__(self, records: Sequence[PatientRecord]) -> None:
        self._load(columns_of(records))

    @classmethod
    def from_columns(cls, columns: PatientColumns) -> RecordTable:
        table = cls.__new__(cls)
        table._load(columns)
        return table

    def _load(self, c: PatientColumns) -> None:
        self.ids = c.ids
        as64 = {f: c.codes[f].astype(np.int64) for f in FIELDS}
        self.token, self.tokens = as64["token"], c.values["token"]
        self.name, self.names = as64["name"], c.values["name"]
        self.sex, self.phone = as64["sex"], as64["phone"]
        self.district, self.road = as64["district"], as64["road"]
        initials, self.initials = encode([initial_consonant(s) for s in c.values["surname"]])
        self.initial = _through(c.codes["surname"], initials)
        parts = np.array([_birth_parts(v) for v in c.values["birth_date"]], dtype=np.int64)
        parts = parts.reshape(len(c.values["birth_date"]), 4)
        self.year, self.month, self.day, self.ordinal = (
            _through(c.codes["birth_date"], parts[:, i]) for i in range(4)
        )
        self.digits = _date_digits(self.year, self.month, self.day)

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def letter_counts(self) -> npt.NDArray[np.uint16]:
        """Per distinct name, how often each letter occurs (see :mod:`compare`)."""
        rows: list[int] = []
        columns: list[int] = []
        for row, name in enumerate(self.names):
            letters = decompose(name)
            rows += [row] * len(letters)
            columns += [_column(x) for x in letters]
        counts = np.zeros((len(self.names), len(HANGUL_LETTERS) + _OTHER), dtype=np.uint16)
        np.add.at(counts, (np.array(rows, np.int64), np.array(columns, np.int64)), 1)
        return counts


def _column(letter: str) -> int:
    column = _COLUMN.get(letter)
    return column if column is not None else len(HANGUL_LETTERS) + sum(map(ord, letter)) % _OTHER


def _date_digits(year: Codes, month: Codes, day: Codes) -> npt.NDArray[np.int8]:
    """YYYYMMDD as eight digit columns (a year-digit slip is one differing column)."""
    number = np.where(year >= 0, year * 10000 + month * 100 + day, 0)
    powers = 10 ** np.arange(7, -1, -1, dtype=np.int64)
    return ((number[:, None] // powers[None, :]) % 10).astype(np.int8)
