"""The JSOC query model: one immutable, checked, hashable query (one sunpy "OR block"); no I/O."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, Field, SecretStr, ValidationInfo, field_validator, model_validator

from prefect_jsoc.errors import (
    EmptyQueryError,
    IncompatibleOptionsError,
    InvalidOptionError,
    InvalidSampleError,
    InvalidSeriesError,
    InvalidTimeRangeError,
    LayoutRequiredError,
)
from prefect_jsoc.query._typed import TypedModel
from prefect_jsoc.query.cutout import Cutout
from prefect_jsoc.query.fields import (
    TIME_PRIMEKEY_NAMES,
    Cadence,
    Method,
    NotifyEmail,
    PrimeKeys,
    Protocol,
    SegmentNames,
    SeriesName,
    Wavelengths,
    choice,
    format_number,
)
from prefect_jsoc.query.filters import KeywordFilter, parse_filters
from prefect_jsoc.query.render import SeriesLayout, render_recordset
from prefect_jsoc.query.times import check_scale, parse_time

__all__ = ["CACHE_KEY_VERSION", "JsocQuery"]

CACHE_KEY_VERSION = "v1"
_check_method = choice(Method, "Method", InvalidOptionError, aliases={"url-quick": "url_quick"})


class JsocQuery(TypedModel):
    """One JSOC query (one sunpy "OR block"): immutable, checked, and hashable.

    Shape errors raise a :class:`~prefect_jsoc.errors.JsocValidationError` subclass at
    construction, with no network access. Times are stored as UTC-aware datetimes; the record
    set sends them in TAI as sunpy does. Checks that need the series definition (prime keys,
    segments, keyword names) happen in ``validate``, which returns a
    :class:`~prefect_jsoc.query.ValidatedQuery`.

    Attributes:
        series: DRMS series name, e.g. ``"hmi.M_45s"`` (case-insensitive).
        scale: Time scale for strings and naive datetimes without one (default ``"utc"``).
        start: Start of the time range (string, datetime or astropy Time).
        end: End of the time range.
        end_inclusive: Whether a record exactly at ``end`` belongs to the range (DRMS ``a-b``);
            chunks made by :func:`split_interval` use ``False`` (DRMS ``a/duration``).
        sample: Cadence in seconds (accepts ``"90s"``, a timedelta or an astropy Quantity); at least 1 ms.
        wavelength: Wavelengths in Angstrom (accepts spectral Quantities in any unit).
        primekeys: Other prime-key values, e.g. ``{"HARPNUM": 4864}`` (a list becomes a DRMS comma list).
        segments: Segment names to export, e.g. ``["magnetogram"]``; empty means all.
        filters: Keyword comparisons, e.g. ``["QUALITY=0"]`` or ``[("EXPTIME", ">", 2)]``.
        protocol: ``"fits"`` (headers in the files) or ``"as-is"`` (files as stored).
        method: ``"url"``, ``"url_quick"`` or ``"url-tar"``; default ``url`` for fits and
            ``url_quick`` for as-is.
        cutout: Optional :class:`Cutout` (im_patch processing; fits only).
        notify: Notify e-mail registered with JSOC, overriding the configured one. It is a secret:
            masked in ``repr``, left out of ``model_dump()``/``model_dump_json()`` (so out of
            Prefect's stored flow-run parameters) and of :meth:`cache_key`. A query read back from
            JSON has none. Deployments should configure the e-mail in ``JsocSettings`` instead.

    Example:
        ```python
        from prefect_jsoc.query import JsocQuery, SeriesLayout
        q = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00:00", end="2014-01-01T00:02:00",
                      segments=["magnetogram"])
        hmi = SeriesLayout(primekeys=("T_REC", "CAMERA"), time_primekeys=("T_REC",))
        q.recordset(hmi)   # 'hmi.M_45s[2014.01.01_00:00:35_TAI-2014.01.01_00:02:35_TAI]{magnetogram}'
        q.cache_key()      # stable digest, equal for equal queries however they were written
        ```
    """

    _error_class: ClassVar = InvalidOptionError

    series: SeriesName
    scale: Annotated[str, BeforeValidator(lambda v: check_scale(v or "utc"))] = "utc"
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    end_inclusive: bool = True
    sample: Cadence | None = None
    wavelength: Wavelengths | None = None
    primekeys: PrimeKeys = Field(default_factory=dict)
    segments: SegmentNames = ()
    filters: Annotated[tuple[KeywordFilter, ...], BeforeValidator(parse_filters)] = ()
    protocol: Annotated[Protocol, BeforeValidator(choice(Protocol, "Protocol", InvalidOptionError))] = "fits"
    #: None picks the protocol's default (validated, so the stored value is never None).
    method: Method = Field(default=None, validate_default=True)  # type: ignore[assignment]
    cutout: Cutout | None = None
    notify: NotifyEmail | None = Field(default=None, exclude=True, repr=False)

    # -- fields that depend on another ----------------------------------------------------------

    @field_validator("start", "end", mode="before")
    @classmethod
    def _read_time(cls, value: Any, info: ValidationInfo) -> dt.datetime | None:
        if value is None:
            return None
        return parse_time(value, scale=info.data.get("scale", "utc"), what=info.field_name or "time")

    @field_validator("method", mode="before")
    @classmethod
    def _read_method(cls, value: Any, info: ValidationInfo) -> str:
        if value is None:
            return "url_quick" if info.data.get("protocol") == "as-is" else "url"
        return _check_method(value)

    @field_validator("cutout", mode="before")
    @classmethod
    def _read_cutout(cls, value: Any) -> Cutout | None:
        return None if value is None else Cutout.coerce(value)

    # -- rules across fields --------------------------------------------------------------------

    @model_validator(mode="after")
    def _time_range_is_whole(self) -> JsocQuery:
        if (self.start is None) != (self.end is None):
            raise InvalidTimeRangeError(
                "Give both start and end of the time range, or neither (to select by prime keys only)."
            )
        if (
            self.start is not None
            and self.end is not None
            and (self.end < self.start or (self.end == self.start and not self.end_inclusive))
        ):
            raise InvalidTimeRangeError(
                f"The time range is empty: end {self.end.isoformat()} is not after start "
                f"{self.start.isoformat()}. Swap them or widen the range."
            )
        if self.sample is not None and self.start is None:
            raise InvalidSampleError("A sample cadence needs a time range; give start and end too.")
        return self

    @model_validator(mode="after")
    def _each_prime_key_given_once(self) -> JsocQuery:
        time_keys = [k for k in self.primekeys if k.upper() in TIME_PRIMEKEY_NAMES]
        if self.start is not None and time_keys:
            raise IncompatibleOptionsError(
                f"The time range was given twice: as start/end and as primekeys={{{time_keys[0]!r}: ...}}. "
                "Give one of them, or make two queries."
            )
        if len(time_keys) > 1:
            raise IncompatibleOptionsError(
                f"primekeys= gives more than one time prime key ({', '.join(time_keys)}); give only one, or "
                "start and end."
            )
        if self.wavelength is not None and any(k.upper() == "WAVELNTH" for k in self.primekeys):
            raise IncompatibleOptionsError(
                "The wavelength was given twice: as wavelength= and as primekeys={'WAVELNTH': ...}. Give one of them."
            )
        return self

    @model_validator(mode="after")
    def _selects_something(self) -> JsocQuery:
        if self.start is None and self.wavelength is None and not self.primekeys:
            raise EmptyQueryError(
                f"A query needs start and end, wavelength= or primekeys=: a whole series is far too large to "
                f"query. Give start and end for {self.series}."
            )
        return self

    @model_validator(mode="after")
    def _options_agree(self) -> JsocQuery:
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

    @classmethod
    def _missing_field_error(cls, name: str) -> InvalidSeriesError:
        if name == "series":
            return InvalidSeriesError("Series must be specified for a JSOC query, for example series='hmi.M_45s'.")
        return super()._missing_field_error(name)  # type: ignore[return-value]

    # -- derived values -------------------------------------------------------------------------

    def __hash__(self) -> int:
        # Equal queries have equal cache keys, so this agrees with pydantic's field-wise equality.
        return hash(self.cache_key())

    def notify_address(self) -> str | None:
        """Return the notify e-mail in clear, for the code that sends it to JSOC (None when not set)."""
        return self.notify.get_secret_value() if isinstance(self.notify, SecretStr) else None

    def recordset(self, layout: SeriesLayout | None = None) -> str:
        """Build the DRMS record-set string JSOC expects for this query on a series laid out as ``layout``.

        Time goes to the series' time prime key in TAI (``2014.01.01_00:00:35_TAI``), wavelength
        to ``WAVELNTH`` (``int(ceil(Å))`` as sunpy does), other prime keys to their positions;
        trailing empty ``[]`` are omitted. Keyword filters become ``[? K='v' AND ... ?]`` and
        segments ``{a,b}``.

        Args:
            layout: The series definition (required): only it says where prime keys go. ``validate``
                finds it; ``validate(q).recordset()`` is the usual way to get a record set.

        Returns:
            The record-set string, e.g. ``aia.lev1_euv_12s[2014.01.01_00:00:35_TAI-...][171]``.

        Raises:
            LayoutRequiredError: When no layout is given.
            UnknownPrimeKeyError: When a prime key is not in ``layout``.
            InvalidTimeRangeError: When a time range is given but the layout has no time prime key.
            InvalidWavelengthError: When a wavelength is given but the layout has no ``WAVELNTH``.

        Example:
            ```python
            from prefect_jsoc.query import JsocQuery, SeriesLayout
            aia = SeriesLayout(primekeys=("T_REC", "WAVELNTH"), time_primekeys=("T_REC",))
            q = JsocQuery(series="aia.lev1_euv_12s", start="2014-01-01", end="2014-01-01T00:01",
                          wavelength=171)
            assert q.recordset(aia) == "aia.lev1_euv_12s[2014.01.01_00:00:35_TAI-2014.01.01_00:01:35_TAI][171]"
            ```
        """
        if layout is None:
            raise LayoutRequiredError(
                f"The record set of {self.label} depends on the series' prime-key order, which only the server "
                "knows: validate the query first (validate(q).recordset()), or pass the layout "
                "(q.recordset(layout))."
            )
        return render_recordset(self, layout)

    def process(self) -> dict[str, dict[str, Any]] | None:
        """Return the drms ``process`` mapping for the cut-out, or None without one."""
        return self.cutout.process(default_t_ref=self.start) if self.cutout else None

    def canonical(self) -> dict[str, Any]:
        """Return the normalised content that defines the query (what :meth:`cache_key` hashes).

        The notify e-mail and the input time scale are left out: they do not change which data are
        exported.
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
            from prefect_jsoc.query import JsocQuery
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
                parts.append(f"@{format_number(self.sample)}s")
        if self.wavelength:
            parts.append(",".join(format_number(w) for w in self.wavelength) + "Å")
        parts.extend(f"{k}={v}" for k, v in self.primekeys.items())
        return " ".join(parts)

    def __str__(self) -> str:
        return self.label

    @classmethod
    def from_attrs(cls, *query: Any, **overrides: Any) -> list[JsocQuery]:
        """Build queries from sunpy ``attrs`` (``a.jsoc.Series``, ``a.Time``, ... combined with ``&``/``|``).

        Each OR branch becomes one query, exactly as sunpy's JSOC client splits them into blocks.
        Errors use sunpy's wording, since the query was written in sunpy's terms.

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
            from prefect_jsoc.query import JsocQuery
            qs = JsocQuery.from_attrs(
                a.Time("2014-01-01T00:00:00", "2014-01-01T00:01:00"),
                a.jsoc.Series("aia.lev1_euv_12s"),
                a.Wavelength(171 * u.AA) | a.Wavelength(193 * u.AA),
            )
            assert len(qs) == 2
            ```
        """
        from prefect_jsoc.query.attrs import queries_from_attrs

        return queries_from_attrs(cls, *query, **overrides)
