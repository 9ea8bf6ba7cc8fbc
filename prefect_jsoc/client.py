"""The drms adapter: the only module that talks to the JSOC CGIs.

drms builds the URLs and encodes the parameters exactly as JSOC expects them; this module
replaces drms's transport (``HttpJsonClient._json_request``) so that every call has a timeout,
transient faults (HTTP 5xx/429/503, connection errors, timeouts) become
:class:`~prefect_jsoc.errors.JsocTransientError` and are retried a few times with backoff
honouring ``Retry-After``, and permanent faults become typed errors.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import random
import re
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from prefect_jsoc._log import get_logger as _logger
from prefect_jsoc.errors import (
    InvalidRecordSetError,
    JsocConnectionError,
    JsocProtocolError,
    JsocQueryError,
    JsocTransientError,
    UnknownSeriesError,
)
from prefect_jsoc.query import JsocQuery, SeriesLayout
from prefect_jsoc.settings import JsocSettings

# drms calls logging.basicConfig() at import time; undo that side effect on the root logger.
_root = logging.getLogger()
_handlers_before, _level_before = list(_root.handlers), _root.level
import drms  # noqa: E402
from drms.json import HttpJsonClient  # noqa: E402

for _h in list(_root.handlers):
    if _h not in _handlers_before:
        _root.removeHandler(_h)
_root.setLevel(_level_before)

__all__ = ["JsocClient", "SeriesInfo", "make_server_config"]

T = TypeVar("T")

_CACHE_TTL = 3600.0
_MAX_CLIENTS = 8
_CLIENTS: dict[tuple[Any, ...], JsocClient] = {}
_CLIENTS_LOCK = threading.Lock()

V = TypeVar("V")


class _TtlCache(Generic[V]):
    """A small bounded cache whose entries expire (series definitions and e-mail checks)."""

    def __init__(self, maxsize: int, ttl: float) -> None:
        self._data: dict[str, tuple[float, V]] = {}
        self._maxsize, self._ttl = maxsize, ttl
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        with self._lock:
            hit = self._data.get(key)
            if hit is None or time.monotonic() - hit[0] > self._ttl:
                self._data.pop(key, None)
                return None
            return hit[1]

    def put(self, key: str, value: V) -> None:
        with self._lock:
            self._data.pop(key, None)
            self._data[key] = (time.monotonic(), value)
            while len(self._data) > self._maxsize:
                self._data.pop(next(iter(self._data)))


_USER_AGENT = f"prefect-jsoc drms/{drms.__version__} python/{sys.version_info.major}.{sys.version_info.minor}"
_MAX_RETRY_AFTER = 120.0


def make_server_config(server_url: str) -> drms.ServerConfig:
    """Build a ``drms.ServerConfig`` for a JSOC-like server at ``server_url``.

    The CGIs are expected under ``<server_url>cgi-bin/ajax/`` and files under ``<server_url>``,
    as on ``http://jsoc.stanford.edu/``. The trailing slash is always normalised.

    Args:
        server_url: Base URL, e.g. ``"http://jsoc.stanford.edu"`` or ``"http://127.0.0.1:8080/"``.

    Returns:
        The server configuration.

    Example:
        ```python
        from prefect_jsoc.client import make_server_config
        cfg = make_server_config("http://127.0.0.1:8080")
        assert cfg.url_jsoc_fetch == "http://127.0.0.1:8080/cgi-bin/ajax/jsoc_fetch"
        ```
    """
    base = server_url.rstrip("/") + "/"
    return drms.ServerConfig(
        name="PREFECT_JSOC",
        cgi_baseurl=f"{base}cgi-bin/ajax/",
        cgi_show_series="show_series",
        cgi_jsoc_info="jsoc_info",
        cgi_jsoc_fetch="jsoc_fetch",
        cgi_check_address="checkAddress.sh",
        cgi_show_series_wrapper="showextseries",
        show_series_wrapper_dbhost="hmidb2",
        http_download_baseurl=base,
    )


# ---------------------------------------------------------------------------------------------
# Series information
# ---------------------------------------------------------------------------------------------


class SeriesInfo(BaseModel):
    """What the client needs from ``jsoc_info?op=series_struct``.

    Attributes:
        name: The series name as requested.
        primekeys: Prime keys in series order.
        keywords: Keyword name -> DRMS type (``time``, ``int``, ``float``, ``string``, ...).
        segments: Segment name -> protocol (``fits``, ``link via ...``).
        note: The series description.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    primekeys: tuple[str, ...] = ()
    keywords: dict[str, str] = {}
    segments: dict[str, str] = {}
    segment_bytes: dict[str, int] = {}
    slot_steps: dict[str, float] = {}
    note: str = ""

    @property
    def time_primekeys(self) -> tuple[str, ...]:
        """Prime keys whose type is ``time``."""
        return tuple(k for k in self.primekeys if self.keywords.get(k) == "time")

    def layout(self, query: JsocQuery | None = None) -> SeriesLayout:
        """The :class:`~prefect_jsoc.query.SeriesLayout` used to build record sets.

        Args:
            query: When given, only the keywords and segments this query uses are kept (their
                server spelling), so the layout carried by handles and results stays small.
        """
        keywords: tuple[str, ...] = tuple(self.keywords)
        segments: tuple[str, ...] = tuple(self.segments)
        if query is not None:
            keywords = tuple(k for k in (self.keyword(f.name) for f in query.filters) if k)
            segments = tuple(s for s in (self.segment(name) for name in query.segments) if s)
        return SeriesLayout(
            primekeys=self.primekeys,
            time_primekeys=self.time_primekeys,
            keywords=keywords,
            segments=segments,
            slot_steps=self.slot_steps,
        )

    def keyword(self, name: str) -> str | None:
        """Return the keyword's spelling on the server (case-insensitive match), or None."""
        return _ci_lookup(self.keywords, name)

    def segment(self, name: str) -> str | None:
        """Return the segment's spelling on the server (case-insensitive match), or None."""
        return _ci_lookup(self.segments, name)

    def filename_format(self) -> str:
        """The ``filenamefmt`` drms would send: ``<series>.{T_REC:A}.{CAMERA}.{segment}``."""
        parts = [f"{{{k}:A}}" if self.keywords.get(k) == "time" else f"{{{k}}}" for k in self.primekeys]
        if parts:
            return f"{self.name.lower()}.{'.'.join(parts)}.{{segment}}"
        return f"{self.name.lower()}.{{recnum:%lld}}.{{segment}}"

    @classmethod
    def from_struct(cls, name: str, d: dict[str, Any]) -> SeriesInfo:
        """Parse a ``series_struct`` reply."""
        pk = [p.get("name") for p in d.get("primekeysinfo") or [] if isinstance(p, dict)]
        if not any(pk):
            pk = list(d.get("primekeys") or [])
        keywords = {str(k["name"]): str(k.get("type") or "") for k in d.get("keywords") or [] if k.get("name")}
        segments = {str(s["name"]): str(s.get("protocol") or "") for s in d.get("segments") or [] if s.get("name")}
        sizes = {str(s["name"]): n for s in d.get("segments") or [] if s.get("name")
                 and (n := _segment_bytes(s.get("dims"), s.get("type"))) is not None}
        steps = {str(p["name"]): step for p in d.get("primekeysinfo") or []
                 if isinstance(p, dict) and p.get("name") and p.get("slotted") and (step := _seconds(p.get("step")))}
        return cls(
            name=name,
            primekeys=tuple(str(p) for p in pk if p),
            keywords=keywords,
            segments=segments,
            segment_bytes=sizes,
            slot_steps=steps,
            note=str(d.get("note") or ""),
        )

    def record_bytes_bound(self, segments: Sequence[str] = ()) -> int | None:
        """An upper bound of one record's export size from the segments' fixed dimensions, or None.

        None when a requested segment has variable dimensions (``VARxVAR``) or an unknown type.
        """
        names = [self.segment(s) or s for s in segments] if segments else list(self.segments)
        sizes = [self.segment_bytes.get(n) for n in names]
        if not sizes or any(v is None for v in sizes):
            return None
        return sum(v for v in sizes if v is not None)


