"""The base class, the transient marker, and the errors of the JSOC service and of a whole run."""

from __future__ import annotations

from typing import Any


class JsocError(Exception):
    """Base class of every error raised by prefect-jsoc."""


class JsocTransientError(JsocError):
    """A fault that may pass on its own; the only errors the tasks retry (see :func:`is_transient`).

    Raised as is for transport faults (HTTP 5xx/408/429, connection errors, a body that is not
    JSON), and mixed into the export and download errors that may pass.

    Attributes:
        retry_after: Seconds the server asked us to wait (``Retry-After``), if it said so.
        http_status: The HTTP status code, when the fault was an HTTP error reply.
    """

    retry_after: float | None = None
    http_status: int | None = None

    def __init__(self, *args: Any, retry_after: float | None = None, http_status: int | None = None):
        super().__init__(*args)
        if retry_after is not None:
            self.retry_after = retry_after
        if http_status is not None:
            self.http_status = http_status


def is_transient(exc: BaseException) -> bool:
    """Tell whether an exception is worth retrying.

    Args:
        exc: Any exception.

    Returns:
        True only for a :class:`JsocTransientError` (HTTP 5xx/408/429, connection errors, JSOC's
        intermittent status 4 and status 6, downloads that failed for reasons that may pass).

    Example:
        ```python
        from prefect_jsoc.errors import JsocTransientError, UnknownSeriesError, is_transient
        assert is_transient(JsocTransientError("HTTP 503"))
        assert not is_transient(UnknownSeriesError("no such series"))
        ```
    """
    return isinstance(exc, JsocTransientError)


class JsocConnectionError(JsocError):
    """The very first call to a JSOC server cannot connect (a wrong URL, or the server is down)."""


class JsocProtocolError(JsocError):
    """The server answered in a way that is neither a transient fault nor JSOC's JSON."""


class JsocQueryError(JsocError):
    """A ``jsoc_info`` call failed for a reason that is not clearly the query's fault."""


class CannotPackError(JsocError):
    """Validated query blocks cannot share one export record set; they are exported separately.

    Blocks pack only when they agree on everything but the value of one prime-key position
    (same series, options, filters and segments).
    """


class LocalServerError(JsocError):
    """The local Prefect API server could not be started."""


class JsocFetchError(JsocError):
    """``jsoc_fetch`` finished with failed blocks; ``result`` holds what did complete.

    Args:
        result: The ``FetchResult`` with every block, failed or not.
    """

    def __init__(self, result: Any) -> None:
        self.result = result
        super().__init__(result)

    def __str__(self) -> str:
        failed = self.result.failed
        first = failed[0]
        reason = (first.error or "").split(". ")[0]
        more = f"; +{len(failed) - 1} more" if len(failed) > 1 else ""
        return (
            f"{len(failed)} of {len(self.result.blocks)} blocks failed ({first.label} in {first.failed_step}: "
            f"{reason}{more}). See the jsoc-export-summary artifact; completed blocks are kept, and "
            "re-running the same fetch retries only what is missing."
        )
