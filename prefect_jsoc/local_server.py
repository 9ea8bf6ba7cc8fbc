"""A Prefect API server owned by one process: it starts with a command and goes when the command goes.

When no ``PREFECT_API_URL`` is configured, Prefect starts a temporary API server of its own for each
process. That server outlives a killed parent (nothing watches it), and it runs no background
services, so the **repossessor** never frees the slot of a holder that died: JSOC's limits are
Prefect global concurrency limits held as leases (see :mod:`prefect_jsoc.limits`), and a leaked lease
would block every later run. :class:`LocalPrefectServer` replaces it for the ``prefect-jsoc``
command:

* it listens on 127.0.0.1 on a free port, without UI or analytics, on the usual ``$PREFECT_HOME``
  database, so its runs show up later in ``prefect server start``;
* it runs the server's services in non-ephemeral mode with the repossessor every
  :data:`REPOSSESSOR_LOOP_SECONDS` and leases kept on disk, so a lease leaked by a killed run is
  freed by the next run's server; services a one-command server does not need are off;
* it exits by itself when its parent dies, SIGKILL included: the child process (this module run
  with ``python -m``) polls its parent's pid and, on Linux, also asks the kernel for a SIGTERM when
  the parent goes (``prctl(PR_SET_PDEATHSIG)``).

Example:
    ```python
    from prefect_jsoc.local_server import local_prefect_api

    with local_prefect_api() as api_url:   # the configured server, or a local one started here
        ...                                 # flows run against api_url
    ```
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from prefect_jsoc.errors import LocalServerError  # re-exported: its home was this module

__all__ = [
    "LocalPrefectServer",
    "LocalServerError",
    "REPOSSESSOR_LOOP_SECONDS",
    "configured_api_url",
    "local_prefect_api",
    "terminate_running_servers",
]

#: How often the local server's repossessor frees expired concurrency leases.
REPOSSESSOR_LOOP_SECONDS = 5
#: How often the server checks that its parent is still alive.
PARENT_POLL_SECONDS = 0.5
#: How long a server whose parent died may take to shut down before it exits hard.
ORPHAN_GRACE_SECONDS = 10.0
#: Default start-up timeout when ``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS`` is unset.
DEFAULT_STARTUP_TIMEOUT = 120.0

_STATE_FILE = "server.json"
_LOG_FILE = "server.log"
_PR_SET_PDEATHSIG = 1

#: Settings of the server process. Prefect reads them when it is imported, so they go in its environment.
SERVER_ENVIRONMENT = {
    "PREFECT_UI_ENABLED": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    # Leases on disk, so the next run's server sees (and frees) a lease leaked by a killed run.
    "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect.server.concurrency.lease_storage.filesystem",
    "PREFECT_SERVER_SERVICES_REPOSSESSOR_ENABLED": "true",
    "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": str(REPOSSESSOR_LOOP_SECONDS),
    # A server that lives for one command schedules nothing and watches no workers.
    "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_FOREMAN_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_ENABLED": "false",
}
#: Variables of the parent that must not reach the server process.
_DROPPED_VARIABLES = ("PREFECT_API_URL", "PREFECT__SERVER_EPHEMERAL", "PREFECT__SERVER_WEBSERVER_ONLY")


_running: set[LocalPrefectServer] = set()


def terminate_running_servers() -> None:
    """Ask every local server of this process to shut down, without waiting (for an emergency exit)."""
    for server in list(_running):
        process = server.process
        if process is not None and process.poll() is None:
            process.terminate()
        if server.state_dir is not None:
            shutil.rmtree(server.state_dir, ignore_errors=True)


def configured_api_url() -> str | None:
    """The Prefect API URL configured for this process (environment or profile), or ``None``."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or None


def _startup_timeout() -> float:
    """``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS`` from the environment or the profile, else 120 s."""
    from prefect.settings import get_current_settings

    variable = os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "").strip()
    if variable:  # read now: Prefect read its settings when it was imported, perhaps before this was set
        try:
            return float(variable)
        except ValueError as exc:
            raise LocalServerError(
                f"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS={variable!r} is not a number of seconds."
            ) from exc
    ephemeral = get_current_settings().server.ephemeral
    if "startup_timeout_seconds" in ephemeral.model_fields_set:
        return float(ephemeral.startup_timeout_seconds)
    return DEFAULT_STARTUP_TIMEOUT


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
        return self.state_dir / _LOG_FILE if self.state_dir else None

    def start(self) -> None:
        """Start the server process and wait until its API answers.

        Raises:
            LocalServerError: When the server exits or does not answer within the start-up timeout.
        """
        self.launch()
        self.wait_until_ready()

    def launch(self) -> None:
        """Start the server process without waiting for it (see :meth:`wait_until_ready`)."""
        timeout = self.startup_timeout if self.startup_timeout is not None else _startup_timeout()
        self._deadline = (time.monotonic() + timeout, timeout)
        self.state_dir = Path(tempfile.mkdtemp(prefix="prefect-jsoc-server-"))
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED_VARIABLES}
        env.update(SERVER_ENVIRONMENT)
        command = [
            sys.executable, "-m", "prefect_jsoc.local_server",
            "--parent-pid", str(os.getpid()), "--state-dir", str(self.state_dir),
        ]
        # The kernel's parent-death signal follows the thread that started the child, so ask for it
        # only from the main thread, which lives as long as the process.
        if threading.current_thread() is threading.main_thread():
            command.append("--die-with-parent-thread")
        with open(self.state_dir / _LOG_FILE, "wb") as log:
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
        state_file = self.state_dir / _STATE_FILE
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LocalServerError(
                    f"The local Prefect API server exited with code {self.process.returncode} while starting"
                    f"{self._log_hint()}"
                )
            if self.port is None and state_file.exists():
                self.port = int(json.loads(state_file.read_text())["port"])
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


