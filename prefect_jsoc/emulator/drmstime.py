"""DRMS time handling: TAI seconds, leap seconds, time strings, durations and slots.

Times are floats counting TAI seconds since 1977.01.01_00:00:00_TAI (the DRMS epoch). Because
TAI has no leap seconds, a TAI calendar label converts to these seconds by plain calendar
arithmetic; UTC labels need the TAI-UTC offset table below.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

__all__ = [
    "EPOCH",
    "TimeParseError",
    "format_drms",
    "format_iso_utc",
    "parse_duration",
    "parse_increment",
    "parse_time",
    "slot_index",
    "slot_time",
    "tai_from_calendar",
    "tai_to_utc_label",
    "utc_to_tai",
]

EPOCH = datetime(1977, 1, 1)

# (UTC date the offset starts, TAI-UTC in seconds) since 1972.
_LEAP_TABLE = [
    ((1972, 1, 1), 10),
    ((1972, 7, 1), 11),
    ((1973, 1, 1), 12),
    ((1974, 1, 1), 13),
    ((1975, 1, 1), 14),
    ((1976, 1, 1), 15),
    ((1977, 1, 1), 16),
    ((1978, 1, 1), 17),
    ((1979, 1, 1), 18),
    ((1980, 1, 1), 19),
    ((1981, 7, 1), 20),
    ((1982, 7, 1), 21),
    ((1983, 7, 1), 22),
    ((1985, 7, 1), 23),
    ((1988, 1, 1), 24),
    ((1990, 1, 1), 25),
    ((1991, 1, 1), 26),
    ((1992, 7, 1), 27),
    ((1993, 7, 1), 28),
    ((1994, 7, 1), 29),
    ((1996, 1, 1), 30),
    ((1997, 7, 1), 31),
    ((1999, 1, 1), 32),
    ((2006, 1, 1), 33),
    ((2009, 1, 1), 34),
    ((2012, 7, 1), 35),
    ((2015, 7, 1), 36),
    ((2017, 1, 1), 37),
]
_UTC_STARTS = [(datetime(*d) - EPOCH).total_seconds() for d, _ in _LEAP_TABLE]
_TAI_STARTS = [u + off for u, (_, off) in zip(_UTC_STARTS, _LEAP_TABLE)]
_OFFSETS = [off for _, off in _LEAP_TABLE]


class TimeParseError(ValueError):
    """Raised when a string is not a DRMS time or duration."""


def _offset(starts: list[float], t: float) -> int:
    off = _OFFSETS[0]
    for start, value in zip(starts, _OFFSETS):
        if t >= start:
            off = value
        else:
            break
    return off


def utc_to_tai(utc_label_seconds: float) -> float:
    """Convert a UTC label (seconds since the epoch, calendar arithmetic) to TAI seconds."""
    return utc_label_seconds + _offset(_UTC_STARTS, utc_label_seconds)


def tai_to_utc_label(tai: float) -> float:
    """Convert TAI seconds to a UTC label in seconds since the epoch (calendar arithmetic)."""
    return tai - _offset(_TAI_STARTS, tai)


def tai_from_calendar(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: float = 0.0) -> float:
    """TAI seconds of a TAI calendar label."""
    return (datetime(year, month, day) - EPOCH).total_seconds() + hour * 3600 + minute * 60 + second


_DRMS_RE = re.compile(
    r"^(\d{4})\.(\d{1,2})\.(\d{1,2})"
    r"(?:_(\d{1,2})(?::(\d{1,2})(?::(\d{1,2}(?:\.\d*)?))?)?)?"
    r"(?:_?(TAI|UTC|UT|Z|GMT|TT|TDT))?$",
    re.IGNORECASE,
)
_ISO_RE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2})(?::(\d{1,2})(?::(\d{1,2}(?:\.\d*)?))?)?)?"
    r"(?:_?(TAI|UTC|UT|Z|GMT|TT|TDT))?$",
    re.IGNORECASE,
)


def parse_time(text: str, default_zone: str = "TAI") -> float:
    """Parse a DRMS (``2014.01.01_00:00:45_TAI``) or ISO (``2014-01-01T00:00:45Z``) time.

    Args:
        text: The time string. Trailing fields may be omitted (``2014.01.01_13`` is 13:00).
        default_zone: Zone assumed when the string carries none (the keyword's unit).

    Returns:
        TAI seconds since the DRMS epoch.

    Raises:
        TimeParseError: If the string is not a time.
    """
    s = text.strip()
    m = _DRMS_RE.match(s) or _ISO_RE.match(s)
    if m is None:
        raise TimeParseError(f"not a DRMS time: {text!r}")
    year, month, day = int(m[1]), int(m[2]), int(m[3])
    hour = int(m[4]) if m[4] else 0
    minute = int(m[5]) if m[5] else 0
    second = float(m[6]) if m[6] else 0.0
    zone = (m[7] or default_zone).upper()
    try:
        seconds = tai_from_calendar(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise TimeParseError(f"not a DRMS time: {text!r}") from exc
    if zone in ("TAI",):
        return seconds
    if zone in ("TT", "TDT"):
        return seconds - 32.184
    return utc_to_tai(seconds)


_UNITS = {
    "": 1.0,
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "m": 60.0,
    "min": 60.0,
    "mins": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hrs": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
    "w": 604800.0,
    "week": 604800.0,
    "weeks": 604800.0,
}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*$")


def parse_duration(text: str) -> float:
    """Parse a DRMS duration such as ``90s``, ``90.0s``, ``10m``, ``1h`` or ``2d`` into seconds.

    Raises:
        TimeParseError: If the string is not a duration.
    """
    m = _DURATION_RE.match(text)
    if m is None or m[2].lower() not in _UNITS:
        raise TimeParseError(f"not a duration: {text!r}")
    return float(m[1]) * _UNITS[m[2].lower()]


_INCREMENT_RE = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)([smhdu])\s*$")
_INCREMENT_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_increment(text: str, slot_step: float) -> float:
    """Parse a record-set duration or cadence the way DRMS does, into seconds.

    DRMS's record-set parser (``parse_duration`` in ``drms_names.c``) takes a number followed by
    exactly one unit letter: ``s``, ``m``, ``h``, ``d``, or ``u`` (slots of the key). ``10min``
    or a bare ``90`` are syntax errors there, so they are here too.

    Args:
        text: The duration, e.g. ``3m``, ``90.0s`` or ``2u``.
        slot_step: Seconds per slot of the key, for the ``u`` unit.

    Raises:
        TimeParseError: If the string is not a DRMS duration.
    """
    m = _INCREMENT_RE.match(text)
    if m is None:
        raise TimeParseError(f"not a DRMS duration: {text!r}")
    value = float(m[1])
    return value * (slot_step if m[2] == "u" else _INCREMENT_UNITS[m[2]])


def slot_index(tai: float, epoch: float, step: float) -> int:
    """Index of the ``ts_eq`` slot containing ``tai`` (slots are centred on epoch + k*step)."""
    return math.floor((tai - epoch) / step + 0.5)


def slot_time(index: int, epoch: float, step: float) -> float:
    """TAI seconds of the centre of slot ``index``."""
    return epoch + index * step


def _calendar(seconds: float) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


def format_drms(tai: float, decimals: int = 0) -> str:
    """Format TAI seconds as ``YYYY.MM.DD_hh:mm:ss[.ff]_TAI``."""
    if decimals:
        whole = math.floor(tai)
        frac = f"{tai - whole:.{decimals}f}"
        if frac.startswith("1"):  # rounding carried into the next second
            whole += 1
            frac = "0" + frac[1:]
        return _calendar(whole).strftime("%Y.%m.%d_%H:%M:%S") + frac[1:] + "_TAI"
    return _calendar(round(tai)).strftime("%Y.%m.%d_%H:%M:%S_TAI")


def format_iso_utc(tai: float, decimals: int = 0, zulu: bool = True) -> str:
    """Format TAI seconds as the UTC ISO string ``YYYY-MM-DDThh:mm:ss[.ff][Z]``."""
    utc = tai_to_utc_label(tai)
    suffix = "Z" if zulu else ""
    if decimals:
        whole = math.floor(utc)
        frac = f"{utc - whole:.{decimals}f}"
        if frac.startswith("1"):
            whole += 1
            frac = "0" + frac[1:]
        return _calendar(whole).strftime("%Y-%m-%dT%H:%M:%S") + frac[1:] + suffix
    return _calendar(round(utc)).strftime("%Y-%m-%dT%H:%M:%S") + suffix
