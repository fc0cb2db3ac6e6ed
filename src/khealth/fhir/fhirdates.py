"""FHIR date, dateTime and instant text as ranges of microseconds since the epoch.

FHIR R4 search (3.1.1.5.3, "date") treats every date as the range its precision implies:
``2020`` is the whole year, ``2020-03-05T10:00`` the whole minute.  Both ends are
inclusive integers of microseconds since 1970-01-01T00:00:00Z, as in
:mod:`khealth.fhir.index`.  The same function reads search values, so ``date=2020-03``
and a stored ``2020-03-05`` compare in one unit.

Arithmetic is done on integers with the proleptic Gregorian calendar (Howard Hinnant's
``days_from_civil``) rather than through :mod:`datetime`: it is exact for every year
0001-9999, needs no time-zone objects, and is several times faster on the import path.
"""

from __future__ import annotations

import functools
import re
import time

MICROS_PER_SECOND = 1_000_000
MICROS_PER_MINUTE = 60 * MICROS_PER_SECOND
MICROS_PER_DAY = 86_400 * MICROS_PER_SECOND

#: The open end of a Period without ``start`` / ``end``: the int64 limits, so that every
#: backend stores them in a BIGINT and every comparison with a real date goes the right way.
OPEN_LOW = -(2**63)
OPEN_HIGH = 2**63 - 1

# One pattern for every precision.  A time zone is only allowed after a time, as in the
# R4 dateTime regex; minutes without seconds are allowed because search values use them.
_PATTERN = re.compile(
    r"(?P<year>\d{4})"
    r"(?:-(?P<month>\d{2})"
    r"(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:\.(?P<fraction>\d+))?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?",
    re.ASCII,
)

_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_leap_year(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year: int, month: int) -> int:
    if month == 2 and is_leap_year(year):
        return 29
    return _DAYS_IN_MONTH[month - 1]


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to the given proleptic Gregorian date (Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _zone_offset_micros(zone: str | None) -> int:
    """Offset east of UTC; no zone means UTC (the project's rule for partial dates)."""
    if zone is None or zone == "Z":
        return 0
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    if minutes > 59 or hours > 14 or (hours == 14 and minutes > 0):
        raise ValueError(f"time-zone offset out of range: {zone}")
    offset = (hours * 60 + minutes) * MICROS_PER_MINUTE
    return -offset if zone[0] == "-" else offset


def _fraction_range(fraction: str) -> tuple[int, int]:
    """Microseconds at the start of the fraction and the width its digits imply.

    Digits past the sixth are finer than the index resolution: the range is then the
    single microsecond that contains the value.
    """
    digits = fraction[:6]
    start = int(digits.ljust(6, "0"))
    return start, 10 ** (6 - len(digits))


@functools.lru_cache(maxsize=65_536)
def date_range(text: str) -> tuple[int, int]:
    """The inclusive ``(low, high)`` microsecond range a FHIR date/dateTime/instant covers.

    Accepts ``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``, and ``YYYY-MM-DDThh:mm`` with optional
    ``:ss``, ``.fraction`` and ``Z``/``±hh:mm`` (no zone = UTC).  Raises ValueError on
    anything else, including impossible dates such as ``2021-02-29``.  A leap second
    (``:60``) is accepted, as R4 allows it, and counted as the next minute's first second
    because the epoch count (like POSIX time) has no leap seconds.
    """
    match = _PATTERN.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"not a FHIR date, dateTime or instant: {text!r}")
    year = int(match["year"])
    if year == 0:
        raise ValueError(f"year 0000 is not a FHIR date: {text!r}")
    if match["month"] is None:
        low = days_from_civil(year, 1, 1) * MICROS_PER_DAY
        return low, days_from_civil(year + 1, 1, 1) * MICROS_PER_DAY - 1
    month = int(match["month"])
    if not 1 <= month <= 12:
        raise ValueError(f"month out of range: {text!r}")
    if match["day"] is None:
        low = days_from_civil(year, month, 1) * MICROS_PER_DAY
        return low, days_from_civil(*_next_month(year, month), 1) * MICROS_PER_DAY - 1
    day = int(match["day"])
    if not 1 <= day <= days_in_month(year, month):
        raise ValueError(f"day out of range: {text!r}")
    day_start = days_from_civil(year, month, day) * MICROS_PER_DAY
    if match["hour"] is None:
        return day_start, day_start + MICROS_PER_DAY - 1
    return _time_range(match, day_start, text)


def _time_range(match: re.Match[str], day_start: int, text: str) -> tuple[int, int]:
    hour, minute = int(match["hour"]), int(match["minute"])
    if hour > 23 or minute > 59:
        raise ValueError(f"time out of range: {text!r}")
    low = day_start + (hour * 60 + minute) * MICROS_PER_MINUTE - _zone_offset_micros(match["zone"])
    if match["second"] is None:
        return low, low + MICROS_PER_MINUTE - 1
    second = int(match["second"])
    if second > 60:
        raise ValueError(f"second out of range: {text!r}")
    low += second * MICROS_PER_SECOND
    if match["fraction"] is None:
        return low, low + MICROS_PER_SECOND - 1
    start, width = _fraction_range(match["fraction"])
    return low + start, low + start + width - 1


def format_instant(micros: int) -> str:
    """An FHIR instant in UTC with microseconds, e.g. ``2024-05-01T09:30:00.000001Z``."""
    days, rest = divmod(micros, MICROS_PER_DAY)
    year, month, day = civil_from_days(days)
    seconds, fraction = divmod(rest, MICROS_PER_SECOND)
    hour, seconds = divmod(seconds, 3600)
    minute, second = divmod(seconds, 60)
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{fraction:06d}Z"


def civil_from_days(days: int) -> tuple[int, int, int]:
    """The inverse of :func:`days_from_civil` (Hinnant's ``civil_from_days``)."""
    days += 719_468
    era = days // 146_097
    day_of_era = days - era * 146_097
    year_of_era = (
        day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month = shifted_month + (3 if shifted_month < 10 else -9)
    year = year_of_era + era * 400 + (month <= 2)
    return year, month, day


def now_micros() -> int:
    return time.time_ns() // 1000


def instant_now() -> str:
    """The current time as an FHIR instant (``meta.lastUpdated``), UTC, microseconds."""
    return format_instant(now_micros())
