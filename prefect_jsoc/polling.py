"""The one poll-with-backoff helper: every "wait until JSOC (or Prefect) says yes" loop uses it.

Faults are not retried here: a check that raises ends the poll, and Prefect's task retries (on top
of the client's own single retry) decide what happens next. Every poll is bounded by a timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["backoff_delays", "poll_until"]

T = TypeVar("T")


def backoff_delays(first: float, maximum: float, factor: float = 1.5):  # noqa: ANN201 - a generator
    """Yield ``first``, then ``first * factor``, ... capped at ``maximum``, forever."""
    delay = first
    while True:
        yield delay
        delay = min(delay * factor, maximum)


def poll_until(
    check: Callable[[], T | None],
    *,
    first_delay: float,
    then: float,
    maximum: float,
    timeout: float,
    on_timeout: Callable[[float], Exception],
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``check`` until it returns something other than None, waiting longer between calls.

    Args:
        check: Returns the result when done, None to keep waiting; exceptions propagate.
        first_delay: Seconds to wait before the first call (0 to call at once).
        then: The pause after the first call that said "not yet"; pauses then grow 1.5x.
        maximum: The longest pause.
        timeout: Give up after this many seconds in all.
        on_timeout: Builds the exception to raise, given the seconds waited.
        sleep: Sleep function (tests may pass a fake one).

    Returns:
        The first non-None result of ``check``.

    Raises:
        Exception: ``on_timeout(waited)`` when ``timeout`` passed first, or whatever ``check`` raised.
    """
    started = time.monotonic()
    if first_delay > 0:
        sleep(min(first_delay, timeout))
    delays = backoff_delays(then, max(then, maximum))
    while True:
        result = check()
        if result is not None:
            return result
        waited = time.monotonic() - started
        if waited >= timeout:
            raise on_timeout(waited)
        sleep(min(next(delays), timeout - waited))
