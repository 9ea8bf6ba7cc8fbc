"""Every exception raised by prefect-jsoc, under one base class.

The hierarchy separates three kinds of failure, because each needs a different reaction:

* :class:`JsocValidationError` (also a :class:`ValueError`): the query or the configuration is
  wrong. Retrying cannot help; the message says what was given, what is allowed and how to fix it.
* :class:`JsocTransientError`: the server or the network hiccupped (HTTP 5xx, 429, connection
  errors, timeouts, JSOC's intermittent status 4 "Cant save new export-request hash"). These are
  the only errors the tasks retry.
* :class:`JsocExportError` and friends: JSOC refused or lost an export (status 3, 4, 5, 7, 25),
  the export did not finish in time, or downloads failed.

:func:`export_error_for_status` turns a JSOC status reply into the matching exception.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "CannotPackError",
    "EmptyQueryError",
    "ExportTooLargeError",
    "IncompatibleOptionsError",
    "InvalidCutoutError",
    "InvalidEmailError",
    "InvalidKeywordFilterError",
    "InvalidOptionError",
    "InvalidRecordSetError",
    "InvalidSampleError",
    "InvalidSeriesError",
    "InvalidTimeRangeError",
    "InvalidWavelengthError",
    "JsocDownloadError",
    "JsocError",
    "JsocExportBadRequest",
    "JsocExportError",
    "JsocExportExpired",
    "JsocExportFailed",
    "JsocExportLimitReached",
    "JsocExportNeedsStaff",
    "JsocExportNotFound",
    "JsocExportTimeout",
    "JsocExportTooLarge",
    "JsocLimitError",
    "JsocProtocolError",
    "JsocQueryError",
    "JsocSlotTimeout",
    "JsocTransientError",
    "JsocValidationError",
    "LayoutRequiredError",
    "MissingEmailError",
    "NoRecordsError",
    "RawAttrsError",
    "UnknownKeywordError",
    "UnknownPrimeKeyError",
    "UnknownSegmentError",
    "UnknownSeriesError",
    "UnregisteredEmailError",
    "UnsafeFilenameError",
    "UnsupportedQueryError",
    "export_error_for_status",
    "is_transient",
    "InvalidDownloadPathError",
    "JsocDownloadTransientError",
    "JsocDownloadWriteError",
    "JsocDiskFullError",
    "JsocDownloadCancelled",
]


class JsocError(Exception):
    """Base class of every error raised by prefect-jsoc."""


# --------------------------------------------------------------------------------------------
# Validation: bad input, detected before anything is exported. Never retried.
# --------------------------------------------------------------------------------------------


class JsocValidationError(JsocError, ValueError):
    """Raised when a query, an option or the notify e-mail is not acceptable.

    Raised both by the shape checks of :class:`~prefect_jsoc.query.JsocQuery` (no network) and by
    the ``validate`` task (against the series definition on the server).
    """


class InvalidSeriesError(JsocValidationError):
    """Raised when a series name is missing or malformed (for example ``"hmi"``)."""


class UnknownSeriesError(InvalidSeriesError):
    """Raised when the server does not know the series."""


class UnknownPrimeKeyError(JsocValidationError):
    """Raised when a prime key is not one of the series' prime keys."""


class UnknownSegmentError(JsocValidationError):
    """Raised when a segment is not one of the series' segments."""


class UnknownKeywordError(JsocValidationError):
    """Raised when a keyword (in a filter or in ``keys=``) is not one of the series' keywords."""


class InvalidKeywordFilterError(JsocValidationError):
    """Raised when a keyword filter has no comparison, an unknown operator or an unsafe value."""


class InvalidTimeRangeError(JsocValidationError):
    """Raised when a start or end time cannot be parsed, or the range is empty or reversed."""


class InvalidWavelengthError(JsocValidationError):
    """Raised when a wavelength is not a spectral quantity, or the series has no WAVELNTH key."""


class InvalidSampleError(JsocValidationError):
    """Raised when a sampling cadence is not a positive duration."""


class InvalidEmailError(JsocValidationError):
    """Raised when a notify e-mail address is not a syntactically valid address."""


class MissingEmailError(InvalidEmailError):
    """Raised when an export needs a notify e-mail and none is configured."""


