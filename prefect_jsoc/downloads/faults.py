"""How a transfer fails: parfive's failures described and classified, disk-full errors, slow transfers.

A failure is *transient* (retried in a later round, then by the task) or not; :func:`too_slow`
is the rate watchdog that abandons a transfer delivering less than ``min_download_rate``.
"""

from __future__ import annotations

import asyncio
import collections
import errno as errno_codes
import os
import time
from typing import Any

from .jobs import FileJob

__all__ = ["describe_failure", "is_disk_full", "too_slow"]

_DISK_FULL = (errno_codes.ENOSPC, getattr(errno_codes, "EDQUOT", errno_codes.ENOSPC))


async def too_slow(job: FileJob, rate: float, window: float) -> bool:
    """Watch a transfer; fail and cancel it when it delivers less than ``rate`` B/s over ``window`` s.

    Runs until cancelled (the transfer ended), or returns True once it abandoned the transfer.
    """
    tick = min(1.0, window / 4)
    samples: collections.deque[tuple[float, int]] = collections.deque([(time.monotonic(), 0)])
    while True:
        await asyncio.sleep(tick)
        now = time.monotonic()
        try:
            size = os.stat(job.temp).st_size if job.temp is not None else 0
        except OSError:
            size = 0
        samples.append((now, size))
        while len(samples) > 1 and samples[1][0] <= now - window:
            samples.popleft()
        began, size_then = samples[0]
        if now - began >= window and size - size_then < rate * (now - began):
            got = (size - size_then) / (now - began)
            job.fail(
                f"too slow: {got:.0f} B/s over the last {now - began:.0f} s, below the minimum of {rate:.0f} B/s "
                "(setting min_download_rate); abandoned as a transient fault",
                transient=True,
            )
            if job.task is not None:
                job.task.cancel()
            return True


def describe_failure(error: Any) -> tuple[str, bool]:
    """Text and transience of a parfive failure (an exception, or the HTTP response it refused)."""
    import aiohttp

    status = getattr(error, "status", None)
    if status is None:
        status = getattr(getattr(error, "response", None), "status", None)
    if isinstance(status, int):
        reason = getattr(error, "reason", None) or getattr(getattr(error, "response", None), "reason", "") or ""
        return f"HTTP {status} {reason}".strip(), status >= 500 or status in (408, 429)
    if error is None:
        return "failed", False
    text = f"{type(error).__name__}: {error}".rstrip(": ")
    transient = isinstance(error, (aiohttp.ClientError, asyncio.TimeoutError, TimeoutError, ConnectionError))
    return text, transient


def is_disk_full(exc: OSError) -> bool:
    """True for ``ENOSPC`` and ``EDQUOT``."""
    return exc.errno in _DISK_FULL
