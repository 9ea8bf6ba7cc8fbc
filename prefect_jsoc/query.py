"""The JSOC query model: shape checks, the DRMS record-set string, a stable cache key, OR expansion.

Nothing in this module talks to the network. Checks that need the series definition (prime keys,
segments, keyword names) live in the ``validate`` task; it returns the query with its
:class:`SeriesLayout` attached, which places the prime keys exactly where the series expects them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import astropy.units as u
from astropy.time import Time
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from prefect_jsoc.errors import (
    EmptyQueryError,
    IncompatibleOptionsError,
    InvalidCutoutError,
    InvalidEmailError,
    InvalidKeywordFilterError,
    InvalidOptionError,
    InvalidSampleError,
    InvalidSeriesError,
    InvalidTimeRangeError,
    InvalidWavelengthError,
    JsocValidationError,
    UnknownPrimeKeyError,
    UnknownSegmentError,
)

__all__ = [
    "Cutout",
    "JsocQuery",
    "KeywordFilter",
    "SeriesLayout",
    "or_queries",
    "parse_duration",
    "parse_time",
    "split_interval",
]

CACHE_KEY_VERSION = "v1"
PROTOCOLS = ("fits", "as-is")
METHODS = ("url", "url_quick", "url-tar")
OPERATORS = ("=", "!=", "<", "<=", ">", ">=")
_OPERATOR_ALIASES = {"==": "=", "<>": "!="}
#: Names through which sunpy lets a time be given as a prime key (sunpy's PRIMEKEY_LIST_TIME).
TIME_PRIMEKEY_NAMES = frozenset(
    {"T_START", "T_REC", "T_OBS", "MIDTIME", "OBS_DATE", "OBSDATE", "DATE_OBS", "STARTTIME", "STOPTIME",
     "UTC_STARTTIME"}
)
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SERIES_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*\.[A-Za-z0-9_]+$")
_EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_FORBIDDEN_VALUE_CHARS = set("[]{}'?\"\\") | {chr(c) for c in range(32)}
_DRMS_TIME_RE = re.compile(
    r"^(\d{4})\.(\d{1,2})\.(\d{1,2})(?:_(\d{1,2})(?::(\d{1,2})(?::(\d{1,2}(?:\.\d*)?))?)?)?$"
)
_SCALE_SUFFIX_RE = re.compile(r"(?:[_ ](TAI|UTC|UT|TT|TDB|TCG|TCB|UT1)|(Z))$", re.IGNORECASE)
_DURATION_RE = re.compile(
    r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*(s|sec|secs|second|seconds|m|min|mins|minute|minutes|"
    r"h|hr|hrs|hour|hours|d|day|days)?\s*$",
    re.IGNORECASE,
)
_DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


# ---------------------------------------------------------------------------------------------
# Typed errors out of pydantic
# ---------------------------------------------------------------------------------------------


def _typed_error(err: ValidationError, model: str) -> JsocValidationError:
    """Turn a pydantic ValidationError into the JsocValidationError it carries (or a clear one)."""
    for item in err.errors():
        inner = (item.get("ctx") or {}).get("error")
        if isinstance(inner, JsocValidationError):
            return inner
    item = err.errors()[0]
    loc = ".".join(str(p) for p in item.get("loc", ())) or model
    kind = item.get("type")
    if kind == "missing" and loc == "series":
        return InvalidSeriesError(
            "Series must be specified for a JSOC query, for example series='hmi.M_45s'."
        )
    if kind == "missing":
        return JsocValidationError(f"{model} needs a value for {loc!r}.")
    if kind == "extra_forbidden":
        return InvalidOptionError(f"{model} got an unknown option {loc!r}. Remove it or check its spelling.")
    return JsocValidationError(f"Invalid value for {loc!r} of {model}: {item.get('msg')}.")


class _TypedModel(BaseModel):
    """A frozen pydantic model whose constructor raises JsocValidationError, not ValidationError."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise _typed_error(err, type(self).__name__) from None

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Validate ``obj`` like pydantic does, raising :class:`JsocValidationError` on bad input."""
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as err:
            raise _typed_error(err, cls.__name__) from None


# ---------------------------------------------------------------------------------------------
# Parsing helpers
# ---------------------------------------------------------------------------------------------


def parse_time(value: Any, *, scale: str = "utc", what: str = "time") -> dt.datetime:
    """Read a time in any supported form and return it as a UTC-aware :class:`~datetime.datetime`.

    Args:
        value: An ISO string (``"2014-01-01T00:00:00"``, ``"2014-01-01 00:00Z"``), a DRMS string
            (``"2014.01.01_00:00:35_TAI"``), a :class:`~datetime.datetime` (naive values are in
            ``scale``), or an :class:`astropy.time.Time` (its own scale is used).
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
    scale = (scale or "utc").lower()
    if scale not in Time.SCALES or scale == "local":
        allowed = ", ".join(s for s in Time.SCALES if s != "local")
        raise InvalidTimeRangeError(f"Unknown time scale {scale!r}. Use one of: {allowed}.")
    hint = (
        "Use an ISO time such as '2014-01-01T00:00:00' (UTC unless a scale is given), a DRMS time "
        "such as '2014.01.01_00:00:35_TAI', a datetime or an astropy Time."
    )
    try:
        if isinstance(value, Time):
            t = value
        elif isinstance(value, dt.datetime):
            if value.tzinfo is not None:
                return value.astimezone(dt.timezone.utc)
            t = Time(value, scale=scale)
        elif isinstance(value, dt.date):
            t = Time(dt.datetime(value.year, value.month, value.day), scale=scale)
        elif isinstance(value, str):
            t = _parse_time_string(value.strip(), scale)
            if isinstance(t, dt.datetime):
                return t
        else:
            raise InvalidTimeRangeError(
                f"The {what} time {value!r} has an unsupported type {type(value).__name__}. {hint}"
            )
        if not t.isscalar:
            raise InvalidTimeRangeError(f"The {what} time must be a single instant, not an array. {hint}")
        return t.utc.to_datetime(timezone=dt.timezone.utc)
    except JsocValidationError:
        raise
    except Exception:  # astropy raises ValueError, TypeError and friends
        raise InvalidTimeRangeError(f"Could not read the {what} time {value!r}. {hint}") from None


