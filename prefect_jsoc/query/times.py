"""Times and durations: reading what users write, and the TAI text DRMS expects.

Times are kept as UTC-aware :class:`~datetime.datetime` values and sent to JSOC in TAI, as sunpy
does. Two edge cases are decided here:

* A UTC leap second (``2016-12-31T23:59:60``) is a valid time. A ``datetime`` cannot hold it, so
  it is kept as ``23:59:59.999999``, the last instant before it; its TAI text is still the leap
  second's own (``2017.01.01_00:00:36_TAI``), because TAI text is rounded to the millisecond
  before the fraction is dropped (astropy's ``strftime``, as sunpy sends it).
* Years far from today (1900, 3000) are valid: UTC-TAI before 1960 is undefined and after the
  next leap-second announcement unknown, so astropy takes its usual convention there, and the
  server answers with what it holds (usually nothing). The warnings ERFA emits for such
  "dubious years" say nothing a user can act on, so they are silenced where times are converted.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import astropy.units as u
from astropy.time import Time
from erfa import ErfaWarning

from prefect_jsoc.errors import InvalidSampleError, InvalidTimeRangeError, JsocValidationError
from prefect_jsoc.query._typed import preview

__all__ = [
    "TIME_SCALES",
    "check_scale",
    "format_seconds",
    "parse_duration",
    "parse_time",
    "tai_seconds",
    "tai_text",
]

#: Time scales a string or naive datetime may be given in.
TIME_SCALES = tuple(s for s in Time.SCALES if s != "local")
_UTC = dt.UTC
_TAI_ZERO = Time("2000-01-01T00:00:00", scale="tai")
_TAI_ZERO_DATE = dt.date(2000, 1, 1)
#: The two ways JSOC prints a slotted time: DRMS style in TAI, ISO style in UTC.
_PRINTED_TIME_RE = re.compile(
    r"^(?P<year>\d{4})([.-])(?P<month>\d{2})\2(?P<day>\d{2})[_T](?P<hour>\d{2}):(?P<minute>\d{2}):"
    r"(?P<second>\d{2}(?:\.\d*)?)(?P<zone>_TAI|Z|_UTC)$"
)
_DRMS_TIME_RE = re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})(?:_(\d{1,2})(?::(\d{1,2})(?::(\d{1,2}(?:\.\d*)?))?)?)?$")
_SCALE_SUFFIX_RE = re.compile(r"(?:[_ ](TAI|UTC|UT|TT|TDB|TCG|TCB|UT1)|(Z))$", re.IGNORECASE)
_DURATION_RE = re.compile(
    r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*(s|sec|secs|second|seconds|m|min|mins|minute|minutes|"
    r"h|hr|hrs|hour|hours|d|day|days)?\s*$",
    re.IGNORECASE,
)
_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_TIME_HINT = (
    "Use an ISO time such as '2014-01-01T00:00:00' (UTC unless a scale is given), a DRMS time "
    "such as '2014.01.01_00:00:35_TAI', a datetime or an astropy Time."
)
_DURATION_HINT = (
    "Give seconds as a number, a timedelta, an astropy Quantity such as 90*u.s, or a string such as '90s', '12m', '1h'."
)


@contextmanager
def _quiet_erfa() -> Iterator[None]:
    # ERFA warns "dubious year" for every conversion outside the leap-second table.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ErfaWarning)
        yield


def check_scale(scale: Any) -> str:
    """Return ``scale`` lower-cased if it is an astropy time scale, else raise InvalidTimeRangeError."""
    name = scale.strip().lower() if isinstance(scale, str) else scale
    if name not in TIME_SCALES:
        raise InvalidTimeRangeError(f"Unknown time scale {preview(scale)}. Use one of: {', '.join(TIME_SCALES)}.")
    return name


def parse_time(value: Any, *, scale: str = "utc", what: str = "time") -> dt.datetime:
    """Read a time in any supported form and return it as a UTC-aware :class:`~datetime.datetime`.

    Args:
        value: An ISO string (``"2014-01-01T00:00:00"``, ``"2014-01-01 00:00Z"``), a DRMS string
            (``"2014.01.01_00:00:35_TAI"``), a :class:`~datetime.datetime` (naive values are in
            ``scale``), a :class:`~datetime.date`, or an :class:`astropy.time.Time` (its own scale
            is used). A UTC leap second (``...T23:59:60``) is accepted; see the module notes.
        scale: Time scale of strings and naive datetimes that carry none (``"utc"``, ``"tai"``, ...).
        what: Name of the value in error messages (``"start"``, ``"end"``).

    Returns:
        The instant as a timezone-aware datetime in UTC.

    Raises:
        InvalidTimeRangeError: When the value cannot be read or the scale is unknown.

    Example:
        ```python
        from prefect_jsoc.query import parse_time
        parse_time("2014.01.01_00:00:35_TAI")   # datetime(2014, 1, 1, 0, 0, tzinfo=UTC)
        ```
    """
    scale = check_scale(scale or "utc")
    try:
        with _quiet_erfa():
            if isinstance(value, Time):
                instant = value
            elif isinstance(value, dt.datetime):
                if value.tzinfo is not None:
                    return value.astimezone(_UTC)
                instant = Time(value, scale=scale)
            elif isinstance(value, dt.date):
                instant = Time(dt.datetime(value.year, value.month, value.day), scale=scale)
            elif isinstance(value, str):
                parsed = _parse_time_string(value.strip(), scale)
                if isinstance(parsed, dt.datetime):
                    return parsed
                instant = parsed
            else:
                raise InvalidTimeRangeError(
                    f"The {what} time {preview(value)} has an unsupported type {type(value).__name__}. {_TIME_HINT}"
                )
            if not instant.isscalar:
                raise InvalidTimeRangeError(f"The {what} time must be a single instant, not an array. {_TIME_HINT}")
            return _utc_datetime(instant)
    except JsocValidationError:
        raise
    except Exception as exc:  # astropy raises ValueError, TypeError and friends
        raise InvalidTimeRangeError(f"Could not read the {what} time {preview(value)}. {_TIME_HINT}") from exc


def _utc_datetime(instant: Time) -> dt.datetime:
    utc = instant.utc
    try:
        return utc.to_datetime(timezone=_UTC)
    except ValueError:  # inside a leap second: keep the last instant before it (module notes)
        after = utc.to_datetime(timezone=_UTC, leap_second_strict="silent")  # in the next day's first second
        return after.replace(microsecond=0) - dt.timedelta(microseconds=1)


def _parse_time_string(text: str, scale: str) -> Time | dt.datetime:
    if not text:
        raise ValueError("empty string")
    suffix = _SCALE_SUFFIX_RE.search(text)
    if suffix:
        scale = "utc" if (suffix.group(2) or suffix.group(1).upper() == "UT") else suffix.group(1).lower()
        text = text[: suffix.start()].strip()
    drms = _DRMS_TIME_RE.match(text)
    if drms:
        y, mo, day, hh, mm, ss = drms.groups()
        text = f"{int(y):04d}-{int(mo):02d}-{int(day):02d}T{int(hh or 0):02d}:{int(mm or 0):02d}:{float(ss or 0):09.6f}"
        return Time(text, scale=scale, format="isot")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:  # not ISO for Python (a leap second, a day of year, ...): astropy reads it
        return Time(text, scale=scale)
    if parsed.tzinfo is None:
        return Time(parsed, scale=scale)
    if suffix:
        raise ValueError("both a UTC offset and a time scale suffix were given")
    return parsed.astimezone(_UTC)


def tai_text(instant: dt.datetime) -> str:
    """Return the DRMS TAI text of a UTC-aware datetime, e.g. ``2014.01.01_00:00:35_TAI``."""
    return _tai_text(instant.astimezone(_UTC).replace(tzinfo=None))


@functools.lru_cache(maxsize=4096)
def _tai_text(naive_utc: dt.datetime) -> str:
    with _quiet_erfa():
        isot = Time(naive_utc, scale="utc").tai.isot  # rounded to the millisecond, as sunpy's strftime
    year, rest = isot.split("-", 1)  # astropy does not pad years before 1000
    return f"{int(year):04d}.{rest[:14].replace('-', '.').replace('T', '_')}_TAI"


@functools.lru_cache(maxsize=65536)
def tai_seconds(text: str) -> float:
    """Return a time printed by DRMS (or written in a record set) as TAI seconds since 2000-01-01 TAI.

    Strings without a zone are TAI, as DRMS prints ``T_REC`` of HMI series. Exact for leap
    seconds (``2016-12-31T23:59:60Z``), unlike a round trip through ``datetime``. The forms JSOC
    prints (``2014.01.01_00:00:45_TAI``, ``2014-01-01T00:00:01Z``) take a fast path: a packed
    export can hold many thousands of records.

    Raises:
        InvalidTimeRangeError: When the text is not a time.
    """
    printed = _PRINTED_TIME_RE.match(text.strip())
    if printed and int(printed["year"]) >= 1972:  # from 1972 on, TAI-UTC changes only at midnight
        try:
            day = dt.date(int(printed["year"]), int(printed["month"]), int(printed["day"]))
        except ValueError:
            day = None
        if day is not None:
            seconds = (day - _TAI_ZERO_DATE).days * 86400.0
            seconds += int(printed["hour"]) * 3600 + int(printed["minute"]) * 60 + float(printed["second"])
            return seconds if printed["zone"] == "_TAI" else seconds + _tai_minus_utc(day)
    try:
        with _quiet_erfa():
            parsed = _parse_time_string(text.strip(), "tai")
            if isinstance(parsed, dt.datetime):
                parsed = Time(parsed.replace(tzinfo=None), scale="utc")
            return float((parsed.tai - _TAI_ZERO).sec)
    except Exception as exc:
        raise InvalidTimeRangeError(f"Could not read the time {preview(text)}. {_TIME_HINT}") from exc


@functools.lru_cache(maxsize=4096)
def _tai_minus_utc(day: dt.date) -> float:
    midnight = dt.datetime(day.year, day.month, day.day)
    with _quiet_erfa():
        return round(float((Time(midnight, scale="utc").tai - Time(midnight, scale="tai")).sec), 6)


def parse_duration(value: Any, *, what: str = "duration") -> float:
    """Read a duration and return it in seconds.

    Args:
        value: Seconds as a number, a :class:`~datetime.timedelta`, an astropy time
            :class:`~astropy.units.Quantity`, or a string such as ``"90s"``, ``"12m"``, ``"1h"``,
            ``"1d"``.
        what: Name of the value in error messages.

    Returns:
        The duration in seconds (a positive, finite float).

    Raises:
        InvalidSampleError: When the value is not a positive duration.

    Example:
        ```python
        from prefect_jsoc.query import parse_duration
        assert parse_duration("12m") == 720.0
        ```
    """
    try:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, dt.timedelta):
            seconds = value.total_seconds()
        elif isinstance(value, u.Quantity):
            seconds = float(value.to_value(u.s))
        elif isinstance(value, (int, float)):
            seconds = float(value)
        elif isinstance(value, str):
            match = _DURATION_RE.match(value)
            if not match:
                raise ValueError
            seconds = float(match.group(1)) * _DURATION_UNITS[(match.group(2) or "s")[0].lower()]
        else:
            raise TypeError
    except (TypeError, ValueError, u.UnitsError) as exc:
        raise InvalidSampleError(f"Could not read the {what} {preview(value)}. {_DURATION_HINT}") from exc
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidSampleError(f"The {what} must be a positive duration, got {preview(value)}. {_DURATION_HINT}")
    return seconds


def format_seconds(seconds: float) -> str:
    """Write a number of seconds as DRMS reads it: plain decimals, never ``1e-06``.

    Whole numbers lose their ``.0`` (``720``), others keep up to six decimals (``0.0015``).
    """
    text = f"{seconds:.6f}".rstrip("0").rstrip(".")
    return text or "0"