_TYPE_BYTES = {"char": 1, "short": 2, "int": 4, "longlong": 8, "float": 4, "double": 8}


def _segment_bytes(dims: Any, kind: Any) -> int | None:
    """Bytes of one uncompressed segment from ``dims`` such as ``"4096x4096"``; None when variable."""
    width = _TYPE_BYTES.get(str(kind or "").lower())
    if width is None or not isinstance(dims, str) or not dims.strip():
        return None
    total = width
    for part in dims.lower().split("x"):
        if not part.strip().isdigit():
            return None
        total *= int(part)
    return total + 2 * 2880  # a FITS header and padding


def _seconds(step: Any) -> float | None:
    """A slot step from ``primekeysinfo`` (``"45"``, ``"720"``, or with a unit such as ``"12s"``) in seconds."""
    from prefect_jsoc.query import parse_duration

    try:
        return float(step)
    except (TypeError, ValueError):
        pass
    try:
        return parse_duration(str(step))
    except Exception:
        return None


def _ci_lookup(mapping: dict[str, Any], name: str) -> str | None:
    if name in mapping:
        return name
    low = name.lower()
    for k in mapping:
        if k.lower() == low:
            return k
    return None


# ---------------------------------------------------------------------------------------------
# Transport
# ---------------------------------------------------------------------------------------------


