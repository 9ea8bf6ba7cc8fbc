"""The field types of the query models: what each field accepts, how it is normalised, and the
typed error (in this package's words) when it is wrong.

Each checker is a plain function used as a pydantic ``BeforeValidator``, so a field's rule lives
next to its type and is stated once. Allowed values of a choice come from its ``Literal`` type.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, get_args

import astropy.units as u
from pydantic import BeforeValidator, SecretStr

from prefect_jsoc.errors import (
    InvalidEmailError,
    InvalidKeywordFilterError,
    InvalidSampleError,
    InvalidSeriesError,
    InvalidWavelengthError,
    JsocValidationError,
    UnknownPrimeKeyError,
    UnknownSegmentError,
)
from prefect_jsoc.query._typed import preview
from prefect_jsoc.query.times import format_seconds, parse_duration

__all__ = [
    "MAX_NAME_LENGTH",
    "MAX_SERIES_LENGTH",
    "MAX_VALUE_LENGTH",
    "MIN_CADENCE",
    "TIME_PRIMEKEY_NAMES",
    "Cadence",
    "Method",
    "NotifyEmail",
    "PrimeKeys",
    "Protocol",
    "SegmentNames",
    "SeriesName",
    "Wavelengths",
    "check_name",
    "check_value",
    "choice",
    "format_number",
]

#: DRMS keeps series names in 64-byte buffers (``DRMS_MAXSERIESNAMELEN``), so 63 characters at most.
MAX_SERIES_LENGTH = 63
#: Keyword, prime-key and segment names: 32-byte buffers (``DRMS_MAXKEYNAMELEN``, ``DRMS_MAXSEGNAMELEN``).
MAX_NAME_LENGTH = 31
#: One prime-key or filter value; longer values only make a record set the web server refuses.
MAX_VALUE_LENGTH = 1024
#: Shortest sample cadence in seconds. Below a millisecond a cadence is a typo: no JSOC series has
#: time slots that fine, and DRMS reads no exponent notation such as ``@1e-06s``.
MIN_CADENCE = 0.001
#: Names through which sunpy lets a time be given as a prime key (sunpy's PRIMEKEY_LIST_TIME).
TIME_PRIMEKEY_NAMES = frozenset(
    {
        "T_START",
        "T_REC",
        "T_OBS",
        "MIDTIME",
        "OBS_DATE",
        "OBSDATE",
        "DATE_OBS",
        "STARTTIME",
        "STOPTIME",
        "UTC_STARTTIME",
    }
)

Protocol = Literal["fits", "as-is"]
Method = Literal["url", "url_quick", "url-tar"]

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SERIES_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*\.[A-Za-z0-9_]+$")
_EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_FORBIDDEN_VALUE_CHARS = set("[]{}'?\"\\") | {chr(c) for c in range(32)}
_WAVELENGTH_HINT = "Give a spectral astropy Quantity such as 171*u.AA, 17.1*u.nm or 6173*u.AA, or a number in Angstrom."


def format_number(x: float) -> str:
    """Write a number without a needless ``.0`` (``171``, ``6173.5``)."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def choice(
    allowed: Any, what: str, error: type[JsocValidationError], aliases: Mapping[str, str] | None = None
) -> Callable[[Any], Any]:
    """Build a checker for a ``Literal`` choice: case-insensitive, with aliases, listing the allowed values."""
    values: tuple[str, ...] = get_args(allowed)

    def check(value: Any) -> Any:
        text = value.strip().lower() if isinstance(value, str) else None
        text = (aliases or {}).get(text, text) if text is not None else None
        if text not in values:
            raise error(f"{what} {preview(value)} is not supported; use one of: {', '.join(values)}.")
        return text

    return check