def _parse_time_string(text: str, scale: str) -> Time | dt.datetime:
    if not text:
        raise ValueError("empty string")
    m = _SCALE_SUFFIX_RE.search(text)
    if m:
        scale = "utc" if (m.group(2) or m.group(1).upper() == "UT") else m.group(1).lower()
        text = text[: m.start()].strip()
    d = _DRMS_TIME_RE.match(text)
    if d:
        y, mo, day, hh, mm, ss = d.groups()
        sec = float(ss or 0)
        text = f"{int(y):04d}-{int(mo):02d}-{int(day):02d}T{int(hh or 0):02d}:{int(mm or 0):02d}:{sec:09.6f}"
        return Time(text, scale=scale, format="isot")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is not None:
        if parsed.tzinfo is not None:
            if m:
                raise ValueError("both a UTC offset and a time scale suffix were given")
            return parsed.astimezone(dt.timezone.utc)
        return Time(parsed, scale=scale)
    return Time(text, scale=scale)


def parse_duration(value: Any, *, what: str = "duration") -> float:
    """Read a duration and return it in seconds.

    Args:
        value: Seconds as a number, a :class:`~datetime.timedelta`, an astropy time
            :class:`~astropy.units.Quantity`, or a string such as ``"90s"``, ``"12m"``, ``"1h"``,
            ``"1d"``.
        what: Name of the value in error messages.

    Returns:
        The duration in seconds (a positive float).

    Raises:
        InvalidSampleError: When the value is not a positive duration.

    Example:
        ```python
        from prefect_jsoc.query import parse_duration
        assert parse_duration("12m") == 720.0
        ```
    """
    hint = "Give seconds as a number, a timedelta, an astropy Quantity such as 90*u.s, or a string such as '90s', '12m', '1h'."
    seconds: float
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
            m = _DURATION_RE.match(value)
            if not m:
                raise ValueError
            unit = (m.group(2) or "s")[0].lower()
            seconds = float(m.group(1)) * _DURATION_UNITS[unit]
        else:
            raise TypeError
    except (TypeError, ValueError, u.UnitsError):
        raise InvalidSampleError(f"Could not read the {what} {value!r}. {hint}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidSampleError(f"The {what} must be a positive duration, got {value!r}. {hint}")
    return seconds


def _parse_wavelengths(value: Any) -> tuple[float, ...]:
    hint = "Give a spectral astropy Quantity such as 171*u.AA, 17.1*u.nm or 6173*u.AA, or a number in Angstrom."
    items: Iterable[Any]
    if isinstance(value, u.Quantity) and not value.isscalar:
        items = list(value.flatten())
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
    else:
        items = [value]
    if not items:
        raise InvalidWavelengthError(f"The wavelength list is empty. {hint}")
    out = []
    for item in items:
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
        except (TypeError, ValueError, u.UnitsError, u.UnitConversionError):
            raise InvalidWavelengthError(f"Could not read the wavelength {item!r}. {hint}") from None
        if not math.isfinite(aa) or aa <= 0:
            raise InvalidWavelengthError(f"The wavelength must be positive, got {item!r}. {hint}")
        out.append(round(aa, 6))
    return tuple(sorted(set(out)))


def _check_value(value: Any, what: str) -> str:
    if isinstance(value, bool) or value is None:
        raise InvalidKeywordFilterError(f"The value of {what} must be a string or a number, got {value!r}.")
    text = _fmt_num(value) if isinstance(value, float) else str(value)
    bad = sorted({c for c in text if c in _FORBIDDEN_VALUE_CHARS})
    if bad or not text.strip():
        raise InvalidKeywordFilterError(
            f"The value {text!r} of {what} cannot be used in a DRMS record set: it is empty or contains "
            f"{' '.join(repr(c) for c in bad)}. Remove brackets, braces, quotes, '?' and control characters."
        )
    return text.strip()


def _fmt_num(x: float) -> str:
    if float(x).is_integer():
        return str(int(x))
    return repr(float(x))


# ---------------------------------------------------------------------------------------------
# Small models
# ---------------------------------------------------------------------------------------------


class KeywordFilter(_TypedModel):
    """One keyword comparison, rendered inside ``[? ... ?]`` like sunpy's ``Keyword("QUALITY") == 0``.

    Attributes:
        name: Keyword name, for example ``"QUALITY"``.
        op: One of ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` (``==`` and ``<>`` are accepted).
        value: The value to compare with; it is sent single-quoted, as sunpy does.

    Example:
        ```python
        from prefect_jsoc import KeywordFilter
        KeywordFilter.parse("QUALITY=0")      # KeywordFilter(name='QUALITY', op='=', value='0')
        ```
    """

    name: str
    op: str
    value: str

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        name = data.get("name")
        if not isinstance(name, str) or not _NAME_RE.match(name.strip()):
            raise InvalidKeywordFilterError(
                f"Keyword filter name {name!r} is not a valid DRMS keyword name (letters, digits and '_')."
            )
        name = name.strip()
        op = data.get("op")
        if op is None:
            raise InvalidKeywordFilterError(f"Keyword {name!r} needs to have a comparison to a value.")
        op = _OPERATOR_ALIASES.get(str(op).strip(), str(op).strip())
        if op not in OPERATORS:
            raise InvalidKeywordFilterError(
                f"Keyword filter {name!r} uses the operator {data.get('op')!r}; the allowed operators are "
                f"{', '.join(OPERATORS)}."
            )
        if "value" not in data:
            raise InvalidKeywordFilterError(f"Keyword {name!r} needs to have a comparison to a value.")
        data.update(name=name, op=op, value=_check_value(data["value"], f"keyword filter {name!r}"))
        return data

    @classmethod
    def parse(cls, spec: Any) -> KeywordFilter:
        """Build a filter from a :class:`KeywordFilter`, a ``(name, op, value)`` tuple, a mapping or a string.

        Args:
            spec: ``"QUALITY=0"``, ``"EXPTIME >= 2"``, ``("QUALITY", "=", 0)`` or
                ``{"name": "QUALITY", "op": "=", "value": 0}``.

        Returns:
            The filter.

        Raises:
            InvalidKeywordFilterError: When the spec has no comparison or an unknown operator.

        Example:
            ```python
            from prefect_jsoc import KeywordFilter
            assert KeywordFilter.parse(("EXPTIME", ">", 2)).render() == "EXPTIME>'2'"
            ```
        """
        if isinstance(spec, KeywordFilter):
            return spec
        if isinstance(spec, Mapping):
            return cls(**spec)
        if isinstance(spec, str):
            m = re.match(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=|<>|<=|>=|=|<|>)\s*(.*?)\s*$", spec)
            if not m:
                raise InvalidKeywordFilterError(
                    f"Keyword filter {spec!r} needs to have a comparison to a value, such as 'QUALITY=0' or "
                    "'EXPTIME>2'."
                )
            return cls(name=m.group(1), op=m.group(2), value=m.group(3).strip("'\""))
        if isinstance(spec, Sequence) and len(spec) == 3:
            return cls(name=spec[0], op=spec[1], value=spec[2])
        raise InvalidKeywordFilterError(
            f"Keyword filter {spec!r} must be a KeywordFilter, a (name, op, value) tuple, a mapping or a "
            "string such as 'QUALITY=0'."
        )

    def render(self, name: str | None = None) -> str:
        """Return the SQL fragment, e.g. ``QUALITY='0'`` (``name`` overrides the spelling)."""
        return f"{name or self.name}{self.op}'{self.value}'"


class Cutout(_TypedModel):
    """Parameters of JSOC's ``im_patch`` processing (a cut-out), as sunpy's ``Cutout`` sends them.

    Attributes:
        x: Centre of the box, horizontal (``locunits``, arcsec by default).
        y: Centre of the box, vertical.
        width: Box width (``boxunits``).
        height: Box height.
        t_ref: Reference time of the box centre; the query start when omitted.
        tracking: Follow solar rotation (sunpy's ``tracking``; sent as ``t=0`` when True).
        register_images: Register the images (``r``; sunpy's ``register``, also accepted).
        nan_off_limb: Set off-limb pixels to NaN (``c``).
        locunits: Units of ``x``/``y``: ``arcsec``, ``pixels``, ``stony`` or ``carrlong``.
        boxunits: Units of ``width``/``height``: ``arcsec``, ``pixels`` or ``degrees``.

    Example:
        ```python
        from prefect_jsoc import Cutout
        Cutout(x=-450, y=-250, width=100, height=50)
        ```
    """

    x: float
    y: float
    width: float
    height: float
    t_ref: dt.datetime | None = None
    tracking: bool = False
    register_images: bool = False
    nan_off_limb: bool = False
    locunits: Literal["arcsec", "pixels", "stony", "carrlong"] = "arcsec"
    boxunits: Literal["arcsec", "pixels", "degrees"] = "arcsec"

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        if "register" in data:
            data["register_images"] = bool(data.pop("register"))
        for key in ("x", "y", "width", "height"):
            if key not in data:
                raise InvalidCutoutError(f"The cut-out needs {key!r}; give x, y, width and height.")
            val = data[key]
            try:
                if isinstance(val, u.Quantity):
                    val = val.to_value(u.arcsec) if val.unit.physical_type == "angle" else val.value
                val = float(val)
            except (TypeError, ValueError, u.UnitsError):
                raise InvalidCutoutError(f"The cut-out {key} {data[key]!r} is not a number.") from None
            if not math.isfinite(val) or (key in ("width", "height") and val <= 0):
                raise InvalidCutoutError(f"The cut-out {key} must be a positive number, got {data[key]!r}.")
            data[key] = val
        for key, allowed in (("locunits", ("arcsec", "pixels", "stony", "carrlong")),
                             ("boxunits", ("arcsec", "pixels", "degrees"))):
            if key in data and data[key] not in allowed:
                raise InvalidCutoutError(
                    f"The cut-out {key} {data[key]!r} is not allowed; use one of {', '.join(allowed)}."
                )
        if data.get("t_ref") is not None:
            data["t_ref"] = parse_time(data["t_ref"], what="cut-out reference")
        return data

    def process(self, default_t_ref: dt.datetime | None = None) -> dict[str, dict[str, Any]]:
        """Return the ``process`` mapping drms sends as ``process=n`` (``{"im_patch": {...}}``)."""
        t_ref = self.t_ref or default_t_ref
        opts: dict[str, Any] = {}
        if t_ref is not None:
            opts["t_ref"] = t_ref.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + (
                f"{t_ref.microsecond // 1000:03d}"
            )
        opts.update(
            t=int(not self.tracking),
            r=int(self.register_images),
            c=int(self.nan_off_limb),
            locunits=self.locunits,
            boxunits=self.boxunits,
            x=self.x,
            y=self.y,
            width=self.width,
            height=self.height,
        )
        return {"im_patch": opts}


class SeriesLayout(BaseModel):
    """How a series orders its prime keys; filled in by ``validate`` from the server's definition.

    Attributes:
        primekeys: Prime key names in series order, spelled as the server spells them.
        time_primekeys: The subset of ``primekeys`` whose type is ``time``.
        keywords: Every keyword name of the series.
        segments: Every segment name of the series.
    """

    model_config = ConfigDict(frozen=True)

    primekeys: tuple[str, ...] = ()
    time_primekeys: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------
# The query
# ---------------------------------------------------------------------------------------------


class JsocQuery(_TypedModel):
    """One JSOC query (one sunpy "OR block"): immutable, checked, and hashable.

    Shape errors raise a :class:`~prefect_jsoc.errors.JsocValidationError` subclass at
    construction, with no network access. Times are stored as UTC-aware datetimes; the record
    set sends them in TAI as sunpy does.

    Attributes:
        series: DRMS series name, e.g. ``"hmi.M_45s"`` (case-insensitive).
        start: Start of the time range (string, datetime or astropy Time).
        end: End of the time range.
        end_inclusive: Whether a record exactly at ``end`` belongs to the range (DRMS ``a-b``);
            chunks made by :func:`split_interval` use ``False`` (DRMS ``a/duration``).
        scale: Time scale for strings and naive datetimes without one (default ``"utc"``).
        sample: Cadence in seconds (accepts ``"90s"``, a timedelta or an astropy Quantity).
        wavelength: Wavelengths in Angstrom (accepts spectral Quantities in any unit).
        primekeys: Other prime-key values, e.g. ``{"HARPNUM": 4864}``.
        segments: Segment names to export, e.g. ``["magnetogram"]``; empty means all.
        filters: Keyword comparisons, e.g. ``["QUALITY=0"]`` or ``[("EXPTIME", ">", 2)]``.
        protocol: ``"fits"`` (headers in the files) or ``"as-is"`` (files as stored).
        method: ``"url"``, ``"url_quick"`` or ``"url-tar"``; default ``url`` for fits and
            ``url_quick`` for as-is.
        cutout: Optional :class:`Cutout` (im_patch processing; fits only).
        notify: Notify e-mail registered with JSOC; overrides the configured one.
        layout: The series' prime-key layout, set by ``validate``; not part of the cache key.

    Example:
        ```python
        from prefect_jsoc import JsocQuery
        q = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00:00", end="2014-01-01T00:02:00",
                      segments=["magnetogram"])
        q.recordset()   # 'hmi.M_45s[2014.01.01_00:00:35_TAI-2014.01.01_00:02:35_TAI]{magnetogram}'
        q.cache_key()   # stable digest, equal for equal queries however they were written
        ```
    """

    series: str
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    end_inclusive: bool = True
    scale: str = "utc"
    sample: float | None = None
    wavelength: tuple[float, ...] | None = None
    primekeys: dict[str, str] = Field(default_factory=dict)
    segments: tuple[str, ...] = ()
    filters: tuple[KeywordFilter, ...] = ()
    protocol: Literal["fits", "as-is"] = "fits"
    method: Literal["url", "url_quick", "url-tar"] = "url"
    cutout: Cutout | None = None
    notify: str | None = Field(default=None, repr=False)
    layout: SeriesLayout | None = Field(default=None, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        series = data.get("series")
        if series is None or (isinstance(series, str) and not series.strip()):
            raise InvalidSeriesError("Series must be specified for a JSOC query, for example series='hmi.M_45s'.")
        if not isinstance(series, str) or not _SERIES_RE.match(series.strip()):
            raise InvalidSeriesError(
                f"Series {series!r} is not a DRMS series name; it must look like 'hmi.M_45s' or "
                "'aia.lev1_euv_12s' (no brackets or braces: give times, prime keys and segments as "
                "separate options)."
            )
        data["series"] = series.strip()

        scale = data.get("scale") or "utc"
        if not isinstance(scale, str) or scale.lower() not in Time.SCALES or scale.lower() == "local":
            allowed = ", ".join(s for s in Time.SCALES if s != "local")
            raise InvalidTimeRangeError(f"Unknown time scale {scale!r}. Use one of: {allowed}.")
        data["scale"] = scale.lower()
        for key in ("start", "end"):
            if data.get(key) is not None:
                data[key] = parse_time(data[key], scale=data["scale"], what=key)

        if data.get("sample") is not None:
            data["sample"] = parse_duration(data["sample"], what="sample cadence")
        if data.get("wavelength") is not None:
            data["wavelength"] = _parse_wavelengths(data["wavelength"])

        pks = data.get("primekeys") or {}
        if not isinstance(pks, Mapping):
            raise UnknownPrimeKeyError(
                f"primekeys must be a mapping such as {{'HARPNUM': 4864}}, got {type(pks).__name__}."
            )
        norm_pk: dict[str, str] = {}
        for name, value in pks.items():
            if not isinstance(name, str) or not _NAME_RE.match(name.strip()):
                raise UnknownPrimeKeyError(f"Prime key name {name!r} is not a valid DRMS keyword name.")
            if any(n.upper() == name.strip().upper() for n in norm_pk):
                raise UnknownPrimeKeyError(f"Prime key {name!r} was given twice (names are case-insensitive).")
            norm_pk[name.strip()] = _check_value(value, f"prime key {name!r}")
        data["primekeys"] = dict(sorted(norm_pk.items(), key=lambda kv: kv[0].upper()))

        segs = data.get("segments")
        if segs is None:
            segs = ()
        if isinstance(segs, str):
            segs = [s for s in re.split(r"[\s,]+", segs) if s]
        if not isinstance(segs, Iterable):
            raise UnknownSegmentError(
                "Segments can only be passed as a comma-separated string or a list of strings."
            )
        seg_list = []
        for s in segs:
            if not isinstance(s, str) or not _NAME_RE.match(s.strip()):
                raise UnknownSegmentError(f"Segment name {s!r} is not a valid DRMS segment name.")
            seg_list.append(s.strip())
        data["segments"] = tuple(sorted(set(seg_list)))

        filters = data.get("filters") or ()
        if isinstance(filters, (str, KeywordFilter, Mapping)):
            filters = [filters]
        parsed = [KeywordFilter.parse(f) for f in filters]
        data["filters"] = tuple(sorted(set(parsed), key=lambda f: (f.name.upper(), f.op, f.value)))

        protocol = data.get("protocol") or "fits"
        protocol = str(protocol).strip().lower()
        if protocol not in PROTOCOLS:
            raise InvalidOptionError(
                f"Protocol {data.get('protocol')!r} is not supported; use one of: {', '.join(PROTOCOLS)}."
            )
        data["protocol"] = protocol
        method = data.get("method")
        if method is None:
            method = "url" if protocol == "fits" else "url_quick"
        method = str(method).strip().lower().replace("url-quick", "url_quick")
        if method not in METHODS:
            raise InvalidOptionError(
                f"Method {data.get('method')!r} is not supported; use one of: {', '.join(METHODS)}."
            )
        data["method"] = method

        if data.get("cutout") is not None and not isinstance(data["cutout"], Cutout):
            data["cutout"] = _coerce_cutout(data["cutout"])
        notify = data.get("notify")
        if notify is not None:
            if not isinstance(notify, str) or not notify.strip():
                raise InvalidEmailError("Notify attribute must contain an email address.")
            if "@" not in notify:
                raise InvalidEmailError(
                    "Notify attribute must contain an '@' symbol to be a valid email address."
                )
            if not _EMAIL_RE.match(notify.strip()):
                raise InvalidEmailError(
                    f"The notify e-mail {notify.strip()!r} is not a valid e-mail address; it must look like "
                    "name@example.org."
                )
            data["notify"] = notify.strip()
        return data

    @model_validator(mode="after")
    def _check(self) -> JsocQuery:
        if (self.start is None) != (self.end is None):
            raise InvalidTimeRangeError(
                "Give both start and end of the time range, or neither (to select by prime keys only)."
            )
        if self.start is not None and self.end is not None:
            if self.end < self.start or (self.end == self.start and not self.end_inclusive):
                raise InvalidTimeRangeError(
                    f"The time range is empty: end {self.end.isoformat()} is not after start "
                    f"{self.start.isoformat()}. Swap them or widen the range."
                )
        if self.sample is not None and self.start is None:
            raise InvalidSampleError("A sample cadence needs a time range; give start and end too.")
        time_pks = [k for k in self.primekeys if k.upper() in TIME_PRIMEKEY_NAMES]
        if self.start is not None and time_pks:
            raise IncompatibleOptionsError(
                "Time attribute has been passed both as a Time() and PrimeKey(). Please provide any one of "
                f"them or separate them by OR operator. (The time prime key was {time_pks[0]!r}.)"
            )
        if len(time_pks) > 1:
            raise IncompatibleOptionsError(
                "Querying of series, having more than 1 Time-type prime-keys is not yet supported. "
                "Alternative is to use only one of the primekey to query for series data."
            )
        if self.wavelength is not None and any(k.upper() == "WAVELNTH" for k in self.primekeys):
            raise IncompatibleOptionsError(
                "Wavelength attribute has been passed both as a Wavelength() and PrimeKey(). Please provide "
                "any one of them or separate them by OR operator."
            )
        if self.start is None and self.wavelength is None and not self.primekeys:
            raise EmptyQueryError(
                "Time, Wavelength or an explicit PrimeKey must be specified. A whole series is far too "
                f"large to query: give start and end for {self.series}."
            )
        if self.method == "url_quick" and self.protocol != "as-is":
            raise IncompatibleOptionsError(
                f"Method 'url_quick' only works with protocol 'as-is', but protocol is {self.protocol!r}. "
                "Use method='url' for fits, or protocol='as-is' for quick exports."
            )
        if self.cutout is not None and self.protocol != "fits":
            raise IncompatibleOptionsError(
                "A cut-out (im_patch) needs protocol 'fits': JSOC silently ignores processing for 'as-is' "
                "exports. Use protocol='fits' or drop the cut-out."
            )
        return self

    # -- derived values ------------------------------------------------------------------------

    def __hash__(self) -> int:
        return hash((self.cache_key(), self.notify, self.layout))

    def with_layout(self, layout: SeriesLayout) -> JsocQuery:
        """Return a copy that places prime keys according to ``layout`` (the series definition)."""
        return self.model_copy(update={"layout": layout})

    def time_range_tai(self) -> str | None:
        """Return the time part of the record set (``a-b`` or ``a/Ns``, plus ``@Ns``) in TAI."""
        if self.start is None or self.end is None:
            return None
        a = _tai(self.start)
        if self.end_inclusive:
            rng = f"{a.strftime('%Y.%m.%d_%H:%M:%S_TAI')}-{_tai(self.end).strftime('%Y.%m.%d_%H:%M:%S_TAI')}"
        else:
            seconds = (self.end - self.start).total_seconds()
            rng = f"{a.strftime('%Y.%m.%d_%H:%M:%S_TAI')}/{_fmt_num(seconds)}s"
        if self.sample is not None:
            rng += f"@{_fmt_num(self.sample)}s"
        return rng

    def recordset(self, layout: SeriesLayout | None = None) -> str:
        """Build the DRMS record-set string JSOC expects for this query.

        Time goes to the series' time prime key in TAI (``2014.01.01_00:00:35_TAI``), wavelength
        to ``WAVELNTH`` (``int(ceil(Å))`` as sunpy does), other prime keys to their positions;
        trailing empty ``[]`` are omitted. Keyword filters become ``[? K='v' AND ... ?]`` and
        segments ``{a,b}``.

        Args:
            layout: The series' prime-key order. Defaults to the layout attached by ``validate``.
                Without one, the time comes first, then ``WAVELNTH``, then other prime keys in the
                order given, which is right for the HMI and AIA level-1 series.

        Returns:
            The record-set string, e.g. ``aia.lev1_euv_12s[2014.01.01_00:00:35_TAI-...][171]``.

        Raises:
            UnknownPrimeKeyError: When a prime key is not in ``layout``.
            InvalidTimeRangeError: When a time range is given but the layout has no time prime key.
            InvalidWavelengthError: When a wavelength is given but the layout has no ``WAVELNTH``.

        Example:
            ```python
            from prefect_jsoc import JsocQuery
            q = JsocQuery(series="aia.lev1_euv_12s", start="2014-01-01", end="2014-01-01T00:01",
                          wavelength=171)
            assert q.recordset() == "aia.lev1_euv_12s[2014.01.01_00:00:35_TAI-2014.01.01_00:01:35_TAI][171]"
            ```
        """
        layout = layout or self.layout
        values: dict[str, str] = {}  # upper-cased prime key -> value
        time_str = self.time_range_tai()
        wl_str = ",".join(str(int(math.ceil(w - 1e-9))) for w in self.wavelength) if self.wavelength else None
        if layout is not None and layout.primekeys:
            order = list(layout.primekeys)
            upper = {k.upper(): k for k in order}
            if time_str is not None:
                if not layout.time_primekeys:
                    raise InvalidTimeRangeError(
                        f"The series {self.series} has no time prime key, so start/end cannot be used. Its "
                        f"prime keys are {list(order)}; select records with primekeys instead."
                    )
                values[layout.time_primekeys[0].upper()] = time_str
            if wl_str is not None:
                if "WAVELNTH" not in upper:
                    raise InvalidWavelengthError(
                        f"The series {self.series} does not support wavelength attribute. The following "
                        f"primekeys are supported {list(order)}"
                    )
                values["WAVELNTH"] = wl_str
            for name, value in self.primekeys.items():
                if name.upper() not in upper:
                    raise UnknownPrimeKeyError(
                        f"Unexpected PrimeKeys were passed. The series {self.series} supports the following "
                        f"primekeys: {list(order)}"
                    )
                values[name.upper()] = value
        else:
            order = []
            if time_str is not None:
                order.append("__TIME__")
                values["__TIME__"] = time_str
            if wl_str is not None:
                order.append("WAVELNTH")
                values["WAVELNTH"] = wl_str
            for name, value in self.primekeys.items():
                order.append(name)
                values[name.upper()] = value
        parts = []
        remaining = set(values)
        for name in order:
            if not remaining:
                break
            key = name.upper()
            parts.append(f"[{values.get(key, '')}]")
            remaining.discard(key)
        out = self.series + "".join(parts)
        if self.filters:
            kw_names = {k.upper(): k for k in (layout.keywords if layout else ())}
            clause = " AND ".join(f.render(kw_names.get(f.name.upper())) for f in self.filters)
            out += f"[? {clause} ?]"
        if self.segments:
            seg_names = {s.upper(): s for s in (layout.segments if layout else ())}
            out += "{" + ",".join(seg_names.get(s.upper(), s) for s in self.segments) + "}"
        return out

    def process(self) -> dict[str, dict[str, Any]] | None:
        """Return the drms ``process`` mapping for the cut-out, or None without one."""
        return self.cutout.process(default_t_ref=self.start) if self.cutout else None

    def canonical(self) -> dict[str, Any]:
        """Return the normalised content that defines the query (what :meth:`cache_key` hashes).

        The notify e-mail, the attached layout and the input time scale are left out: they do not
        change which data are exported.
        """
        return {
            "version": CACHE_KEY_VERSION,
            "series": self.series.lower(),
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "end_inclusive": self.end_inclusive if self.start else None,
            "sample": self.sample,
            "wavelength": list(self.wavelength) if self.wavelength else None,
            "primekeys": {k.upper(): v for k, v in self.primekeys.items()},
            "segments": sorted(s.lower() for s in self.segments),
            "filters": sorted([f.name.upper(), f.op, f.value] for f in self.filters),
            "protocol": self.protocol,
            "method": self.method,
            "cutout": self.cutout.model_dump(mode="json") if self.cutout else None,
        }

    def cache_key(self) -> str:
        """Return a stable digest of the normalised query.

        Equal queries written differently (``"2014-01-01T00:00"`` vs ``datetime(2014, 1, 1)`` vs
        ``"2014.01.01_00:00:35_TAI"``, segment order, series case) get the same key; the notify
        e-mail does not change it.

        Returns:
            32 hexadecimal characters.

        Example:
            ```python
            from prefect_jsoc import JsocQuery
            a = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00:00", end="2014-01-01T00:05:00")
            b = JsocQuery(series="HMI.m_45s", start="2014.01.01_00:00:35_TAI", end="2014-01-01 00:05Z")
            assert a.cache_key() == b.cache_key()
            ```
        """
        blob = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    @property
    def label(self) -> str:
        """Human name for run names and logs, e.g. ``hmi.M_45s 2014-01-01 00:00–00:05``."""
        parts = [self.series]
        if self.start is not None and self.end is not None:
            fmt = "%H:%M:%S" if (self.start.second or self.end.second) else "%H:%M"
            a = self.start.strftime(f"%Y-%m-%d {fmt}")
            b = self.end.strftime(fmt if self.end.date() == self.start.date() else f"%Y-%m-%d {fmt}")
            parts.append(f"{a}–{b}")
            if self.sample is not None:
                parts.append(f"@{_fmt_num(self.sample)}s")
        if self.wavelength:
            parts.append(",".join(_fmt_num(w) for w in self.wavelength) + "Å")
        parts.extend(f"{k}={v}" for k, v in self.primekeys.items())
        return " ".join(parts)

    def __str__(self) -> str:
        return self.label

    # -- sunpy ---------------------------------------------------------------------------------

    @classmethod
    def from_attrs(cls, *query: Any, **overrides: Any) -> list[JsocQuery]:
        """Build queries from sunpy ``attrs`` (``a.jsoc.Series``, ``a.Time``, ... combined with ``&``/``|``).

        Each OR branch becomes one query, exactly as sunpy's JSOC client splits them into blocks.

        Args:
            *query: sunpy attrs, combined as for ``Fido.search`` (several are ANDed).
            **overrides: Extra query fields applied to every branch (e.g. ``method="url-tar"``).

        Returns:
            One :class:`JsocQuery` per OR branch.

        Raises:
            JsocValidationError: When a branch is not a valid query (for example without a series).
            ImportError: When sunpy is not installed.

        Example:
            ```python
            import astropy.units as u
            from sunpy.net import attrs as a
            from prefect_jsoc import JsocQuery
            qs = JsocQuery.from_attrs(
                a.Time("2014-01-01T00:00:00", "2014-01-01T00:01:00"),
                a.jsoc.Series("aia.lev1_euv_12s"),
                a.Wavelength(171 * u.AA) | a.Wavelength(193 * u.AA),
            )
            assert len(qs) == 2
            ```
        """
        from sunpy.net import attr as sattr
        from sunpy.net.jsoc.attrs import walker

        expr = sattr.and_(*query) if len(query) > 1 else query[0]
        try:
            blocks = walker.create(expr)
        except ValueError as exc:  # sunpy's own shape checks (Keyword without comparison, ...)
            raise InvalidKeywordFilterError(str(exc)) if "Keyword" in str(exc) else InvalidWavelengthError(
                str(exc)
            ) from None
        out = []
        for block in blocks:
            out.append(cls(**{**_fields_from_block(block), **overrides}))
        return out


def _coerce_cutout(value: Any) -> Cutout:
    if isinstance(value, Mapping):
        value = dict(value)
        if {"t", "r", "c"} & set(value):  # sunpy's Cutout.value / drms im_patch keys
            value = {
                "x": value.get("x"),
                "y": value.get("y"),
                "width": value.get("width"),
                "height": value.get("height"),
                "t_ref": value.get("t_ref"),
                "tracking": not bool(int(value.get("t", 1))),
                "register_images": bool(int(value.get("r", 0))),
                "nan_off_limb": bool(int(value.get("c", 0))),
                **{k: value[k] for k in ("locunits", "boxunits") if k in value},
            }
        return Cutout(**value)
    raw = getattr(value, "value", None)
    if isinstance(raw, Mapping):
        return _coerce_cutout(raw)
    raise InvalidCutoutError(f"The cut-out must be a Cutout, a mapping or a sunpy Cutout, got {value!r}.")


def _fields_from_block(block: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if "series" in block:
        fields["series"] = block["series"]
    if "start_time" in block:
        fields["start"] = block["start_time"]
        fields["end"] = block["end_time"]
    if block.get("sample") not in (None, ""):
        fields["sample"] = block["sample"]
    if block.get("wavelength") not in (None, ""):
        fields["wavelength"] = block["wavelength"]
    if block.get("primekey"):
        fields["primekeys"] = {k: str(v) for k, v in block["primekey"].items()}
    if block.get("segment"):
        fields["segments"] = block["segment"]
    if block.get("keyword"):
        fields["filters"] = [(k, v["operator"], v["value"]) for k, v in block["keyword"].items()]
    if block.get("protocol"):
        fields["protocol"] = block["protocol"]
    if block.get("notify"):
        fields["notify"] = block["notify"]
    if block.get("cutout"):
        fields["cutout"] = block["cutout"]
    return fields


def _tai(value: dt.datetime) -> Time:
    return Time(value.astimezone(dt.timezone.utc).replace(tzinfo=None), scale="utc").tai


# ---------------------------------------------------------------------------------------------
# OR expansion
# ---------------------------------------------------------------------------------------------


def or_queries(
    series: str | Sequence[str],
    intervals: Sequence[tuple[Any, Any]] | None = None,
    **common: Any,
) -> list[JsocQuery]:
    """Expand several series and/or several intervals into one query per combination.

    This is the OR of sunpy (``Series(a) | Series(b)``), ready for fan-out with ``.map``.
    Duplicates (equal cache keys) are dropped; the order is series-major.

    Args:
        series: One series name or several.
        intervals: ``(start, end)`` pairs. When omitted, ``start``/``end`` from ``common`` apply.
        **common: Every other :class:`JsocQuery` field, shared by all queries.

    Returns:
        The queries.

    Raises:
        JsocValidationError: When any combination is not a valid query.

    Example:
        ```python
        from prefect_jsoc import or_queries
        qs = or_queries(["hmi.M_45s", "hmi.Ic_45s"],
                        intervals=[("2014-01-01T00:00", "2014-01-01T00:05"),
                                   ("2014-01-02T00:00", "2014-01-02T00:05")])
        assert len(qs) == 4
        ```
    """
    names = [series] if isinstance(series, str) else list(series)
    if not names:
        raise InvalidSeriesError("or_queries needs at least one series, for example ['hmi.M_45s'].")
    spans: list[tuple[Any, Any] | None] = list(intervals) if intervals is not None else [None]
    if intervals is not None and not spans:
        raise InvalidTimeRangeError("or_queries got an empty list of intervals; give at least one (start, end).")
    out: list[JsocQuery] = []
    seen: set[str] = set()
    for name in names:
        for span in spans:
            fields = dict(common, series=name)
            if span is not None:
                try:
                    fields["start"], fields["end"] = span
                except (TypeError, ValueError):
                    raise InvalidTimeRangeError(
                        f"Each interval must be a (start, end) pair, got {span!r}."
                    ) from None
            q = JsocQuery(**fields)
            if q.cache_key() not in seen:
                seen.add(q.cache_key())
                out.append(q)
    return out


def split_interval(query: JsocQuery, every: Any) -> list[JsocQuery]:
    """Split one long query into consecutive chunks of at most ``every``.

    Chunks do not overlap: every chunk except the last excludes its end (DRMS ``a/duration``),
    so a record on a boundary is exported once. With a ``sample`` cadence, ``every`` must be a
    multiple of it so the sampling grid stays the same.

    Args:
        query: A query with a time range.
        every: Chunk length (seconds, timedelta, Quantity or a string such as ``"6h"``).

    Returns:
        The chunks, in time order (a one-element list when the range is short).

    Raises:
        InvalidTimeRangeError: When the query has no time range.
        InvalidSampleError: When ``every`` is not a positive multiple of the cadence.

    Example:
        ```python
        from prefect_jsoc import JsocQuery, split_interval
        q = JsocQuery(series="hmi.M_45s", start="2014-01-01", end="2014-01-02")
        assert len(split_interval(q, "6h")) == 4
        ```
    """
    if query.start is None or query.end is None:
        raise InvalidTimeRangeError(f"split_interval needs a query with start and end; {query.label} has none.")
    step = parse_duration(every, what="chunk length")
    if query.sample is not None:
        ratio = step / query.sample
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise InvalidSampleError(
                f"The chunk length {_fmt_num(step)}s is not a multiple of the sample cadence "
                f"{_fmt_num(query.sample)}s; choose a multiple so chunks keep the same sampling grid."
            )
    delta = dt.timedelta(seconds=step)
    out: list[JsocQuery] = []
    t = query.start
    while t < query.end:
        nxt = min(t + delta, query.end)
        last = nxt >= query.end
        out.append(
            query.model_copy(
                update={"start": t, "end": nxt, "end_inclusive": query.end_inclusive if last else False}
            )
        )
        t = nxt
    if not out:  # start == end with an inclusive end: a single instant
        out.append(query)
    return out


# ---------------------------------------------------------------------------------------------
# TEMPORARY (lead's shim until the query package lands): the validated query and packing contract.
# ---------------------------------------------------------------------------------------------


class ValidatedQuery(BaseModel):
    """A query checked against its series definition on the server, with what ``validate`` learned."""

    model_config = ConfigDict(frozen=True)

    query: JsocQuery
    layout: SeriesLayout
    record_count: int | None = None
    size_mb: float | None = None

    def recordset(self) -> str:
        return self.query.recordset(self.layout)

    @property
    def series(self) -> str:
        return self.query.series

    @property
    def label(self) -> str:
        return self.query.label

    def cache_key(self) -> str:
        return self.query.cache_key()

    def primekey_items(self) -> tuple[str, ...]:
        q = self.query
        values: dict[str, str] = {}
        if q.time_range_tai() is not None and self.layout.time_primekeys:
            values[self.layout.time_primekeys[0].upper()] = q.time_range_tai() or ""
        if q.wavelength:
            values["WAVELNTH"] = ",".join(str(int(math.ceil(w - 1e-9))) for w in q.wavelength)
        for name, value in q.primekeys.items():
            values[name.upper()] = value
        return tuple(values.get(k.upper(), "") for k in self.layout.primekeys)

    def pack_signature(self) -> str:
        canon = self.query.canonical()
        for key in ("start", "end", "end_inclusive", "wavelength", "primekeys"):
            canon.pop(key, None)
        canon["layout"] = [k.upper() for k in self.layout.primekeys]
        blob = json.dumps(canon, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def selects(self, values: Any) -> bool:
        items = self.primekey_items()
        for i, item in enumerate(items):
            if not item or i >= len(values):
                continue
            name = self.layout.primekeys[i]
            value = str(values[i]).strip()
            if name in self.layout.time_primekeys and self.query.start is not None:
                try:
                    t = _record_time(value)
                except Exception:
                    return False
                a, b = _tai(self.query.start), _tai(self.query.end)  # type: ignore[arg-type]
                if t < a or t > b or (t == b and not self.query.end_inclusive):
                    return False
                continue
            if not _value_in(value, item):
                return False
        return True


def _record_time(text: str) -> Time:
    text = text.strip()
    if text.endswith("_TAI"):
        body = text[:-4].replace(".", "-", 2).replace("_", "T")
        return Time(body, scale="tai")
    return Time(text.rstrip("Z").replace(".", "-", 2).replace("_", "T"), scale="utc").tai


def _value_in(value: str, item: str) -> bool:
    for part in item.split(","):
        part = part.strip()
        lo, sep, hi = part.partition("-")
        try:
            v = float(value)
            if sep and lo and hi:
                if float(lo) <= v <= float(hi):
                    return True
                continue
            if float(part) == v:
                return True
        except ValueError:
            if part == value:
                return True
    return False


def pack_recordset(blocks: Any) -> str:
    """One record set for blocks that differ only in one prime-key position (lead's shim)."""
    from prefect_jsoc.errors import CannotPackError

    blocks = list(blocks)
    if not blocks:
        raise CannotPackError("Nothing to pack.")
    first = blocks[0]
    if len(blocks) == 1:
        return first.recordset()
    if any(b.pack_signature() != first.pack_signature() for b in blocks):
        raise CannotPackError("The blocks differ in more than their prime-key values.")
    rows = [b.primekey_items() for b in blocks]
    differ = [i for i in range(len(rows[0])) if len({r[i] for r in rows}) > 1]
    if len(differ) > 1:
        raise CannotPackError("The blocks differ in more than one prime-key position.")
    merged = list(rows[0])
    if differ:
        i = differ[0]
        seen: list[str] = []
        for r in rows:
            if not r[i]:
                raise CannotPackError("A block leaves the varying prime key empty.")
            if r[i] not in seen:
                seen.append(r[i])
        merged[i] = ",".join(seen)
    while merged and not merged[-1]:
        merged.pop()
    out = first.query.series + "".join(f"[{v}]" for v in merged)
    full = first.recordset()
    tail = full[full.find("[?"):] if "[?" in full else (full[full.find("{"):] if "{" in full else "")
    return out + tail


def queries_from(obj: Any) -> list[JsocQuery]:
    """Normalise a query, a validated query, or a list of them (lead's shim)."""
    if isinstance(obj, JsocQuery):
        return [obj]
    if isinstance(obj, ValidatedQuery):
        return [obj.query]
    if isinstance(obj, Mapping):
        return [JsocQuery(**obj)]
    if isinstance(obj, (list, tuple)):
        return [q for item in obj for q in queries_from(item)]
    raise InvalidOptionError(f"Expected a JsocQuery or a list of them, got {type(obj).__name__}.")
