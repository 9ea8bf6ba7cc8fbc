"""The one HTTP retry layer below Prefect's task retries, and drms's faults in our error types.

drms lets transport faults through as they come from ``urllib``: ``HTTPError`` for an HTTP error
reply, ``URLError`` when no connection was made, ``TimeoutError``/``ConnectionError``/
``http.client`` errors while reading, and ``json.JSONDecodeError`` for a body that is not JSON.
:func:`transport_error` maps each to :class:`~prefect_jsoc.errors.JsocTransientError` (worth
another try) or :class:`~prefect_jsoc.errors.JsocProtocolError` (it will not pass: a wrong URL),
and :class:`Retrying` runs a call ``1 + http_retries`` times with exponential backoff and jitter,
honouring ``Retry-After``.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import random
import socket
import time
import urllib.error
from collections.abc import Callable
from typing import TypeVar

from prefect_jsoc._log import get_logger
from prefect_jsoc.errors import JsocConnectionError, JsocError, JsocProtocolError, JsocTransientError

__all__ = ["TRANSPORT_FAULTS", "Retrying", "transport_error"]

T = TypeVar("T")

#: What a drms call raises when the exchange itself failed (as opposed to JSOC answering an error).
TRANSPORT_FAULTS: tuple[type[BaseException], ...] = (
    OSError,  # urllib.error.URLError and HTTPError, TimeoutError, ConnectionError
    http.client.HTTPException,  # IncompleteRead, RemoteDisconnected, BadStatusLine
    json.JSONDecodeError,
    UnicodeDecodeError,
)

#: HTTP statuses that say "not now" rather than "never".
_TRANSIENT_HTTP = frozenset({408, 429})

#: The longest ``Retry-After`` honoured; a server asking for more gets the task's retry instead.
MAX_RETRY_AFTER = 120.0

#: Refused connections and unknown hosts: on a client's first call these mean a wrong ``server_url``.
_UNREACHABLE = (ConnectionRefusedError, socket.gaierror)


def transport_error(exc: BaseException, what: str, where: str) -> JsocError:
    """Our error for a transport fault of a drms call.

    Args:
        exc: One of :data:`TRANSPORT_FAULTS`.
        what: The CGI called, e.g. ``"jsoc_info (rs_summary)"``.
        where: The server's CGI base URL, named in messages.

    Returns:
        A :class:`JsocTransientError` (HTTP 5xx/408/429, timeouts, resets, a body that is not
        JSON) or a :class:`JsocProtocolError` (another HTTP error, such as 404).
    """
    if isinstance(exc, urllib.error.HTTPError):
        said = f"JSOC {what} answered HTTP {exc.code} {http.client.responses.get(exc.code, '')}".rstrip()
        if exc.code in _TRANSIENT_HTTP or exc.code >= 500:
            headers = exc.headers
            return JsocTransientError(
                f"{said}.",
                retry_after=parse_retry_after(headers.get("Retry-After") if headers else None),
                http_status=exc.code,
            )
        return JsocProtocolError(f"{said} for {exc.url}; check server_url ({where}).")
    if isinstance(exc, json.JSONDecodeError):
        return JsocTransientError(f"JSOC {what} did not answer JSON (got {exc.doc[:80]!r}).")
    if isinstance(exc, UnicodeDecodeError):
        return JsocTransientError(f"JSOC {what} did not answer text (got {exc.object[:80]!r}).")
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    return JsocTransientError(f"Could not reach JSOC {what} at {where}: {reason or type(reason).__name__}.")


def is_unreachable(exc: BaseException) -> bool:
    """True when no connection could be made at all: refused, or the host name is unknown."""
    if isinstance(exc, urllib.error.HTTPError):
        return False
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    return isinstance(reason, _UNREACHABLE)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delay seconds or an HTTP date), or None."""
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


class Retrying:
    """Run drms calls to one server, retrying transient faults with backoff.

    A connection refused, or an unknown host, on the very first call (nothing has succeeded yet)
    raises :class:`~prefect_jsoc.errors.JsocConnectionError` at once: the URL is most likely wrong,
    and waiting would only hide that. Once a call has succeeded, the same fault is transient.

    Args:
        server_url: The server, named in the connection error.
        where: The CGI base URL, named in transport errors.
        retries: Retries after the first attempt (``http_retries``).
        backoff: The first retry's delay in seconds; it doubles per attempt, with ±25 % jitter.
        sleep: The sleep between attempts (tests may pass a fake one).
    """

    def __init__(
        self, server_url: str, where: str, *, retries: int, backoff: float, sleep: Callable[[float], None] = time.sleep
    ):
        self.server_url, self.where = server_url, where
        self.attempts = 1 + max(0, retries)
        self.backoff = backoff
        self._sleep = sleep
        self._reached = False  # has any call to this server succeeded yet?

    def __call__(self, what: str, call: Callable[[], T]) -> T:
        """Run ``call`` (a drms call to the CGI ``what``) with retries; return its result.

        Raises:
            JsocConnectionError: When the first call of this server could not connect.
            JsocTransientError: When the last attempt failed with a transient fault.
            JsocProtocolError: For a fault retrying cannot fix (HTTP 404, ...).
        """
        for attempt in range(1, self.attempts + 1):
            try:
                result = call()
            except TRANSPORT_FAULTS as exc:
                error = transport_error(exc, what, self.where)
                if not self._reached and is_unreachable(exc):
                    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
                    raise JsocConnectionError(
                        f"Cannot connect to JSOC at {self.server_url} ({reason}). Check the server URL "
                        "(server_url, PREFECT_JSOC_SERVER_URL or --server-url) and that the server is up."
                    ) from exc
                if not isinstance(error, JsocTransientError) or attempt >= self.attempts:
                    raise error from exc
                delay = self._delay(attempt, error.retry_after)
                get_logger().warning(
                    "%s Retrying %s in %.1f s (attempt %d of %d).", error, what, delay, attempt + 1, self.attempts
                )
                self._sleep(delay)
            else:
                self._reached = True
                return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        delay = self.backoff * (2 ** (attempt - 1)) * random.uniform(0.75, 1.25)
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
        return delay
