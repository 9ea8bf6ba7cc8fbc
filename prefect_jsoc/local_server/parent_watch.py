"""How a server process notices that its parent is gone, and then stops (or exits hard if stopping hangs)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time

__all__ = ["ORPHAN_GRACE_SECONDS", "PARENT_POLL_SECONDS", "ParentWatch", "ask_kernel_for_sigterm_on_parent_death"]

#: How often the server checks that its parent is still alive.
PARENT_POLL_SECONDS = 0.5
#: How long a server whose parent died may take to shut down before it exits hard.
ORPHAN_GRACE_SECONDS = 10.0

_PR_SET_PDEATHSIG = 1


def ask_kernel_for_sigterm_on_parent_death() -> None:
    """Linux only: have the kernel send SIGTERM when the thread that started us exits."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class ParentWatch(threading.Thread):
    """Stops the server once the parent is gone, and exits hard if that takes too long."""

    def __init__(self, parent_pid: int) -> None:
        super().__init__(name="prefect-jsoc-parent-watch", daemon=True)
        self.parent_pid = parent_pid
        self.server: object | None = None  # the uvicorn.Server, once it exists

    def parent_alive(self) -> bool:
        """True while the process that started this one is still its parent."""
        return os.getppid() == self.parent_pid

    def run(self) -> None:
        while self.parent_alive():
            time.sleep(PARENT_POLL_SECONDS)
        if self.server is None:  # still importing: interrupt that, the clean-up runs on the way out
            os.kill(os.getpid(), signal.SIGTERM)
        else:
            self.server.should_exit = True  # type: ignore[attr-defined]
        time.sleep(ORPHAN_GRACE_SECONDS)
        os._exit(0)
