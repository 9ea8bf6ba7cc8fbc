"""Small measurement helpers shared by every scenario: medians, ratios, peak RSS, machine facts."""

from __future__ import annotations

import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

__all__ = [
    "Stopwatch",
    "machine_info",
    "median",
    "peak_rss_mb",
    "proc_peak_rss_mb",
    "proc_rss_mb",
    "ratio",
    "stopwatch",
]


def median(values: Sequence[float | None]) -> float | None:
    """Median of the values that are not None; None when there are none."""
    clean = [float(v) for v in values if v is not None]
    return statistics.median(clean) if clean else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``; None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


class Stopwatch:
    """Wall time of a ``with`` block (``time.perf_counter``), in ``.seconds`` after it ends."""

    seconds: float | None = None


@contextmanager
def stopwatch() -> Iterator[Stopwatch]:
    """Time a block: ``with stopwatch() as sw: ...`` then ``sw.seconds``."""
    sw = Stopwatch()
    start = time.perf_counter()
    try:
        yield sw
    finally:
        sw.seconds = time.perf_counter() - start


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB.

    Linux's ``VmHWM`` of the process's own address space. (``ru_maxrss`` is not used: on Linux a
    child started with fork+exec inherits the parent's high-water mark, so a small worker would
    report the bench process's size.)
    """
    value = _status_field(os.getpid(), "VmHWM")
    if value is not None:
        return value
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kilobytes on Linux


def _status_field(pid: int, field: str) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0  # kB -> MB
    except OSError:
        return None
    return None


def proc_rss_mb(pid: int) -> float | None:
    """Current resident set size of another process in MB (Linux ``VmRSS``)."""
    return _status_field(pid, "VmRSS")


def proc_peak_rss_mb(pid: int) -> float | None:
    """Peak resident set size of another process in MB (Linux ``VmHWM``)."""
    return _status_field(pid, "VmHWM")


def _version(name: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # noqa: BLE001 - a missing package is reported as None
        return None


def machine_info() -> dict[str, Any]:
    """Facts that make a result file comparable: cores, load, Python and package versions."""
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    mem_gb = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "load_average_at_start": load,
        "memory_gb": mem_gb,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {
            name: _version(name)
            for name in ("prefect-jsoc", "prefect", "drms", "parfive", "sunpy", "aiohttp", "astropy")
        },
    }
