"""The shared services of the multi-host tests, each in its own process group.

* :class:`PrefectServer`: ``prefect server start`` on loopback, on a PostgreSQL database.
* :class:`EmulatorProcess`: ``prefect-jsoc emulator`` (the JSOC emulator as a separate process, as the
  real JSOC is for every host), with its control API (``/_emulator/stats``, ``/_emulator/log``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from ._processes import base_env, free_port, prefect_command, stop_group, wait_until

__all__ = ["EXPORT_DELAY", "EmulatorProcess", "MAX_PENDING_PER_EMAIL", "PrefectServer", "REPOSSESSOR_LOOP_SECONDS"]

#: Staging time of every export at the test emulator, in seconds.
EXPORT_DELAY = 3.0
#: JSOC's rule, kept by the test emulator: one pending export per e-mail (more get status 7).
MAX_PENDING_PER_EMAIL = 1

#: How often the test server frees the concurrency-slot leases of crashed holders (Prefect: 15 s).
REPOSSESSOR_LOOP_SECONDS = 2


def _get(url: str, timeout: float = 10.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return reply.read()


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class PrefectServer:
    """``prefect server start --host 127.0.0.1 --port <free>`` on ``database_url``; a context manager.

    Its own ``PREFECT_HOME``; analytics, UI and scheduler off (nothing here is scheduled, and
    scheduled runs of ``deployments/prefect.yaml`` must not start during a test); the repossessor
    runs every :data:`REPOSSESSOR_LOOP_SECONDS` s.

    Attributes:
        api_url: ``http://127.0.0.1:<port>/api``, the ``PREFECT_API_URL`` of every host.
        log_path: The server's combined stdout and stderr.
        startup_seconds: Time from launch to a healthy ``/api/health``.
    """

    def __init__(self, database_url: str, home: Path, log_path: Path, startup_timeout: float = 180.0) -> None:
        self.database_url = database_url
        self.home = home
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.startup_seconds = 0.0
        self._proc: subprocess.Popen | None = None
        self._log: Any = None
        self._started_at = 0.0

    def __enter__(self) -> PrefectServer:
        self.start()
        self.wait_ready()
        return self

    def start(self) -> None:
        """Launch the server without waiting for it (see :meth:`wait_ready`)."""
        self.home.mkdir(parents=True, exist_ok=True)
        env = base_env(
            HOME=str(self.home),
            TMPDIR=str(self.home),
            PREFECT_HOME=str(self.home / "prefect"),
            PREFECT_SERVER_DATABASE_CONNECTION_URL=self.database_url,
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_SERVER_UI_ENABLED="false",
            PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
            PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS=str(REPOSSESSOR_LOOP_SECONDS),
        )
        self._started_at = time.monotonic()
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in __exit__
        self._proc = subprocess.Popen(
            [*prefect_command(), "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            cwd=self.home,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self) -> None:
        """Wait until ``/api/health`` answers (the database is migrated by then); stop it on failure."""
        try:
            wait_until(self._healthy, self.startup_timeout, f"the Prefect server on {self.api_url}", 0.5)
        except BaseException as exc:
            self.__exit__(None, None, None)
            raise RuntimeError(f"{exc}\n--- server log ---\n{_log_tail(self.log_path)}") from exc
        self.startup_seconds = time.monotonic() - self._started_at

    def _healthy(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise RuntimeError(f"prefect server exited with {self._proc.returncode}")
        try:
            return json.loads(_get(f"{self.api_url}/health", timeout=2) or b"false") is True
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's log (for failure messages)."""
        return _log_tail(self.log_path, lines)

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            stop_group(self._proc, grace=15)
        if self._log is not None:
            self._log.close()