class UnregisteredEmailError(JsocValidationError):
    """Raised when the notify e-mail is not registered (or still pending) with JSOC."""


class InvalidOptionError(JsocValidationError):
    """Raised when ``protocol``, ``method`` or another option has a value JSOC does not offer."""


class InvalidCutoutError(JsocValidationError):
    """Raised when the im_patch cut-out parameters are incomplete or out of range."""


class IncompatibleOptionsError(JsocValidationError):
    """Raised when options contradict each other (``url_quick`` with ``fits``, a cut-out with ``as-is``)."""


class EmptyQueryError(JsocValidationError):
    """Raised when a query selects nothing specific (no time, wavelength or prime key)."""


class InvalidRecordSetError(JsocValidationError):
    """Raised when the server rejects the record-set string built from the query."""


class NoRecordsError(JsocValidationError):
    """Raised by ``stage`` when the query matches no records, so there is nothing to export."""


class ExportTooLargeError(JsocValidationError):
    """Raised by ``validate`` when the estimated export size exceeds JSOC's per-request limit."""


# --------------------------------------------------------------------------------------------
# Transport and server faults.
# --------------------------------------------------------------------------------------------


class JsocTransientError(JsocError):
    """Raised for faults that may go away on their own; the only errors that are retried.

    Attributes:
        retry_after: Seconds the server asked us to wait (``Retry-After``), if it said so.
        http_status: The HTTP status code, when the fault was an HTTP error reply.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, http_status: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.http_status = http_status

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))


class JsocProtocolError(JsocError):
    """Raised when the server answers in a way that is not a transient fault and not JSOC's JSON."""


class JsocQueryError(JsocError):
    """Raised when a ``jsoc_info`` call fails for a reason that is not clearly the query's fault."""


# --------------------------------------------------------------------------------------------
# Export failures (jsoc_fetch status codes) and the later stages.
# --------------------------------------------------------------------------------------------


class JsocExportError(JsocError):
    """Raised when JSOC refuses or fails an export.

    Attributes:
        status: The JSOC status code.
        request_id: The export request id, when there is one.
        server_message: JSOC's own ``error`` text, when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        server_message: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.request_id = request_id
        self.server_message = server_message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))


class JsocExportTooLarge(JsocExportError):
    """Raised for status 3: the export exceeds JSOC's byte limit (100 GB by default)."""


class JsocExportBadRequest(JsocExportError):
    """Raised for a permanent status 4: JSOC considers the request invalid."""


class JsocExportExpired(JsocExportError):
    """Raised for status 5: the export finished but its files were deleted (7-day limit)."""


class JsocExportNotFound(JsocExportExpired):
    """Raised when the server no longer knows a request id (status 4 "invalid export DRMS record")."""


class JsocExportLimitReached(JsocExportError):
    """Raised for status 7: too many pending exports for this e-mail or address (back-pressure)."""


class JsocExportNeedsStaff(JsocExportError):
    """Raised for status 25: the data are offline and JSOC staff must intervene."""


class JsocExportFailed(JsocExportError):
    """Raised for any other failed status (for example -1, cancelled, or 12, test mode)."""


class JsocExportTimeout(JsocError, TimeoutError):
    """Raised when an export (or a free export slot) did not become ready within the timeout.

    Attributes:
        request_id: The export request id that was still pending, if any.
    """

    def __init__(self, message: str, *, request_id: str | None = None):
        super().__init__(message)
        self.request_id = request_id

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))


class JsocSlotTimeout(JsocError, TimeoutError):
    """Raised when no slot of a JSOC limit (pending exports, download connections) became free in time."""


class JsocLimitError(JsocError):
    """Raised when the Prefect API that keeps JSOC's limits cannot create or grant a limit's slots."""


class UnsafeFilenameError(JsocError, ValueError):
    """Raised when a file name from the server would escape the target directory."""


