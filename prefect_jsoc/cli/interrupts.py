"""Ctrl-C and SIGTERM for the long-running commands: teardown, a grace period, exit code 128 + signal."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["INTERRUPT_GRACE_SECONDS", "Interrupts", "interrupted_message", "termination_signal"]

#: After the first Ctrl-C or SIGTERM the command tears down its flow run and its Prefect server; if that
#: takes longer than this, it exits anyway (the server follows within a second: it watches its parent).
INTERRUPT_GRACE_SECONDS = 10.0


class Interrupts:
    """How the long-running commands stop on Ctrl-C and SIGTERM.

    The first signal becomes ``KeyboardInterrupt`` in the main thread, so the flow run and the local
    Prefect server are torn down; the exit code is 128 + the signal. While a flow runs, Prefect's
    own SIGTERM handler is in place (it raises ``TerminationSignal``, to the same effect). Whichever
    handler runs, a watcher thread sees every signal through the wake-up fd: from the first one on,
    a teardown slower than :data:`INTERRUPT_GRACE_SECONDS` ends the process at once, and so does a
    second Ctrl-C.
    """

    def __init__(self) -> None:
        self.signal: int | None = None
        self._raised = False
        self._sigints = 0
        self._lock = threading.Lock()
        self._watchdog: threading.Timer | None = None

    @property
    def exit_code(self) -> int:
        return 128 + (self.signal or signal.SIGINT)

    def handle(self, signum: int, frame: Any) -> None:
        """The Python-level handler: interrupt the main thread, once."""
        self._arm(signum)
        if not self._raised:
            self._raised = True
            raise KeyboardInterrupt

    def _arm(self, signum: int) -> None:
        """Remember the first signal and start the watchdog (idempotent)."""
        with self._lock:
            if self.signal is not None:
                return
            self.signal = signum
            self._watchdog = threading.Timer(INTERRUPT_GRACE_SECONDS, self._exit_now)
            self._watchdog.daemon = True
            self._watchdog.start()

    def _exit_now(self) -> None:
        sys.stderr.write(f"error: {interrupted_message(self.signal)}\n")
        sys.stderr.flush()
        if "prefect_jsoc.local_server" in sys.modules:
            sys.modules["prefect_jsoc.local_server"].terminate_running_servers()
        os._exit(self.exit_code)

    def _watch(self, read_fd: int) -> None:
        while True:
            try:
                data = os.read(read_fd, 64)
            except OSError:
                return
            if not data:
                return
            for signum in data:
                if signum in (signal.SIGINT, signal.SIGTERM):
                    self._arm(signum)
                # Only a second Ctrl-C counts: Prefect re-sends a SIGTERM it handled to the previous handler.
                if signum == signal.SIGINT:
                    self._sigints += 1
                    if self._sigints >= 2:
                        self._exit_now()

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Install the handlers and the watcher (main thread only; elsewhere a no-op)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        saved_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        saved = {s: signal.signal(s, self.handle) for s in (signal.SIGINT, signal.SIGTERM)}
        watcher = threading.Thread(target=self._watch, args=(read_fd,), name="prefect-jsoc-signals", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            for signum, handler in saved.items():
                signal.signal(signum, handler)
            try:
                signal.set_wakeup_fd(saved_fd)
            except (OSError, ValueError):
                # Its owner closed it meanwhile (an event loop collected from another thread cannot
                # unset it): put back none rather than fail a command that has finished its work.
                signal.set_wakeup_fd(-1)
            os.close(write_fd)  # the watcher reads EOF and ends
            watcher.join(timeout=1)
            os.close(read_fd)
            if self._watchdog is not None:  # the teardown finished in time
                self._watchdog.cancel()


def interrupted_message(signum: int | None) -> str:
    """The error line of an interrupted command: which signal, and that re-running resumes."""
    name = signal.Signals(signum).name if signum else "SIGINT"
    return f"interrupted ({name}); re-run the same command to resume where it stopped."


def termination_signal() -> type[BaseException]:
    """Prefect's exception for a SIGTERM received while a flow runs."""
    try:
        from prefect.exceptions import TerminationSignal
    except ImportError:  # pragma: no cover - older Prefect
        return KeyboardInterrupt
    return TerminationSignal