class _Reply:
    def __init__(self, data: Any):
        self.data = data


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _cgi_name(url: str) -> str:
    path = url.split("?", 1)[0].rstrip("/")
    name = path.rsplit("/", 1)[-1]
    m = re.search(r"[?&]op=([a-z_]+)", url)
    return f"{name} ({m.group(1)})" if m else name


class _TimedHttpJsonClient(HttpJsonClient):
    """drms's HttpJsonClient with a timeout on every call and typed transport errors."""

    def __init__(self, server: drms.ServerConfig, timeout: float):
        super().__init__(server)
        self._timeout = timeout

    def _json_request(self, url: str) -> _Reply:  # type: ignore[override]
        what = _cgi_name(url)
        req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        try:
            with urllib.request.urlopen(req, timeout=self._timeout) as resp:
                body = resp.read()
        except urllib.error.HTTPError as exc:
            retry_after = _parse_retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            if exc.code in (408, 429) or exc.code >= 500:
                raise JsocTransientError(
                    f"JSOC {what} answered HTTP {exc.code} {exc.reason}.",
                    retry_after=retry_after,
                    http_status=exc.code,
                ) from exc
            raise JsocProtocolError(
                f"JSOC {what} answered HTTP {exc.code} {exc.reason}; check server_url "
                f"({self._server.cgi_baseurl})."
            ) from exc
        except (urllib.error.URLError, TimeoutError, socket.timeout, ConnectionError,
                http.client.HTTPException, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            err = JsocTransientError(
                f"Could not reach JSOC {what} at {self._server.cgi_baseurl}: {reason or type(exc).__name__}."
            )
            err.unreachable = isinstance(reason, (ConnectionRefusedError, socket.gaierror))
            raise err from exc
        try:
            return _Reply(json.loads(body.decode(self._server.encoding or "latin1")))
        except (UnicodeDecodeError, json.JSONDecodeError):
            snippet = body[:80].decode("latin1", "replace")
            raise JsocTransientError(f"JSOC {what} did not answer JSON (got {snippet!r}).") from None  # noqa: B904


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------


class JsocClient:
    """Talk to one JSOC server through drms, with timeouts, retries and typed errors.

    Args:
        settings: Settings to use; ``None`` resolves them (environment over defaults).
        sleep: The sleep function used between retries (tests may pass a fake one).

    Example:
        ```python
        from prefect_jsoc import JsocSettings
        from prefect_jsoc.client import JsocClient
        client = JsocClient(JsocSettings(server_url="http://127.0.0.1:8080"))
        info = client.series_info("hmi.M_45s")
        n = client.count("hmi.M_45s[2014.01.01_00:00:35_TAI-2014.01.01_00:05:35_TAI]")
        ```
    """

    def __init__(self, settings: JsocSettings | None = None, *, sleep: Callable[[float], None] = time.sleep):
        self.settings = JsocSettings.resolve(settings)
        self.server_url = self.settings.server_url
        self.config = make_server_config(self.server_url)
        self._json = _TimedHttpJsonClient(self.config, timeout=self.settings.request_timeout)
        self._sleep = sleep
        self._reached = False  # has any call to this server succeeded yet?
        self._series: _TtlCache[SeriesInfo] = _TtlCache(maxsize=256, ttl=_CACHE_TTL)
        self._emails: _TtlCache[bool] = _TtlCache(maxsize=64, ttl=_CACHE_TTL)
        self._series_lock = threading.Lock()
        self._email_lock = threading.Lock()

    @classmethod
    def for_settings(cls, settings: JsocSettings | None = None) -> JsocClient:
        """The client of this process for these settings (shared, so its caches are shared too).

        Args:
            settings: Settings; resolved when None.

        Returns:
            A client; the same object for equal server, timeout and retry settings.
        """
        resolved = JsocSettings.resolve(settings)
        key = (resolved.server_url, resolved.request_timeout, resolved.http_retries, resolved.retry_backoff)
        with _CLIENTS_LOCK:
            client = _CLIENTS.pop(key, None) or cls(resolved)
            _CLIENTS[key] = client  # most recently used last
            while len(_CLIENTS) > _MAX_CLIENTS:
                _CLIENTS.pop(next(iter(_CLIENTS)))
        return client

    def __repr__(self) -> str:
        return f"<JsocClient {self.server_url}>"

    # -- plumbing -------------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[], T], *, retries: int | None = None) -> T:
        """Run one CGI call with the client's retry layer (the only one below Prefect's task retries)."""
        attempts = 1 + (self.settings.http_retries if retries is None else retries)
        for attempt in range(1, attempts + 1):
            try:
                result = fn()
            except JsocTransientError as exc:
                if getattr(exc, "unreachable", False) and not self._reached:
                    raise JsocConnectionError(
                        f"Cannot connect to JSOC at {self.server_url} ({exc.__cause__ or exc}). Check the server "
                        "URL (server_url, PREFECT_JSOC_SERVER_URL or --server-url) and that the server is up."
                    ) from exc
                if attempt >= attempts:
                    raise
                delay = self.settings.retry_backoff * (2 ** (attempt - 1)) * random.uniform(0.75, 1.25)
                if exc.retry_after is not None:
                    delay = max(delay, min(exc.retry_after, _MAX_RETRY_AFTER))
                _logger().warning(
                    "%s Retrying %s in %.1f s (attempt %d of %d).", exc, what, delay, attempt + 1, attempts
                )
                self._sleep(delay)
            else:
                self._reached = True
                return result
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _check_info_reply(d: Any, what: str, ds: str) -> dict[str, Any]:
        if not isinstance(d, dict):
            raise JsocProtocolError(f"JSOC {what} answered {type(d).__name__}, not a JSON object.")
        status = d.get("status")
        if status == 0 or status == "0":
            return d
        msg = str(d.get("error") or "DRMS query failed.").strip()
        low = msg.lower()
        if "series_struct" not in what and "series not found" in low:
            # jsoc_info answers "series not found" whenever it cannot open the records of a record set
            raise InvalidRecordSetError(
                f"JSOC could not open the record set {ds!r} (it said {msg!r}). Check the prime-key values, "
                "ranges and filters."
            )
        if "series not found" in low or "does not exist" in low:
            raise UnknownSeriesError(f"The series in {ds!r} does not exist on the server: JSOC said {msg!r}.")
        if "record-set" in low or "recordset" in low or "record set" in low or "syntax" in low:
            raise InvalidRecordSetError(
                f"JSOC rejected the record set {ds!r}: {msg}. Check the keyword filters and prime-key values."
            )
        raise JsocQueryError(f"JSOC {what} failed for {ds!r}: {msg} [status={status}].")

    # -- series ---------------------------------------------------------------------------------

    def series_info(self, series: str) -> SeriesInfo:
        """Return the series definition (cached per process, server and lower-cased name).

        Args:
            series: Series name (case-insensitive) or a record set starting with it.

        Returns:
            The parsed series definition.

        Raises:
            UnknownSeriesError: When the server does not know the series; the message lists
                similar series names when the server can list them.
            JsocTransientError: When the server could not be reached after retries.
        """
        name = (drms.utils._extract_series_name(series) or series).strip()
        cached = self._series.get(name.lower())
        if cached is not None:
            return cached
        with self._series_lock:  # many blocks start at once: ask the server once
            cached = self._series.get(name.lower())
            if cached is not None:
                return cached
            d = self._call("jsoc_info series_struct", lambda: self._json.series_struct(name.lower()))
            try:
                d = self._check_info_reply(d, "jsoc_info (series_struct)", name)
            except (UnknownSeriesError, JsocQueryError) as exc:
                if isinstance(exc, JsocQueryError) and "not found" not in str(exc).lower():
                    raise
                raise UnknownSeriesError(self._unknown_series_message(name)) from exc
            info = SeriesInfo.from_struct(name, d)
            self._series.put(name.lower(), info)
            return info

    def series_names(self, regex: str | None = None) -> list[str]:
        """List series names on the server, optionally filtered by a regular expression.

        Args:
            regex: A POSIX regular expression matched case-insensitively anywhere in the name.

        Returns:
            Series names.
        """
        if self.config.url_show_series_wrapper:
            d = self._call("showextseries", lambda: self._json.show_series_wrapper(regex))
            names = d.get("seriesList") if isinstance(d, dict) else None
            if isinstance(names, list):
                return [n if isinstance(n, str) else next(iter(n)) for n in names]
        d = self._call("show_series", lambda: self._json.show_series(regex))
        if isinstance(d, dict) and d.get("status") == 0:
            return [it["name"] for it in d.get("names") or []]
        return []

    series = series_names

    def email_registered(self, email_address: str, check: Callable[[], None]) -> None:
        """Run ``check`` (which raises unless the address is registered) at most once an hour per address."""
        key = email_address.strip().lower()
        if self._emails.get(key):
            return
        with self._email_lock:
            if self._emails.get(key):
                return
            check()
            self._emails.put(key, True)

    def _unknown_series_message(self, name: str) -> str:
        msg = f"The series {name!r} does not exist on {self.server_url}."
        prefix = name.split(".", 1)[0]
        try:
            candidates = self.series_names(rf"^{re.escape(prefix)}\.")
        except Exception:  # listing is a courtesy; never hide the real error
            candidates = []
        if candidates:
            import difflib

            close = difflib.get_close_matches(name.lower(), [c.lower() for c in candidates], n=8, cutoff=0.5)
            by_lower = {c.lower(): c for c in candidates}
            shown = [by_lower[c] for c in close] or sorted(candidates)[:15]
            more = "" if close or len(candidates) <= 15 else f" (and {len(candidates) - 15} more)"
            msg += f" Series starting with {prefix!r} include: {', '.join(shown)}{more}."
        msg += " Series names are case-insensitive and look like 'hmi.M_45s'."
        return msg

    # -- records --------------------------------------------------------------------------------

    def count(self, recordset: str) -> int:
        """Return the number of records in a record set (``jsoc_info?op=rs_summary``).

        Args:
            recordset: A DRMS record-set string.

        Returns:
            The record count.

        Raises:
            InvalidRecordSetError: When the server rejects the record set.
            UnknownSeriesError: When the series does not exist.
        """
        d = self._call("jsoc_info rs_summary", lambda: self._json.rs_summary(recordset))
        d = self._check_info_reply(d, "jsoc_info (rs_summary)", recordset)
        try:
            return int(d.get("count", 0))
        except (TypeError, ValueError):
            raise JsocProtocolError(f"JSOC rs_summary answered a non-numeric count {d.get('count')!r}.") from None

    def query(
        self,
        recordset: str,
        keys: Sequence[str] | str = ("**ALL**",),
        segments: Sequence[str] | None = None,
        *,
        n: int | None = None,
        series: SeriesInfo | None = None,
    ) -> Any:
        """Return records as an astropy ``Table`` (``jsoc_info?op=rs_list``).

        Numeric keywords are converted to numbers (hexadecimal ``QUALITY`` included), as drms does;
        time keywords stay strings. Requested segments become extra columns holding the storage
        paths.

        Args:
            recordset: A DRMS record-set string.
            keys: Keyword names, or ``"**ALL**"`` for every keyword.
            segments: Segment names whose paths to include, if any.
            n: Limit to the first ``n`` records (last ``-n`` when negative).
            series: The series definition (looked up when omitted).

        Returns:
            An ``astropy.table.Table`` with one row per record.
        """
        import numpy as np
        import pandas as pd
        from astropy.table import Table

        key_list = [keys] if isinstance(keys, str) else list(keys)
        info = series or self.series_info(recordset)
        seg_list = list(segments) if segments else None
        d = self._call(
            "jsoc_info rs_list",
            lambda: self._json.rs_list(recordset, key=key_list or None, seg=seg_list, n=n),
        )
        d = self._check_info_reply(d, "jsoc_info (rs_list)", recordset)
        table = Table()
        for item in d.get("keywords") or []:
            name, values = str(item.get("name")), list(item.get("values") or [])
            kind = info.keywords.get(name) or info.keywords.get(info.keyword(name) or "", "")
            if kind in ("short", "int", "longlong"):
                col = pd.Series(values, dtype=object)
                num = pd.to_numeric(col, errors="coerce")
                bad = num.isna() & col.notna()
                if bad.any():  # QUALITY and friends may come as hexadecimal strings
                    num = num.astype(object)
                    num[bad] = col[bad].map(
                        lambda v: int(v, 16) if isinstance(v, str) and v.lower().startswith("0x") else None
                    )
                    num = pd.to_numeric(num, errors="coerce")
                table[name] = num.to_numpy() if num.isna().any() else num.astype("int64").to_numpy()
            elif kind in ("float", "double") or name in ("*recnum*", "*sunum*", "*size*"):
                table[name] = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy()
            else:
                table[name] = np.array([str(v) for v in values], dtype=str) if values else np.array([], dtype=str)
        for item in d.get("segments") or []:
            name = str(item.get("name"))
            col = name if name not in table.colnames else f"{name}_path"
            values = [str(v) for v in item.get("values") or []]
            table[col] = np.array(values, dtype=str) if values else np.array([], dtype=str)
        if len(table.colnames) == 0:
            wanted = [k for k in key_list if not k.startswith("*")] + (seg_list or [])
            for name in wanted:
                table[name] = np.array([], dtype=str)
        try:
            table.meta["count"] = int(d.get("count", len(table)))
        except (TypeError, ValueError):
            table.meta["count"] = len(table)
        return table

    def record_sizes(self, recordset: str, n: int = 10) -> list[int]:
        """Return the storage sizes in bytes (``*size*``) of the first ``n`` records, where known.

        Args:
            recordset: A DRMS record-set string.
            n: How many records to look at.

        Returns:
            Sizes in bytes; records without a known size are left out.
        """
        d = self._call("jsoc_info rs_list", lambda: self._json.rs_list(recordset, key=["*size*"], n=n))
        d = self._check_info_reply(d, "jsoc_info (rs_list)", recordset)
        sizes: list[int] = []
        for item in d.get("keywords") or []:
            if item.get("name") != "*size*":
                continue
            for v in item.get("values") or []:
                try:
                    sizes.append(int(float(v)))
                except (TypeError, ValueError):
                    continue
        return sizes

    # -- e-mail and exports -----------------------------------------------------------------------

    def check_email(self, email_address: str) -> tuple[int, str]:
        """Ask the server whether an e-mail is registered for exports (``checkAddress.sh``).

        Args:
            email_address: The address to check.

        Returns:
            ``(status, message)``: 2 means registered; 3 pending; 4 unknown; -2 invalid.
        """
        d = self._call("checkAddress", lambda: self._json.check_address(email_address))
        if not isinstance(d, dict):
            raise JsocProtocolError("JSOC checkAddress did not answer a JSON object.")
        try:
            status = int(d.get("status"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            status = -1
        return status, str(d.get("msg") or "")

    def submit_export(
        self,
        query: JsocQuery,
        email_address: str,
        recordset: str,
        *,
        filenamefmt: str | None = None,
    ) -> dict[str, Any]:
        """Submit an export (``jsoc_fetch?op=exp_request``) and return JSOC's raw reply.

        The reply is returned whatever its status (0 done, 2 queued, 3/4/7/25 refused); the
        caller decides. ``filenamefmt`` defaults to drms's ``<series>.{T_REC:A}.{...}.{segment}``.

        Args:
            query: The query (method, protocol and cut-out are taken from it).
            email_address: Registered notify e-mail.
            recordset: The record set (a validated query's, or a packed one).
            filenamefmt: File name template for the exported files.

        Returns:
            The JSON reply as a dict.
        """
        info = self.series_info(query.series)
        ds = recordset
        fmt = filenamefmt or (info.filename_format() if query.method != "url_quick" else None)
        process = query.process()
        d = self._call(
            "jsoc_fetch exp_request",
            lambda: self._json.exp_request(
                ds, email_address, method=query.method, protocol=query.protocol, filenamefmt=fmt, process=process
            ),
        )
        if not isinstance(d, dict):
            raise JsocProtocolError("JSOC exp_request did not answer a JSON object.")
        return d

    def export_status(self, request_id: str) -> dict[str, Any]:
        """Return JSOC's raw reply to ``jsoc_fetch?op=exp_status`` for a request id.

        Args:
            request_id: The export request id (``JSOC_YYYYMMDD_NNN``).

        Returns:
            The JSON reply as a dict (``status`` may be a string in completed replies).
        """
        d = self._call("jsoc_fetch exp_status", lambda: self._json.exp_status(request_id))
        if not isinstance(d, dict):
            raise JsocProtocolError("JSOC exp_status did not answer a JSON object.")
        return d
