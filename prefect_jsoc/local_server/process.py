"""The local server's child process as its owner sees it: launch, wait until it answers, stop."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from prefect_jsoc.errors import LocalServerError
from prefect_jsoc.local_server.environment import default_startup_timeout, server_process_environment
from prefect_jsoc.local_server.state_files import LOG_FILE, read_port

__all__ = ["LocalPrefectServer", "terminate_running_servers"]


_running: set[LocalPrefectServer] = set()


def terminate_running_servers() -> None:
    """Ask every local server of this process to shut down, without waiting (for an emergency exit)."""
    for server in list(_running):
        process = server.process
        if process is not None and process.poll() is None:
            process.terminate()
        if server.state_dir is not None:
            shutil.rmtree(server.state_dir, ignore_errors=True)


class LocalPrefectServer:
    """A Prefect API server in a child process that exits when this process exits, however it exits.

    Args:
        startup_timeout: Seconds to wait for the server to answer; default
            ``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS``.
        stop_timeout: Seconds a stopping server may take to shut down gracefully before it is killed.

    Example:
        ```python
        with LocalPrefectServer() as server:
            print(server.api_url)   # http://127.0.0.1:<port>/api
        ```
    """

    def __init__(self, startup_timeout: float | None = None, stop_timeout: float = 10.0) -> None:
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.state_dir: Path | None = None
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._deadline = (0.0, 0.0)

    @property
    def api_url(self) -> str:
        """The server's API URL (known once :meth:`start` has seen the server bind its port)."""
        if self.port is None:
            raise LocalServerError("The local Prefect API server has not been started.")
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def log_path(self) -> Path | None:
        """Where the server process writes its output."""
        return self.state_dir / LOG_FILE if self.state_dir else None

    def start(self) -> None:
        """Start the server process and wait until its API answers.

        Raises:
            LocalServerError: When the server exits or does not answer within the start-up timeout.
        """
        self.launch()
        self.wait_until_ready()

    def launch(self) -> None:
        """Start the server process without waiting for it (see :meth:`wait_until_ready`)."""
        timeout = self.startup_timeout if self.startup_timeout is not None else default_startup_timeout()
        self._deadline = (time.monotonic() + timeout, timeout)
        self.state_dir = Path(tempfile.mkdtemp(prefix="prefect-jsoc-server-"))
        env = server_process_environment()
        command = [
            sys.executable,
            "-m",
            "prefect_jsoc.local_server",
            "--parent-pid",
            str(os.getpid()),
            "--state-dir",
            str(self.state_dir),
        ]
        # The kernel's parent-death signal follows the thread that started the child, so ask for it
        # only from the main thread, which lives as long as the process.
        if threading.current_thread() is threading.main_thread():
            command.append("--die-with-parent-thread")
        with open(self.state_dir / LOG_FILE, "wb") as log:
            # A session of its own: Ctrl-C at the terminal (or `timeout`'s signal to the process group)
            # reaches only the command, which then stops the server after tearing down its runs.
            self.process = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )
        _running.add(self)

    def wait_until_ready(self) -> None:
        """Wait until the launched server's API answers; if it does not, stop it (keeping its log).

        Raises:
            LocalServerError: When the server exits or does not answer within the start-up timeout.
        """
        deadline, timeout = self._deadline
        try:
            self._wait_until_ready(deadline, timeout)
        except LocalServerError:
            self.stop(keep_log=True)
            raise
        except BaseException:  # interrupted
            self.stop()
            raise

    def _wait_until_ready(self, deadline: float, timeout: float) -> None:
        assert self.process is not None and self.state_dir is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LocalServerError(
                    f"The local Prefect API server exited with code {self.process.returncode} while starting"
                    f"{self._log_hint()}"
                )
            if self.port is None:
                self.port = read_port(self.state_dir)
            if self.port is not None and self._healthy():
                return
            time.sleep(0.1)
        raise LocalServerError(
            f"The local Prefect API server did not start within {timeout:g} s; raise "
            f"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS or set PREFECT_API_URL to a running server"
            f"{self._log_hint()}"
        )

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def _log_hint(self) -> str:
        path = self.log_path
        if path is None or not path.exists():
            return "."
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
        last = f" (last line: {lines[-1].strip()[:200]})" if lines else ""
        return f"; its log is {path}{last}."

    def stop(self, keep_log: bool = False) -> None:
        """Stop the server (gracefully, then by force after ``stop_timeout``) and remove its files.

        Args:
            keep_log: Keep the state directory with the server's log (used when start-up failed).
        """
        _running.discard(self)
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.state_dir is not None and not keep_log:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> LocalPrefectServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
