"""The bench's environment: the emulator in its own process, fresh directories, worker processes.

* :class:`EmulatorProcess` runs ``python -m prefect_jsoc.emulator`` in a child process, so the
  emulator never competes with the code under test for the GIL, and talks to it over its control
  API (``/_emulator/stats``, ``/_emulator/reset``, ``/_emulator/config``).
* :class:`BenchContext` owns the bench's temporary root, the Prefect API URL of the one test
  harness the bench process starts, and hands out fresh directories.
* :func:`run_worker` runs one measured contender in a child process (``python -m bench._worker``)
  with its own environment (its own ``PREFECT_HOME`` and, as the scenarios choose, its own Prefect
  result storage), and returns the JSON the worker wrote. Workers time themselves, so interpreter
  start and imports are excluded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BenchContext", "EmulatorProcess", "WorkerError", "drms_server_config", "run_worker", "run_workers_together"]

REPO = Path(__file__).resolve().parent.parent
EMAIL = "bench@example.org"  # every address at example.org counts as registered on the emulator

# knobs the emulator's command line accepts; the others are set through /_emulator/config
_CLI_KNOBS = {
    "export_delay",
    "latency",
    "fail_rate",
    "truncate_rate",
    "drop_rate",
    "status4_rate",
    "throttle_rate",
    "bandwidth",
    "seed",
    "max_pending_per_email",
    "file_size",
}


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux ``/proc/PID/stat``)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def drms_server_config(url: str, name: str = "JSOC") -> Any:
    """A ``drms.ServerConfig`` for a JSOC-like server at ``url`` (the one prefect-jsoc itself uses)."""
    from prefect_jsoc.client import make_server_config

    return make_server_config(url, name)


class EmulatorProcess:
    """The JSOC emulator in a child process.

    Args:
        data_dir: Cache of generated files (shared between emulators of one bench run, so each
            file is generated once).
        log_path: Where the emulator's output goes.
        **knobs: ``EmulatorConfig`` fields (``export_delay``, ``latency``, ``file_size``, ...).
    """

    def __init__(self, data_dir: Path, log_path: Path, **knobs: Any) -> None:
        cmd = [sys.executable, "-m", "prefect_jsoc.emulator", "--port", "0", "--data-dir", str(data_dir)]
        later = {}
        for name, value in knobs.items():
            if name in _CLI_KNOBS and value is not None:
                cmd += [f"--{name.replace('_', '-')}", str(value)]
            else:
                later[name] = value
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log, cwd=REPO)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("http"):
            self.close()
            raise RuntimeError(f"The emulator did not start (see {log_path}).")
        self.url = line if line.endswith("/") else line + "/"
        if later:
            self.configure(**later)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _request(self, path: str, data: Any = None) -> Any:
        body = None if data is None else json.dumps(data).encode()
        req = urllib.request.Request(
            self.url + path,
            data=body,
            method="GET" if data is None else "POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=60) as reply:
            return json.loads(reply.read())

    def stats(self) -> dict[str, Any]:
        """The emulator's counters."""
        return self._request("_emulator/stats")

    def log(self) -> list[dict[str, Any]]:
        """The emulator's request log, oldest first (``GET /_emulator/log``; cleared by :meth:`reset`)."""
        return self._request("_emulator/log")

    def reset(self, exports: bool = True) -> None:
        """Zero the counters, clear the log and (by default) forget every export, so none is re-used."""
        self._request("_emulator/reset" + ("?exports=1" if exports else ""), data={})

    def configure(self, **knobs: Any) -> dict[str, Any]:
        """Change knobs while running."""
        return self._request("_emulator/config", data=knobs)

    def server_config(self, name: str = "JSOC") -> Any:
        return drms_server_config(self.url, name)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WorkerError(RuntimeError):
    """A worker process failed; the message ends with the tail of its log."""