class EmulatorProcess:
    """``prefect-jsoc emulator --port 0 ...`` in its own process group; a context manager.

    Attributes:
        url: The emulator's base URL (what ``PREFECT_JSOC_SERVER_URL`` points at).
        export_delay: Seconds until a staged export completes (the staging time).
    """

    def __init__(
        self, workdir: Path, *, export_delay: float = 3.0, max_pending_per_email: int = 1, startup_timeout: float = 60.0
    ) -> None:
        self.workdir = workdir
        self.export_delay = export_delay
        self.max_pending_per_email = max_pending_per_email
        self.startup_timeout = startup_timeout
        self.url = ""
        self.log_path = workdir / "emulator.log"
        self._stdout_path = workdir / "emulator.out"
        self._proc: subprocess.Popen | None = None
        self._files: list[Any] = []

    def __enter__(self) -> EmulatorProcess:
        self.start()
        self.wait_ready()
        return self

    def start(self) -> None:
        """Launch the emulator without waiting for it (see :meth:`wait_ready`)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        cli = Path(sys.executable).with_name("prefect-jsoc")
        cmd = [str(cli)] if cli.exists() else [sys.executable, "-m", "prefect_jsoc.cli"]
        cmd += [
            "emulator",
            "--port",
            "0",
            "--export-delay",
            str(self.export_delay),
            "--max-pending-per-email",
            str(self.max_pending_per_email),
            "--data-dir",
            str(self.workdir / "data"),
        ]
        out, err = open(self._stdout_path, "w"), open(self.log_path, "w")  # noqa: SIM115 - closed in __exit__
        self._files = [out, err]
        self._proc = subprocess.Popen(
            cmd,
            env=base_env(HOME=str(self.workdir), TMPDIR=str(self.workdir)),
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )

    def wait_ready(self) -> None:
        """Wait until the emulator prints its URL; stop it on failure."""
        try:
            self.url = wait_until(self._announced_url, self.startup_timeout, "the emulator's URL", 0.1)
        except BaseException as exc:
            self.__exit__(None, None, None)
            raise RuntimeError(f"{exc}\n--- emulator log ---\n{_log_tail(self.log_path)}") from exc

    def reset(self) -> None:
        """``POST /_emulator/reset?exports=1``: zero the stats, clear the log, forget every export."""
        request = urllib.request.Request(self.url.rstrip("/") + "/_emulator/reset?exports=1", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def _announced_url(self) -> str | None:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise RuntimeError(f"the emulator exited with {self._proc.returncode}")
        first = self._stdout_path.read_text().split("\n", 1)
        return first[0].strip() if len(first) == 2 and first[0].startswith("http") else None

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            stop_group(self._proc, grace=10)
        for handle in self._files:
            handle.close()

    # -- the control API --------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """``GET /_emulator/stats``: request counts, exports, status replies, pending exports."""
        return json.loads(_get(self.url.rstrip("/") + "/_emulator/stats"))

    def log(self) -> list[dict[str, Any]]:
        """``GET /_emulator/log``: every request (``kind``, ``what``, ``t``, ``fault``), oldest first."""
        return json.loads(_get(self.url.rstrip("/") + "/_emulator/log"))

    def fetch(self, path: str) -> bytes:
        """The bytes the emulator serves at ``path`` (e.g. a file path seen in its log)."""
        return _get(self.url.rstrip("/") + path, timeout=30)

    def export_status(self, request_id: str) -> dict[str, Any]:
        """``jsoc_fetch?op=exp_status`` for ``request_id`` (a complete export's ``index.json``)."""
        query = urllib.parse.urlencode({"op": "exp_status", "requestid": request_id})
        return json.loads(_get(f"{self.url.rstrip('/')}/cgi-bin/ajax/jsoc_fetch?{query}"))

    def record_count(self, recordset: str) -> int:
        """How many records ``recordset`` selects (``jsoc_info?op=rs_summary``)."""
        query = urllib.parse.urlencode({"op": "rs_summary", "ds": recordset})
        return int(json.loads(_get(f"{self.url.rstrip('/')}/cgi-bin/ajax/jsoc_info?{query}"))["count"])
