"""Process plumbing for the multi-host tests: ports, environments, process groups, bounded waits."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

__all__ = ["base_env", "free_port", "kill_group", "prefect_command", "stop_group", "wait_until"]

T = TypeVar("T")

#: Variables a child must not inherit from the test process: its home and temporary directory are
#: its own, and no Prefect or prefect-jsoc setting leaks in unless a fixture sets it on purpose.
_PRIVATE_VARS = ("HOME", "TMPDIR", "TMP", "TEMP", "PWD", "OLDPWD")
_PRIVATE_PREFIXES = ("PREFECT_", "XDG_")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(**values: str) -> dict[str, str]:
    """The test process's environment without homes, temporary dirs or ``PREFECT_*``, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if k not in _PRIVATE_VARS and not k.startswith(_PRIVATE_PREFIXES)}
    env.update(PYTHONUNBUFFERED="1", NO_COLOR="1", PARFIVE_HIDE_PROGRESS="1")
    env.update(values)
    return env


def prefect_command() -> list[str]:
    """How to run the ``prefect`` CLI of this interpreter's environment."""
    prefect = Path(sys.executable).with_name("prefect")
    return [str(prefect)] if prefect.exists() else [sys.executable, "-m", "prefect"]


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to the process group led by ``proc`` (started with ``start_new_session=True``)."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the process group of ``proc``, wait up to ``grace`` s, then SIGKILL whatever is left."""
    if proc.poll() is None:
        kill_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    kill_group(proc, signal.SIGKILL)  # the leader may be gone while its children linger
    if proc.poll() is None:
        proc.wait(timeout=10)


def wait_until(condition: Callable[[], T], timeout: float, what: str, interval: float = 0.2) -> T:
    """Poll ``condition`` until it returns something truthy; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