@dataclass
class BenchContext:
    """Where the bench keeps its files and how workers reach the Prefect API."""

    root: Path
    api_url: str | None = None
    quick: bool = False
    repeats: int = 3
    strict_repeats: int = 1
    verbose: bool = False
    server_pid: int | None = None
    idle_wait_seconds: float = 0.0
    _counter: int = field(default=0, repr=False)

    def wait_server_idle(self, *, threshold: float = 0.1, window: float = 0.25, limit: float = 120.0) -> float:
        """Wait until the Prefect test server has digested earlier runs (CPU < ``threshold`` core).

        After a large map the server keeps a core busy for a while ingesting events; a run started
        then is slower for reasons that have nothing to do with it. Every Prefect contender starts
        after this wait, which is not part of any timing. Returns the seconds waited.
        """
        if self.server_pid is None:
            return 0.0
        start = time.perf_counter()
        quiet = 0
        last = _cpu_seconds(self.server_pid)
        while last is not None and time.perf_counter() - start < limit:
            time.sleep(window)
            now = _cpu_seconds(self.server_pid)
            if now is None:
                break
            quiet = quiet + 1 if (now - last) / window < threshold else 0
            last = now
            if quiet >= 2:
                break
        waited = time.perf_counter() - start
        self.idle_wait_seconds += waited
        return waited

    @property
    def emulator_data(self) -> Path:
        path = self.root / "emulator-data"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def logs(self) -> Path:
        path = self.root / "logs"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def fresh_dir(self, prefix: str) -> Path:
        """A new empty directory under the bench root."""
        self._counter += 1
        path = self.root / f"{prefix}-{self._counter:03d}"
        path.mkdir(parents=True)
        return path

    def emulator(self, **knobs: Any) -> EmulatorProcess:
        return EmulatorProcess(self.emulator_data, self.logs / "emulator.log", **knobs)

    def log(self, message: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    def cleanup(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)


def _launch(
    ctx: BenchContext, job: str, spec: dict[str, Any], env: dict[str, str] | None
) -> tuple[subprocess.Popen, Path, Path, Any]:
    work = ctx.fresh_dir(f"worker-{job}")
    spec_path, out_path, log_path = work / "spec.json", work / "result.json", ctx.logs / f"{work.name}.log"
    spec_path.write_text(json.dumps(spec, default=str))
    child_env = dict(os.environ)
    child_env.update(
        {
            "PREFECT_HOME": str(work / "prefect-home"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if ctx.api_url:
        child_env["PREFECT_API_URL"] = ctx.api_url
    child_env.update(env or {})
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench._worker", job, str(spec_path), str(out_path)],
        cwd=REPO,
        env=child_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return proc, out_path, log_path, log


def _collect(
    job: str, proc: subprocess.Popen, out_path: Path, log_path: Path, log: Any, timeout: float
) -> dict[str, Any]:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    finally:
        log.close()
    if not out_path.exists():
        tail = log_path.read_text(errors="replace")[-3000:]
        raise WorkerError(f"worker {job} exited with {proc.returncode} and no result; log {log_path}:\n{tail}")
    result = json.loads(out_path.read_text())
    result["_log"] = str(log_path)
    result["_exit_code"] = proc.returncode
    return result


def run_worker(
    ctx: BenchContext, job: str, spec: dict[str, Any], *, env: dict[str, str] | None = None, timeout: float = 900.0
) -> dict[str, Any]:
    """Run ``bench._worker`` job ``job`` in a child process and return its JSON result.

    The child gets the bench's Prefect API URL, its own ``PREFECT_HOME``, and ``env`` on top. The
    Prefect server is first left to become idle (see :meth:`BenchContext.wait_server_idle`).

    Raises:
        WorkerError: When the worker exits without writing a result.
    """
    ctx.wait_server_idle()
    proc, out_path, log_path, log = _launch(ctx, job, spec, env)
    return _collect(job, proc, out_path, log_path, log, timeout)


def run_workers_together(
    ctx: BenchContext, runs: list[tuple[str, dict[str, Any], dict[str, str] | None]], *, timeout: float = 900.0
) -> list[dict[str, Any]]:
    """Start several workers at once and wait for all (for contenders that mostly sleep)."""
    started = [(job, *_launch(ctx, job, spec, env)) for job, spec, env in runs]
    return [_collect(job, proc, out, log_path, log, timeout) for job, proc, out, log_path, log in started]


def temp_root() -> Path:
    """A new temporary root for one bench run."""
    return Path(tempfile.mkdtemp(prefix="prefect-jsoc-bench-"))
