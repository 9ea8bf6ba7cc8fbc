"""Time and duration parsing: every accepted form, the leap second, distant years without warnings."""

from __future__ import annotations

import datetime as dt
import re
import warnings

import astropy.units as u
import pytest
from astropy.time import Time

from prefect_jsoc.errors import InvalidSampleError, InvalidTimeRangeError
from prefect_jsoc.query import parse_duration, parse_time

UTC = dt.UTC


def test_time_scales_and_formats_are_normalised_to_utc():
    midnight = dt.datetime(2014, 1, 1, tzinfo=UTC)
    assert parse_time("2014.01.01_00:00:35_TAI") == midnight
    assert parse_time("2014-01-01T00:00:35", scale="tai") == midnight
    assert parse_time(Time("2014-01-01T00:00:35", scale="tai")) == midnight
    assert parse_time("2014-01-01 01:00:00+01:00") == midnight
    assert parse_time("2014-01-01T00:00:00Z") == midnight
    assert parse_time("2014.01.01_00:00_UTC") == midnight
    assert parse_time(dt.date(2014, 1, 1)) == midnight
    assert parse_time(dt.datetime(2014, 1, 1)) == midnight


@pytest.mark.parametrize(
    "text",
    [
        "2016-12-31T23:59:60",
        "2016-12-31T23:59:60Z",
        "2016.12.31_23:59:60_UTC",
        "2016-12-31T23:59:60.5",
        Time("2016-12-31T23:59:60", scale="utc"),
    ],
    ids=str,
)
def test_the_leap_second_is_kept_as_the_last_instant_before_it(text):
    assert parse_time(text) == dt.datetime(2016, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def test_second_60_of_a_day_without_leap_second_is_the_next_midnight():
    # astropy's reading (ERFA's "time is after end of day"), without its warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert parse_time("2015-12-31T23:59:60") == dt.datetime(2016, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("text", ["1900-01-01", "3000-01-01T12:00", "1900.01.01_00:00_TAI", "0001-01-01", "9999-12-31"])
def test_distant_years_parse_without_warnings(text):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert parse_time(text).year in (1, 1900, 3000, 9999)


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("garbage", InvalidTimeRangeError, "Could not read the start time 'garbage'."),
        (
            "2014-01-01",
            InvalidTimeRangeError,
            "Unknown time scale 'martian'. Use one of: tai, tcb, tcg, tdb, tt, ut1, utc.",
        ),
        (12.5, InvalidTimeRangeError, "The start time 12.5 has an unsupported type float."),
        ("2014-01-01T00:00:00+01:00_TAI", InvalidTimeRangeError, "Could not read the start time"),
        (Time(["2014-01-01", "2014-01-02"]), InvalidTimeRangeError, "The start time must be a single instant"),
    ],
)
def test_unreadable_times_raise_typed_errors(value, error, message):
    scale = "martian" if "martian" in message else "utc"
    with pytest.raises(error, match=re.escape(message)):
        parse_time(value, scale=scale, what="start")


def test_durations():
    assert parse_duration("12m") == 720.0
    assert parse_duration(dt.timedelta(hours=1)) == 3600.0
    assert parse_duration(90 * u.s) == 90.0
    assert parse_duration("1.5 h") == 5400.0
    assert parse_duration("2d") == 172800.0
    for bad in ("soon", -1, True, float("inf"), 5 * u.kg, None):
        with pytest.raises(InvalidSampleError):
            parse_duration(bad)
