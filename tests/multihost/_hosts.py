"""Simulated hosts: processes that share only the Prefect API, the JSOC server and the e-mail.

Each :class:`Host` has its own ``HOME``, ``PREFECT_HOME`` (so its own result store and cache),
``TMPDIR``, former state directory (``PREFECT_JSOC_STATE_DIR``) and download directory, exactly as
two machines would. A fetch runs ``_host_fetch.py`` in a new process group, so killing the group
with SIGKILL takes the whole host down at once, as a power cut would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._processes import base_env, kill_group, prefect_command, stop_group, wait_until

__all__ = ["FetchReport", "Host", "HostRun", "HOST_SCRIPT"]

HOST_SCRIPT = Path(__file__).with_name("_host_fetch.py")
#: Longest a host may take to import prefect and prefect_jsoc (a loaded 2-core machine is slow).
READY_TIMEOUT = 90.0


@dataclass
class FetchReport:
    """The ``RESULT`` line of one host's fetch, plus what the test measured around it."""

    ok: bool
    blocks: list[dict[str, Any]]
    elapsed_seconds: float
    wall_seconds: float
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def files(self) -> list[Path]:
        """Every file the fetch reported, over all blocks."""
        return [Path(p) for b in self.blocks for p in b["files"]]

    @property
    def request_ids(self) -> set[str]:
        """The distinct JSOC request ids of the blocks (packed blocks share one)."""
        return {b["request_id"] for b in self.blocks if b["request_id"]}


class HostRun:
    """One fetch on one host: started, READY (imports done), then released with :meth:`go`."""

    def __init__(self, host: Host, name: str, blocks: list[dict[str, Any]]) -> None:
        self.host = host
        self.name = name
        self.out_path = host.root / f"{name}.out"
        self.err_path = host.root / f"{name}.err"
        self.download_dir = host.data / name
        self._out = open(self.out_path, "w")  # noqa: SIM115 - closed in close()
        self._err = open(self.err_path, "w")  # noqa: SIM115
        self.launched_at = time.monotonic()
        self.ready_seconds: float | None = None
        self.proc = subprocess.Popen(
            [sys.executable, str(HOST_SCRIPT), str(self.download_dir), json.dumps(blocks)],
            env=host.env,
            cwd=host.root,
            stdin=subprocess.PIPE,
            stdout=self._out,
            stderr=self._err,
            text=True,
            start_new_session=True,
        )
        self.go_at: float | None = None

    def _lines(self) -> list[str]:
        return self.out_path.read_text(errors="replace").splitlines()

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Wait until the host has imported everything and waits for "go"."""

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"host {self.host.name} exited with {self.proc.returncode}:\n{self.stderr_tail()}")
            return "READY" in self._lines()

        wait_until(ready, timeout, f"host {self.host.name} to be ready")
        self.ready_seconds = time.monotonic() - self.launched_at

    def go(self) -> None:
        """Start the fetch."""
        assert self.proc.stdin is not None
        self.go_at = time.monotonic()
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def wait(self, timeout: float) -> FetchReport:
        """Wait for the fetch's result line (the process then exits)."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TimeoutError(
                f"host {self.host.name}'s fetch did not finish within {timeout:.0f} s:\n{self.stderr_tail()}"
            ) from None
        finally:
            self.close()
        lines = [line for line in self._lines() if line.startswith("RESULT ")]
        if not lines:
            raise RuntimeError(
                f"host {self.host.name} exited with {self.proc.returncode} and no RESULT line:\n{self.stderr_tail()}"
            )
        doc = json.loads(lines[-1][len("RESULT ") :])
        return FetchReport(doc["ok"], doc["blocks"], doc["elapsed_seconds"], doc["wall_seconds"], doc)

    def kill(self) -> None:
        """SIGKILL the host's whole process group and reap it."""
        kill_group(self.proc, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.close()

    def stderr_tail(self, lines: int = 40) -> str:
        """The last lines the host wrote to stderr (Prefect's console log goes there)."""
        try:
            return "\n".join(self.err_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def close(self) -> None:
        """Close the host's pipes and files (idempotent)."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        self._out.close()
        self._err.close()


class Host:
    """A simulated machine: private directories, and the shared settings of every host.

    Attributes:
        name: ``host-a``, ``host-b``, ...
        root: Its directory; ``home``, ``prefect-home``, ``tmp``, ``state`` and ``data`` are below it.
        env: The environment of its processes.
    """

    def __init__(self, name: str, root: Path, shared: dict[str, str]) -> None:
        self.name = name
        self.root = root
        self.data = root / "data"
        dirs = {d: root / d for d in ("home", "prefect-home", "tmp", "state")}
        for path in (*dirs.values(), self.data):
            path.mkdir(parents=True, exist_ok=True)
        self.env = base_env(
            HOME=str(dirs["home"]),
            PREFECT_HOME=str(dirs["prefect-home"]),
            TMPDIR=str(dirs["tmp"]),
            PREFECT_JSOC_STATE_DIR=str(dirs["state"]),
            **shared,
        )
        self.runs: list[HostRun] = []
        self.background: list[subprocess.Popen] = []

    def fetch(self, blocks: list[dict[str, Any]], name: str | None = None) -> HostRun:
        """Start a fetch of ``blocks`` (``JsocQuery`` keyword dicts); it waits for :meth:`HostRun.go`."""
        run = HostRun(self, name or f"fetch-{len(self.runs) + 1}", blocks)
        self.runs.append(run)
        return run

    def start_worker(self, pool: str, name: str, limit: int) -> tuple[subprocess.Popen, Path]:
        """Start ``prefect worker start`` for ``pool`` on this host; returns the process and its log."""
        log_path = self.root / f"{name}.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [
                    *prefect_command(),
                    "worker",
                    "start",
                    "--pool",
                    pool,
                    "--type",
                    "process",
                    "--name",
                    name,
                    "--limit",
                    str(limit),
                ],
                env={**self.env, "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_HEARTBEAT_SECONDS": "5"},
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.background.append(proc)
        return proc, log_path

    def shutdown(self) -> None:
        """Kill every process this host started that is still running, flow runs of its workers included."""
        for run in self.runs:
            if run.proc.poll() is None:
                kill_group(run.proc, signal.SIGKILL)
                run.proc.wait(timeout=30)
            run.close()
        for proc in self.background:
            # A worker starts each flow run in a new process group: kill those first, by pid.
            for pid in _descendants(proc.pid):
                for kill in (os.killpg, os.kill):
                    try:
                        kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
            stop_group(proc, grace=3)


def _descendants(pid: int) -> list[int]:
    """The pids of every living descendant of ``pid`` (Linux ``/proc``)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
