"""A throw-away ``prefect server start`` on loopback, and flow runs in subprocesses against it.

Everything runs in its own process group with its own ``PREFECT_HOME``, so the test session's other
Prefect state (the isolated home set up by ``tests/conftest.py``, an ephemeral server) is untouched,
and stopping kills the whole group: no orphaned uvicorn workers.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

#: Variables that would point a child process at some other Prefect API, profile or database.
_FOREIGN_PREFECT_VARS = (
    "PREFECT_API_URL",
    "PREFECT_API_KEY",
    "PREFECT_PROFILES_PATH",
    "PREFECT_PROFILE",
    "PREFECT_SERVER_DATABASE_CONNECTION_URL",
    "PREFECT_API_DATABASE_CONNECTION_URL",
    "PREFECT_UI_API_URL",
    "PREFECT_UI_URL",
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The current environment minus foreign Prefect settings, with ``PREFECT_HOME=home``."""
    env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_PREFECT_VARS}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PYTHONUNBUFFERED="1",
        NO_COLOR="1",
    )
    env.update(extra)
    return env


def stop_group(proc: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM the process group of ``proc`` (started with a new session), then SIGKILL it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    # The leader may be gone while children linger: always sweep the group.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.wait(timeout=10)


class PrefectServer:
    """``prefect server start --host 127.0.0.1 --port <free>`` with a private home directory.

    Use as a context manager; ``url`` is the UI's base and ``api_url`` the API's.
    """

    def __init__(self, home: Path, log_path: Path, startup_timeout: float = 120.0) -> None:
        self.home = home
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_url = f"{self.url}/api"
        self.proc: subprocess.Popen | None = None
        self.startup_seconds = 0.0

    def env(self, **extra: str) -> dict[str, str]:
        """An environment for a client process of this server (its own home, this API)."""
        return clean_env(self.home / "client", PREFECT_API_URL=self.api_url, **extra)

    def __enter__(self) -> PrefectServer:
        self.home.mkdir(parents=True, exist_ok=True)
        prefect = Path(sys.executable).with_name("prefect")
        cmd = [str(prefect)] if prefect.exists() else [sys.executable, "-m", "prefect"]
        cmd += ["server", "start", "--host", "127.0.0.1", "--port", str(self.port)]
        started = time.monotonic()
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in __exit__
        self.proc = subprocess.Popen(
            cmd,
            env=clean_env(
                self.home / "server",
                # The UI is told where the API is; without this it calls 127.0.0.1:4200.
                PREFECT_UI_API_URL=self.api_url,
                # No "try Prefect Cloud" banners over the screenshots.
                PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT="false",
            ),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_healthy(started)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def _wait_healthy(self, started: float) -> None:
        assert self.proc is not None
        while time.monotonic() - started < self.startup_timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prefect server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as reply:
                    if reply.status == 200 and json.loads(reply.read() or b"false") is True:
                        return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            time.sleep(0.25)
        raise TimeoutError(
            f"prefect server on {self.url} not healthy after {self.startup_timeout:.0f} s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            stop_group(self.proc)
        if getattr(self, "_log", None) is not None:
            self._log.close()


def run_in_subprocess(
    cmd: list[str], env: dict[str, str], log_path: Path, timeout: float, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """Run ``cmd`` in its own process group, output to ``log_path``; kill the group on timeout."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=timeout)
        finally:
            stop_group(proc, grace=5)  # on timeout, and to sweep anything the run left behind
    return subprocess.CompletedProcess(cmd, proc.returncode)