class JsocDownloadError(JsocError):
    """Raised when some files could not be downloaded and verified after every retry.

    Attributes:
        failures: ``(url, error text)`` pairs, one per file that failed.
        paths: Local paths of the files that were downloaded or already present.
    """

    def __init__(self, failures: Sequence[tuple[str, str]], paths: Sequence[str] = ()):
        self.failures = [(str(u), str(e)) for u, e in failures]
        self.paths = [str(p) for p in paths]
        lines = "\n".join(f"  Download Failed: {u} with error {e}" for u, e in self.failures)
        super().__init__(
            f"{len(self.failures)} file(s) could not be downloaded after every retry "
            f"({len(self.paths)} succeeded); run the download again to retry only these:\n{lines}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_download_error, (self.failures, self.paths))


def _rebuild(cls: type, args: tuple[Any, ...], state: dict[str, Any]) -> Exception:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


def _rebuild_download_error(failures: list[tuple[str, str]], paths: list[str]) -> JsocDownloadError:
    return JsocDownloadError(failures, paths)


def is_transient(exc: BaseException) -> bool:
    """Tell whether an exception is worth retrying.

    Args:
        exc: Any exception.

    Returns:
        True only for :class:`JsocTransientError` (HTTP 5xx/429, connection errors, timeouts,
        JSOC's intermittent status 4 and status 6).

    Example:
        ```python
        from prefect_jsoc.errors import JsocTransientError, UnknownSeriesError, is_transient
        assert is_transient(JsocTransientError("HTTP 503"))
        assert not is_transient(UnknownSeriesError("no such series"))
        ```
    """
    return isinstance(exc, JsocTransientError)


_TRANSIENT_STATUS4 = ("cant save new export-request hash", "can't save new export-request hash")
_NOT_FOUND_STATUS4 = ("invalid export drms record",)


def export_error_for_status(
    reply: Mapping[str, Any],
    *,
    request_id: str | None = None,
    label: str | None = None,
) -> JsocError:
    """Build the exception that matches a failed ``exp_request``/``exp_status`` reply.

    Args:
        reply: The JSON reply from ``jsoc_fetch`` (``status`` and usually ``error``).
        request_id: The request id the reply is about, if the reply itself lacks it.
        label: A human name of the query, used in the message.

    Returns:
        A :class:`JsocExportError` subclass for permanent statuses, or a
        :class:`JsocTransientError` for the intermittent status 4 "Cant save new export-request
        hash" and status 6.

    Example:
        ```python
        from prefect_jsoc.errors import JsocExportExpired, export_error_for_status
        err = export_error_for_status({"status": 5, "error": "Request was completed but is now deleted"},
                                      request_id="JSOC_20240101_001")
        assert isinstance(err, JsocExportExpired)
        ```
    """
    try:
        status = int(reply.get("status"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        status = None
    rid = request_id or reply.get("requestid") or None
    server_message = str(reply.get("error") or "").strip() or None
    what = f"Export {rid}" if rid and rid != "VOID" else "The export request"
    if label:
        what += f" for {label}"
    said = f' JSOC said: "{server_message}".' if server_message else ""
    kw: dict[str, Any] = {"status": status, "request_id": rid, "server_message": server_message}
    low = (server_message or "").lower()

    if status == 3:
        return JsocExportTooLarge(
            f"{what} is too large for JSOC (status 3).{said} Split the query into smaller time "
            "ranges (see prefect_jsoc.split_interval) or request fewer segments.",
            **kw,
        )
    if status == 4 and any(s in low for s in _TRANSIENT_STATUS4):
        return JsocTransientError(
            f"{what} hit JSOC's intermittent status 4.{said} This is a known server-side glitch; "
            "the request will be retried."
        )
    if status == 4 and any(s in low for s in _NOT_FOUND_STATUS4):
        return JsocExportNotFound(
            f"{what} is unknown to the server (status 4), which happens when JSOC forgot or purged "
            f"it.{said} Stage the query again to get a new request.",
            **kw,
        )
    if status == 4:
        return JsocExportBadRequest(
            f"{what} was rejected as a bad request (status 4).{said} Check the query with the "
            "validate task; if it passes, the server-side export failed and may be retried later.",
            **kw,
        )
    if status == 5:
        return JsocExportExpired(
            f"{what} has expired (status 5): JSOC deletes export results after 7 days.{said} "
            "Stage the query again to get a fresh export.",
            **kw,
        )
    if status == 6:
        return JsocTransientError(f"{what} cannot be located yet (status 6).{said} Polling continues.")
    if status == 7:
        return JsocExportLimitReached(
            f"{what} was refused because too many exports are pending for this e-mail or address "
            f"(status 7).{said} Wait for pending exports to finish, or lower concurrency.",
            **kw,
        )
    if status == 25:
        return JsocExportNeedsStaff(
            f"{what} needs JSOC staff (status 25), usually because the data are on tape.{said} "
            "Write to jsoc@sun.stanford.edu with the request id.",
            **kw,
        )
    return JsocExportFailed(
        f"{what} failed with JSOC status {status if status is not None else reply.get('status')!r}.{said}",
        **kw,
    )


# --------------------------------------------------------------------------------------------
# Query package (prefect_jsoc.query).
# --------------------------------------------------------------------------------------------


class LayoutRequiredError(JsocValidationError):
    """Raised when a record set is asked of a query that was not validated against its series.

    Prime keys are placed by position, so only the series definition makes the record set one
    that JSOC accepts: use ``validate(query).recordset()`` or ``query.recordset(layout)``.
    """


class RawAttrsError(JsocValidationError):
    """Raised when sunpy attrs are passed where queries are expected; convert them with ``JsocQuery.from_attrs``."""


class UnsupportedQueryError(JsocValidationError):
    """Raised when something that is not a query (nor a list of queries or mappings) is passed as one."""


class CannotPackError(JsocError):
    """Raised when validated query blocks cannot share one export record set.

    Blocks pack only when they agree on everything but the value of one prime-key position
    (same series, options, filters and segments). The caller exports them separately instead.
    """


class JsocConnectionError(JsocError):
    """Raised when the very first call to a JSOC server cannot connect (wrong URL, server down)."""


class JsocFetchError(JsocError):
    """Raised by ``jsoc_fetch`` when blocks failed; ``.result`` holds what did complete.

    Attributes:
        result: The ``FetchResult`` with every block, failed or not.
    """

    def __init__(self, result: Any) -> None:
        self.result = result
        failed = result.failed
        first = failed[0]
        reason = (first.error or "").split(". ")[0]
        more = f"; +{len(failed) - 1} more" if len(failed) > 1 else ""
        super().__init__(
            f"{len(failed)} of {len(result.blocks)} blocks failed ({first.label} in {first.failed_step}: "
            f"{reason}{more}). See the jsoc-export-summary artifact; completed blocks are kept, and "
            "re-running the same fetch retries only what is missing."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (JsocFetchError, (self.result,))


# --------------------------------------------------------------------------------------------
# Download integrity (appended).
# --------------------------------------------------------------------------------------------


class InvalidDownloadPathError(JsocValidationError):
    """Raised when a download path or path template cannot be written to (checked before any export)."""


class JsocDownloadTransientError(JsocDownloadError, JsocTransientError):
    """Raised when every file that failed failed for a reason that may pass: a transfer slower than
    the minimum rate, a dropped or timed-out connection, a truncated body, HTTP 5xx or 429.

    The tasks retry it (it is a :class:`JsocTransientError`); a retry downloads only those files.
    """

    def __init__(self, failures: Sequence[tuple[str, str]], paths: Sequence[str] = ()):
        super().__init__(failures, paths)
        self.retry_after = None
        self.http_status = None

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))


class JsocDownloadWriteError(JsocError):
    """Raised when a downloaded file cannot be written (a read-only or vanished directory, an I/O
    error). The download stops at once and its temporary files are removed. Never retried.

    Attributes:
        path: The file that could not be written.
        errno: The operating system's error number.
    """

    def __init__(self, message: str, *, path: str = "", errno: int | None = None):
        super().__init__(message)
        self.path = path
        self.errno = errno

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))


class JsocDiskFullError(JsocDownloadWriteError):
    """Raised when the disk (or a quota) is full while writing a download (``ENOSPC``, ``EDQUOT``)."""


class JsocDownloadCancelled(JsocError):
    """Raised when a download was stopped on request (the flow run was cancelled or is shutting down).

    Files completed before the stop are kept (verified); nothing partial is left under a final
    name, and running the download again fetches only the missing files. Never retried.
    """
