"""The JSOC client: the only module that asks JSOC anything, through drms's public API.

:class:`JsocClient` asks for series definitions, record counts, records, e-mail checks and
exports; every call has a timeout (``request_timeout``) and goes through the one retry layer
(:mod:`prefect_jsoc.retries`); JSOC's error replies become typed errors. The drms objects it uses,
and the one place drms needed a workaround, are in :mod:`prefect_jsoc.transport`.
"""

from __future__ import annotations

import difflib
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import drms
import numpy as np
from astropy.table import Table

from prefect_jsoc.errors import (
    InvalidOptionError,
    InvalidRecordSetError,
    JsocProtocolError,
    JsocQueryError,
    JsocValidationError,
    UnknownSeriesError,
)
from prefect_jsoc.query import JsocQuery
from prefect_jsoc.replies import drms_error_text, error_text, json_object, succeeded
from prefect_jsoc.retries import Retrying
from prefect_jsoc.series import SeriesInfo, series_name
from prefect_jsoc.settings import JsocSettings
from prefect_jsoc.transport import DrmsClient, make_server_config, timed_cgi_client
from prefect_jsoc.ttl_cache import TtlCache

__all__ = ["JsocClient", "SeriesInfo", "make_server_config"]

#: How long a series definition or a successful e-mail check is remembered, in seconds.
CACHE_TTL = 3600.0
_MAX_CLIENTS = 8
_CLIENTS: dict[tuple[Any, ...], JsocClient] = {}
_CLIENTS_LOCK = threading.Lock()


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
        # series name (lower case) -> (definition, the series_struct reply it was read from)
        self._series: TtlCache[tuple[SeriesInfo, dict[str, Any]]] = TtlCache(maxsize=256, ttl=CACHE_TTL)
        self._emails: TtlCache[bool] = TtlCache(maxsize=64, ttl=CACHE_TTL)
        self._series_lock = threading.Lock()
        self._email_lock = threading.Lock()
        self._cgi = timed_cgi_client(self.config, self.settings.request_timeout)
        self._drms = DrmsClient(self._cgi, known_struct=self._known_struct)
        self._call = Retrying(
            self.server_url,
            self.config.cgi_baseurl,
            retries=self.settings.http_retries,
            backoff=self.settings.retry_backoff,
            sleep=sleep,
        )

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

    # -- series ---------------------------------------------------------------------------------

    def series_info(self, series: str) -> SeriesInfo:
        """Return the series definition (cached per client for an hour, by lower-cased name).

        Args:
            series: Series name (case-insensitive) or a record set starting with it.

        Returns:
            The parsed series definition.

        Raises:
            UnknownSeriesError: When the server does not know the series; the message lists
                similar series names when the server can list them.
            JsocTransientError: When the server could not be reached after retries.
        """
        name = series_name(series)
        cached = self._series.get(name.lower())
        if cached is not None:
            return cached[0]
        with self._series_lock:  # many blocks start at once: ask the server once
            cached = self._series.get(name.lower())
            if cached is not None:
                return cached[0]
            what = "jsoc_info (series_struct)"
            struct = json_object(self._call(what, lambda: self._cgi.series_struct(name.lower())), what)
            if not succeeded(struct):
                error, status = error_text(struct)
                if "not found" in error.lower() or "does not exist" in error.lower():
                    raise UnknownSeriesError(self._unknown_series_message(name))
                raise JsocQueryError(f"JSOC {what} failed for {name!r}: {error} [status={status}].")
            info = SeriesInfo.from_struct(name, struct)
            self._series.put(name.lower(), (info, struct))
            return info

    def _known_struct(self, name: str) -> dict[str, Any] | None:
        cached = self._series.get(name.lower())
        return cached[1] if cached is not None else None

    def series_names(self, regex: str | None = None) -> list[str]:
        """List series names on the server, optionally filtered by a regular expression.

        Args:
            regex: A POSIX regular expression matched case-insensitively anywhere in the name.

        Returns:
            Series names.
        """
        names = self._call("show_series", lambda: self._drms.series(regex))
        # showextseries lists plain names; with descriptions it would list {name: {...}} objects
        return [n if isinstance(n, str) else next(iter(n)) for n in names or []]

    series = series_names

    def _unknown_series_message(self, name: str) -> str:
        msg = f"The series {name!r} does not exist on {self.server_url}."
        prefix = name.split(".", 1)[0]
        try:
            candidates = self.series_names(rf"^{re.escape(prefix)}\.")
        except Exception:  # listing is a courtesy; never hide the real error
            candidates = []
        if candidates:
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
            JsocQueryError: When JSOC answers another error.
        """
        what = "jsoc_info (rs_summary)"
        reply = json_object(self._call(what, lambda: self._cgi.rs_summary(recordset)), what)
        if not succeeded(reply):
            raise _recordset_error(error_text(reply), what, recordset)
        try:
            return int(reply.get("count", 0))
        except (TypeError, ValueError) as exc:
            raise JsocProtocolError(f"JSOC {what} answered a non-numeric count {reply.get('count')!r}.") from exc

    def query(
        self,
        recordset: str,
        keys: Sequence[str] | str = ("**ALL**",),
        segments: Sequence[str] | None = None,
        *,
        n: int | None = None,
    ) -> Table:
        """Return records as an astropy ``Table`` (``jsoc_info?op=rs_list``, through ``drms.Client.query``).

        Numeric keywords are converted to numbers by drms (hexadecimal ``QUALITY`` included);
        time keywords stay strings. Requested segments become extra columns holding the storage
        paths (``<name>_path`` when a keyword has the same name).

        Args:
            recordset: A DRMS record-set string.
            keys: Keyword names, or ``"**ALL**"`` for every keyword.
            segments: Segment names whose paths to include, if any.
            n: Limit to the first ``n`` records (last ``-n`` when negative).

        Returns:
            A table with one row per record; ``meta["count"]`` is the number of rows.

        Raises:
            InvalidRecordSetError: When the server rejects the record set.
            UnknownSeriesError: When the series does not exist.
        """
        key_list = [keys] if isinstance(keys, str) else list(keys)
        seg_list = list(segments or [])
        if not key_list and not seg_list:
            raise InvalidOptionError("A query needs at least one keyword or segment to return.")
        self.series_info(recordset)  # drms converts values by the series' keyword types
        found = self._records(recordset, key=key_list or None, seg=seg_list or None, n=n)
        frames = list(found) if isinstance(found, tuple) else [found]
        keywords = frames[0] if key_list else None
        paths = frames[-1] if seg_list else None
        table = Table()
        for name in keywords.columns if keywords is not None else ():
            table[name] = _column(keywords[name])
        for name in paths.columns if paths is not None else ():
            table[name if name not in table.colnames else f"{name}_path"] = _column(paths[name])
        if not table.colnames:  # JSOC lists no columns for an empty record set
            for name in [k for k in key_list if not k.startswith("*")] + seg_list:
                table[name] = np.array([], dtype=str)
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
        sizes = self._records(recordset, key="*size*", n=n)
        if "*size*" not in sizes:
            return []
        return [int(v) for v in sizes["*size*"] if not np.isnan(v)]

    def _records(self, recordset: str, **query: Any) -> Any:
        """``drms.Client.query`` with retries, JSOC's error replies as our errors."""
        what = "jsoc_info (rs_list)"

        def ask() -> Any:
            try:
                return self._drms.query(recordset, **query)
            except drms.DrmsQueryError as exc:
                raise _recordset_error(drms_error_text(exc), what, recordset) from exc

        return self._call(what, ask)

    # -- e-mail and exports -----------------------------------------------------------------------

    def check_email(self, email_address: str) -> tuple[int, str]:
        """Ask the server whether an e-mail is registered for exports (``checkAddress.sh``).

        Args:
            email_address: The address to check.

        Returns:
            ``(status, message)``: 2 means registered; 3 pending; 4 unknown; -2 invalid.
        """
        what = "checkAddress.sh"
        reply = json_object(self._call(what, lambda: self._cgi.check_address(email_address)), what)
        try:
            status = int(reply.get("status"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            status = -1
        return status, str(reply.get("msg") or "")

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
        fmt = filenamefmt or (info.filename_format() if query.method != "url_quick" else None)
        process = query.process()
        what = "jsoc_fetch (exp_request)"
        reply = self._call(
            what,
            lambda: self._cgi.exp_request(
                recordset, email_address, method=query.method, protocol=query.protocol, filenamefmt=fmt, process=process
            ),
        )
        return json_object(reply, what)

    def export_status(self, request_id: str) -> dict[str, Any]:
        """Return JSOC's raw reply to ``jsoc_fetch?op=exp_status`` for a request id.

        Args:
            request_id: The export request id (``JSOC_YYYYMMDD_NNN``).

        Returns:
            The JSON reply as a dict (``status`` may be a string in completed replies).
        """
        what = "jsoc_fetch (exp_status)"
        return json_object(self._call(what, lambda: self._cgi.exp_status(request_id)), what)


# ---------------------------------------------------------------------------------------------
# JSOC's replies
# ---------------------------------------------------------------------------------------------


def _recordset_error(said: tuple[str, Any], what: str, recordset: str) -> JsocQueryError | JsocValidationError:
    """Our error for JSOC's error reply about a record set (``rs_summary``/``rs_list``)."""
    error, status = said
    low = error.lower()
    if "series not found" in low:
        # jsoc_info says "series not found" whenever it cannot open the records of a record set
        return InvalidRecordSetError(
            f"JSOC could not open the record set {recordset!r} (it said {error!r}). Check the prime-key values, "
            "ranges and filters."
        )
    if "does not exist" in low:
        return UnknownSeriesError(f"The series in {recordset!r} does not exist on the server: JSOC said {error!r}.")
    if any(word in low for word in ("record-set", "recordset", "record set", "syntax")):
        return InvalidRecordSetError(
            f"JSOC rejected the record set {recordset!r}: {error}. Check the keyword filters and prime-key values."
        )
    return JsocQueryError(f"JSOC {what} failed for {recordset!r}: {error} [status={status}].")


def _column(values: Any) -> np.ndarray:
    """A table column from a drms frame's column: numbers as drms converted them, everything else as text."""
    array = values.to_numpy()
    if array.dtype.kind in "iuf":
        return array
    return np.array([str(v) for v in array], dtype=str)
