from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from khealth.fhir.fhirdates import (
    OPEN_HIGH,
    OPEN_LOW,
    civil_from_days,
    date_range,
    days_from_civil,
    format_instant,
    instant_now,
)

pytestmark = pytest.mark.unit

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND = 1_000_000
DAY = 86_400 * SECOND


def micros(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    microsecond: int = 0,
    *,
    tz: timezone = UTC,
) -> int:
    """An independent oracle: the stdlib's idea of the same instant."""
    moment = datetime(year, month, day, hour, minute, second, microsecond, tzinfo=tz)
    return (moment - EPOCH) // timedelta(microseconds=1)


KST = timezone(timedelta(hours=9))
T = (2020, 3, 5, 10, 0, 7)  # a time the fraction and zone cases share

RANGES = [
    # (text, low, high) -- high is inclusive: the last microsecond of the precision
    ("1970", 0, 365 * DAY - 1),
    ("2020", micros(2020, 1, 1), micros(2021, 1, 1) - 1),
    ("2020-02", micros(2020, 2, 1), micros(2020, 3, 1) - 1),  # leap February: 29 days
    ("2021-02", micros(2021, 2, 1), micros(2021, 3, 1) - 1),
    ("2020-12", micros(2020, 12, 1), micros(2021, 1, 1) - 1),  # the month after is next year
    ("2020-02-29", micros(2020, 2, 29), micros(2020, 3, 1) - 1),
    ("2000-02-29", micros(2000, 2, 29), micros(2000, 3, 1) - 1),  # divisible by 400
    ("2020-03-05T10:00", micros(2020, 3, 5, 10), micros(2020, 3, 5, 10, 1) - 1),
    ("2020-03-05T10:00:07", micros(2020, 3, 5, 10, 0, 7), micros(2020, 3, 5, 10, 0, 8) - 1),
    ("2020-03-05T10:00:07Z", micros(2020, 3, 5, 10, 0, 7), micros(2020, 3, 5, 10, 0, 8) - 1),
    ("2020-03-05T10:00:07.5Z", micros(*T, 500_000), micros(*T, 599_999)),
    ("2020-03-05T10:00:07.123Z", micros(*T, 123_000), micros(*T, 123_999)),
    ("2020-03-05T10:00:07.123456Z", micros(*T, 123_456), micros(*T, 123_456)),
    # finer than a microsecond: the one microsecond that holds the value
    ("2020-03-05T10:00:07.1234567Z", micros(*T, 123_456), micros(*T, 123_456)),
    ("2020-03-05T10:00:07+09:00", micros(*T, tz=KST), micros(*T, tz=KST) + SECOND - 1),
    ("2020-03-05T10:00:07+09:00", micros(2020, 3, 5, 1, 0, 7), micros(2020, 3, 5, 1, 0, 8) - 1),
    ("2020-01-01T01:30:00-05:30", micros(2020, 1, 1, 7), micros(2020, 1, 1, 7, 0, 1) - 1),
    ("2020-03-05T10:00+09:00", micros(2020, 3, 5, 1), micros(2020, 3, 5, 1, 1) - 1),
    ("2020-01-01T00:00:00+14:00", micros(2019, 12, 31, 10), micros(2019, 12, 31, 10, 0, 1) - 1),
    ("1969-12-31T23:59:59Z", -SECOND, -1),  # before the epoch: negative microseconds
    ("0001", micros(1, 1, 1), micros(2, 1, 1) - 1),
    ("9999-12-31", micros(9999, 12, 31), micros(9999, 12, 31) + DAY - 1),
    ("2016-12-31T23:59:60Z", micros(2017, 1, 1), micros(2017, 1, 1) + SECOND - 1),  # leap second
]  # fmt: skip


@pytest.mark.parametrize(("text", "low", "high"), RANGES)
def test_it_reads_each_precision_as_its_inclusive_range(text: str, low: int, high: int) -> None:
    assert date_range(text) == (low, high)


INVALID = [
    "",
    "20",
    "202",
    "20200",
    "2020-1",
    "2020-13",
    "2020-00",
    "2021-02-29",  # not a leap year
    "1900-02-29",  # divisible by 100, not by 400
    "2020-04-31",
    "2020-03-00",
    "0000",
    "2020-03-05T",
    "2020-03-05T10",  # an hour alone is no FHIR precision
    "2020-03-05T24:00",
    "2020-03-05T10:60",
    "2020-03-05T10:00:61",
    "2020-03-05T10:00:00.",
    "2020-03-05T10:00:00+15:00",
    "2020-03-05T10:00:00+14:30",
    "2020-03-05T10:00:00+09:60",
    "2020-03-05T10:00:00+0900",
    "2020-03-05Z",  # a zone needs a time
    "2020-03-05 10:00",
    "2020-03-05t10:00:00z",
    " 2020",
    "2020 ",
    "٢٠٢٠",  # non-ASCII digits
]


@pytest.mark.parametrize("text", INVALID)
def test_it_rejects_what_is_not_a_fhir_date(text: str) -> None:
    with pytest.raises(ValueError):
        date_range(text)


def test_each_precision_ends_where_the_next_one_begins() -> None:
    for earlier, later in [("2019", "2020"), ("2020-01", "2020-02"), ("2020-02-28", "2020-02-29")]:
        assert date_range(earlier)[1] + 1 == date_range(later)[0]


def test_a_time_zone_shifts_the_range_but_not_its_width() -> None:
    utc, kst = date_range("2020-03-05T10:00:00Z"), date_range("2020-03-05T10:00:00+09:00")
    assert utc[0] - kst[0] == 9 * 3600 * SECOND
    assert utc[1] - utc[0] == kst[1] - kst[0]


def test_days_from_civil_agrees_with_the_stdlib_across_four_centuries() -> None:
    day = datetime(1800, 1, 1, tzinfo=UTC)
    while day.year < 2201:
        days = (day - EPOCH).days
        assert days_from_civil(day.year, day.month, day.day) == days
        assert civil_from_days(days) == (day.year, day.month, day.day)
        day += timedelta(days=13)


def test_open_period_ends_are_the_int64_limits() -> None:
    assert (OPEN_LOW, OPEN_HIGH) == (-(2**63), 2**63 - 1)
    assert date_range("0001")[0] > OPEN_LOW and date_range("9999")[1] < OPEN_HIGH


def test_format_instant_round_trips_through_date_range() -> None:
    value = micros(2024, 5, 1, 9, 30, 0, 1)
    text = format_instant(value)
    assert text == "2024-05-01T09:30:00.000001Z"
    assert date_range(text) == (value, value)


def test_instant_now_is_a_parsable_utc_instant() -> None:
    low, high = date_range(instant_now())
    assert low == high