def check_series(value: Any) -> str:
    """Check a series name: present, DRMS-shaped, not too long."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidSeriesError("Series must be specified for a JSOC query, for example series='hmi.M_45s'.")
    if not isinstance(value, str):
        raise InvalidSeriesError(f"series= must be a name such as 'hmi.M_45s', got a {type(value).__name__}.")
    name = value.strip()
    if len(name) > MAX_SERIES_LENGTH:
        raise InvalidSeriesError(
            f"Series {preview(name)} is too long: DRMS series names have at most {MAX_SERIES_LENGTH} characters."
        )
    if not _SERIES_RE.match(name):
        raise InvalidSeriesError(
            f"Series {preview(name)} is not a DRMS series name; it must look like 'hmi.M_45s' or "
            "'aia.lev1_euv_12s' (no brackets or braces: give times, prime keys and segments as "
            "separate options)."
        )
    return name


def check_name(value: Any, what: str, error: type[JsocValidationError]) -> str:
    """Check a keyword, prime-key or segment name (letters, digits and ``_``, at most 31 characters)."""
    name = value.strip() if isinstance(value, str) else value
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise error(f"{what} {preview(value)} is not a valid DRMS name (letters, digits and '_').")
    if len(name) > MAX_NAME_LENGTH:
        raise error(f"{what} {preview(name)} is too long: DRMS names have at most {MAX_NAME_LENGTH} characters.")
    return name


def check_value(value: Any, what: str) -> str:
    """Check a value sent inside a record set (prime-key value, filter value) and return its text."""
    if isinstance(value, bool) or value is None:
        raise InvalidKeywordFilterError(f"The value of {what} must be a string or a number, got {value!r}.")
    text = (format_number(value) if isinstance(value, float) else str(value)).strip()
    bad = sorted({c for c in text if c in _FORBIDDEN_VALUE_CHARS})
    if bad or not text:
        raise InvalidKeywordFilterError(
            f"The value {preview(text)} of {what} cannot be used in a DRMS record set: it is empty or contains "
            f"{' '.join(repr(c) for c in bad)}. Remove brackets, braces, quotes, '?' and control characters."
        )
    if len(text) > MAX_VALUE_LENGTH:
        raise InvalidKeywordFilterError(
            f"The value {preview(text)} of {what} is too long: at most {MAX_VALUE_LENGTH} characters fit in a "
            "record set."
        )
    return text


def _check_primekeys(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise UnknownPrimeKeyError(
            f"primekeys= must be a mapping such as {{'HARPNUM': 4864}}, got a {type(value).__name__}."
        )
    out: dict[str, str] = {}
    for key, item in value.items():
        name = check_name(key, "The prime key name", UnknownPrimeKeyError)
        if any(seen.upper() == name.upper() for seen in out):
            raise UnknownPrimeKeyError(
                f"Prime key {name!r} was given twice in primekeys= (names are case-insensitive)."
            )
        if isinstance(item, (list, tuple, set, frozenset)):  # several values: a DRMS comma list
            item = ",".join(check_value(v, f"prime key {name!r}") for v in item)
        out[name] = check_value(item, f"prime key {name!r}")
    return dict(sorted(out.items(), key=lambda kv: kv[0].upper()))


def _check_segments(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [s for s in re.split(r"[\s,]+", value) if s]
    try:
        names = list(value) if not isinstance(value, (Mapping, bytes)) else None
    except TypeError:  # not iterable
        names = None
    if names is None:
        raise UnknownSegmentError(
            f"segments= must be a comma-separated string or a list of strings, got a {type(value).__name__}."
        )
    return tuple(sorted({check_name(s, "Segment name", UnknownSegmentError) for s in names}))


def _check_cadence(value: Any) -> float:
    seconds = parse_duration(value, what="sample cadence")
    if seconds < MIN_CADENCE:
        raise InvalidSampleError(
            f"The sample cadence {preview(value)} ({format_seconds(seconds)} s) is shorter than {MIN_CADENCE:g} s, "
            "which no JSOC series resolves. Give the cadence in seconds, for example sample='45s' or "
            "sample=720, or leave it out to get every record."
        )
    return seconds


def _parse_wavelengths(value: Any) -> tuple[float, ...]:
    items: list[Any]
    if isinstance(value, u.Quantity) and not value.isscalar:
        items = list(value.flatten())
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
    else:
        items = [value]
    if not items:
        raise InvalidWavelengthError(f"The wavelength list is empty. {_WAVELENGTH_HINT}")
    return tuple(sorted({_angstrom(item) for item in items}))


def _angstrom(item: Any) -> float:
    try:
        if isinstance(item, bool):
            raise TypeError
        if isinstance(item, str):
            item = u.Quantity(item) if re.search(r"[A-Za-z]", item) else float(item)
        if isinstance(item, u.Quantity):
            if item.unit == u.dimensionless_unscaled:
                aa = float(item.value)
            else:
                aa = float(item.to_value(u.AA, equivalencies=u.spectral()))
        else:
            aa = float(item)
    except (TypeError, ValueError, u.UnitsError) as exc:
        raise InvalidWavelengthError(f"Could not read the wavelength {preview(item)}. {_WAVELENGTH_HINT}") from exc
    if not math.isfinite(aa) or aa <= 0:
        raise InvalidWavelengthError(f"The wavelength must be positive, got {preview(item)}. {_WAVELENGTH_HINT}")
    return round(aa, 6)


def _check_email(value: Any) -> SecretStr | None:
    if value is None:
        return None
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    # The address is never echoed: error messages end up in logs.
    if not isinstance(text, str) or not text.strip():
        raise InvalidEmailError("notify= must be an e-mail address registered with JSOC, such as name@example.org.")
    if "@" not in text:
        raise InvalidEmailError(
            "notify= has no '@', so it is not an e-mail address; give one such as name@example.org."
        )
    if not _EMAIL_RE.match(text.strip()):
        raise InvalidEmailError("notify= is not a valid e-mail address; it must look like name@example.org.")
    return SecretStr(text.strip())


SeriesName = Annotated[str, BeforeValidator(check_series)]
PrimeKeys = Annotated[dict[str, str], BeforeValidator(_check_primekeys)]
SegmentNames = Annotated[tuple[str, ...], BeforeValidator(_check_segments)]
Cadence = Annotated[float, BeforeValidator(_check_cadence)]
Wavelengths = Annotated[tuple[float, ...], BeforeValidator(_parse_wavelengths)]
NotifyEmail = Annotated[SecretStr, BeforeValidator(_check_email)]
