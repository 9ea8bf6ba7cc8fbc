"""A wall-clock sampler of every thread, for profiling flows whose work runs in worker threads.

pyinstrument profiles the thread that started it; a Prefect flow runs its tasks on a thread pool,
so the bench adds this small sampler: every ``interval`` seconds it reads ``sys._current_frames()``
and counts, per thread sample, each distinct function on the stack (inclusive time) and the
innermost one (self time). The report lists the functions with the largest share of thread
samples, which says where the worker threads spend their wall time (running or waiting).
"""

from __future__ import annotations

import collections
import sys
import threading
import time
from typing import Any

__all__ = ["ThreadSampler"]


def _where(code: Any) -> str:
    filename = code.co_filename
    for marker in ("site-packages/", "lib/python3", "/work/main/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    return f"{code.co_name} ({filename}:{code.co_firstlineno})"


class ThreadSampler:
    """Sample the stacks of all threads (except its own) until stopped."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.samples = 0
        self.inclusive: collections.Counter[str] = collections.Counter()
        self.own: collections.Counter[str] = collections.Counter()
        self.per_thread: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    def start(self) -> ThreadSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = threading.get_ident()
        names = {}
        while not self._stop.is_set():
            for t in threading.enumerate():
                names[t.ident] = t.name
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                self.samples += 1
                self.per_thread[(names.get(ident) or str(ident)).split("-")[0]] += 1
                seen = set()
                innermost = True
                while frame is not None:
                    key = _where(frame.f_code)
                    if innermost:
                        self.own[key] += 1
                        innermost = False
                    if key not in seen:
                        self.inclusive[key] += 1
                        seen.add(key)
                    frame = frame.f_back
            time.sleep(self.interval)

    def report(self, top: int = 40) -> str:
        """Text report: inclusive and self shares of thread samples."""
        total = max(1, self.samples)
        lines = [
            f"{self.samples} thread samples every {self.interval * 1000:.0f} ms; threads by share: "
            + ", ".join(f"{k} {v / total:.0%}" for k, v in self.per_thread.most_common(8)),
            "",
            "inclusive (share of thread samples with the function on the stack):",
        ]
        for key, n in self.inclusive.most_common(top):
            lines.append(f"  {n / total:6.1%}  {key}")
        lines += ["", "self (innermost frame):"]
        for key, n in self.own.most_common(top // 2):
            lines.append(f"  {n / total:6.1%}  {key}")
        return "\n".join(lines)