@contextlib.contextmanager
def _api_url_for_this_process(api_url: str) -> Iterator[None]:
    """Point this process's Prefect client at ``api_url`` (threads included), then restore everything.

    Links to the UI ("View at ...") point where ``prefect server start`` serves it, since the local
    server has no UI and is gone after the command; the runs are in the same database.
    """
    import prefect.context
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, get_current_settings, temporary_settings

    updates: dict[object, str] = {PREFECT_API_URL: api_url}
    settings = get_current_settings()
    if "ui_url" not in settings.model_fields_set:
        updates[PREFECT_UI_URL] = f"http://{settings.server.api.host}:{settings.server.api.port}"
    saved = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = api_url  # for any subprocess started meanwhile
    try:
        with temporary_settings(updates=updates):  # type: ignore[arg-type]
            # New threads start with an empty contextvars context and read the global settings
            # context, so replace that too (as Prefect's own test harness does).
            saved_global = prefect.context.GLOBAL_SETTINGS_CONTEXT
            prefect.context.GLOBAL_SETTINGS_CONTEXT = prefect.context.get_settings_context()
            try:
                yield
            finally:
                prefect.context.GLOBAL_SETTINGS_CONTEXT = saved_global
    finally:
        if saved is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = saved


def drain_prefect_workers(timeout: float = 5.0) -> None:
    """Send the logs and events Prefect still holds in memory to the API, waiting at most ``timeout``."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):
            worker.drain_all(timeout=timeout, at_exit=False)


@contextlib.contextmanager
def local_prefect_api(
    startup_timeout: float | None = None, while_starting: Callable[[], object] | None = None
) -> Iterator[str]:
    """Use the configured Prefect API, or run a :class:`LocalPrefectServer` for the duration of the block.

    While the block runs, this process (and only this process and its children) talks to the local
    server; Prefect's logs and events are flushed to it before it stops.

    Args:
        startup_timeout: Seconds to wait for a local server; default
            ``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS``.
        while_starting: Work to do while the server starts (for example slow imports); it runs in
            any case, before the block.

    Yields:
        The API URL in use.

    Raises:
        LocalServerError: When a local server was needed and did not start.
    """
    configured = configured_api_url()
    if configured:
        if while_starting is not None:
            while_starting()
        yield configured
        return
    server = LocalPrefectServer(startup_timeout=startup_timeout)
    server.launch()
    try:
        if while_starting is not None:
            while_starting()
    except BaseException:
        server.stop()
        raise
    server.wait_until_ready()  # on failure it stops the server itself, keeping the server's log
    try:
        with _api_url_for_this_process(server.api_url):
            try:
                yield server.api_url
            finally:
                drain_prefect_workers()
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------------
# The server process: ``python -m prefect_jsoc.local_server --parent-pid PID --state-dir DIR``
# ---------------------------------------------------------------------------------------------------


def _ask_kernel_for_sigterm_on_parent_death() -> None:
    """Linux only: have the kernel send SIGTERM when the thread that started us exits."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class _ParentWatch(threading.Thread):
    """Stops the server once the parent is gone, and exits hard if that takes too long."""

    def __init__(self, parent_pid: int) -> None:
        super().__init__(name="prefect-jsoc-parent-watch", daemon=True)
        self.parent_pid = parent_pid
        self.server: object | None = None  # the uvicorn.Server, once it exists

    def parent_alive(self) -> bool:
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


def _write_state(state_dir: Path, port: int) -> None:
    data = {"pid": os.getpid(), "parent_pid": os.getppid(), "port": port}
    partial = state_dir / f".{_STATE_FILE}.tmp"
    partial.write_text(json.dumps(data))
    partial.replace(state_dir / _STATE_FILE)


def serve(parent_pid: int, state_dir: Path, die_with_parent_thread: bool = False) -> None:
    """Run the API server until told to stop or until ``parent_pid`` is no longer our parent.

    Args:
        parent_pid: The pid of the process that owns the server.
        state_dir: Where to write ``server.json`` (pid and port) once the port is bound.
        die_with_parent_thread: Also ask the kernel for SIGTERM when the parent's starting thread exits.
    """
    # SIGTERM ends the process through SystemExit, so the clean-up below runs (uvicorn re-sends a
    # SIGTERM it handled to this handler once it has shut down).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    watch = _ParentWatch(parent_pid)
    try:
        if die_with_parent_thread:
            _ask_kernel_for_sigterm_on_parent_death()
        if not watch.parent_alive():  # the parent died before the kernel could be asked to tell us
            return
        watch.start()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(2048)
        _write_state(state_dir, sock.getsockname()[1])

        import uvicorn
        from prefect.server.api.server import create_app

        config = uvicorn.Config(
            create_app(final=True), lifespan="on", log_level="error", timeout_graceful_shutdown=5
        )
        server = uvicorn.Server(config)
        watch.server = server
        server.run(sockets=[sock])
    finally:
        if not watch.parent_alive():  # nobody else will clean up after us
            shutil.rmtree(state_dir, ignore_errors=True)


def _main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A Prefect API server that exits with its parent process.")
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--die-with-parent-thread", action="store_true")
    args = parser.parse_args(argv)
    try:
        serve(args.parent_pid, args.state_dir, args.die_with_parent_thread)
    except SystemExit:
        pass
    # The server has shut down and closed its database; skip the interpreter's teardown of a large
    # heap (seconds of garbage collection) so that the command waiting for us can exit at once.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    _main()
