"""The real ``prefect-jsoc`` process: signals, SIGKILL, and the Prefect server it owns.

These tests run the command as a user does, without ``PREFECT_API_URL``, so it starts its own local
Prefect API server (``prefect_jsoc.local_server``). Downloads are slowed with the emulator's
bandwidth knob so that a transfer is in flight when the signal arrives.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from prefect_jsoc.downloads import verify_file
from prefect_jsoc.local_server import LocalPrefectServer, _api_url_for_this_process

pytestmark = [pytest.mark.slow, pytest.mark.crash]

#: Bounds on waiting for something that normally takes seconds (a hang guard, not a performance test).
START_DEADLINE = 240.0
EXIT_DEADLINE = 60.0


def _poll(condition, deadline: float, what: str, every: float = 0.2):
    """Return ``condition()`` once it is truthy; fail with ``what`` after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out after {deadline:.0f} s waiting for {what}")


def _server_pids(parent_pid: int) -> list[int]:
    """Pids of local Prefect servers started by ``parent_pid`` (found by their command line)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"prefect_jsoc.local_server" in argv and str(parent_pid).encode() in argv:
            found.append(int(entry.name))
    return found


def _descendants(pid: int) -> set[int]:
    """Every process started, directly or not, by ``pid``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture()
def jsoc_emulator(fresh_emu):
    """This module kills processes: each test gets an emulator (hence Prefect limits) of its own."""
    fresh_emu.configure(export_delay=1.0)
    return fresh_emu


@pytest.fixture()
def command_env(jsoc_emulator, tmp_path: Path) -> dict[str, str]:
    """The environment of a user's shell: emulator URL and e-mail, no Prefect API configured."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(
        PREFECT_JSOC_SERVER_URL=jsoc_emulator.url,
        PREFECT_JSOC_EMAIL="cli@example.com",
        PREFECT_JSOC_POLL_INTERVAL="2",
        PREFECT_RESULTS_LOCAL_STORAGE_PATH=str(tmp_path / "results"),
    )
    return env


@pytest.fixture()
def slow_downloads(jsoc_emulator) -> Iterator[None]:
    """About 70 kB files served at 4 kB/s: each transfer takes many seconds."""
    jsoc_emulator.configure(export_delay=0.3, bandwidth=4000)
    yield


def _start_fetch(env: dict[str, str], path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from prefect_jsoc.cli import main; main()",
            "fetch",
            "hmi.m_45s",
            "--interval",
            "2014-01-01T00:00/2014-01-01T00:10",
            "--segment",
            "magnetogram",
            "--path",
            str(path),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_mid_transfer(cli: subprocess.Popen[str], path: Path) -> None:
    def transferring() -> bool:
        if cli.poll() is not None:
            pytest.fail(f"the fetch ended early with {cli.returncode}: {cli.stderr.read() if cli.stderr else ''}")
        # A transfer in flight is a non-empty file under a temporary name.
        return path.is_dir() and any(
            p.is_file() and not p.name.endswith(".fits") and p.stat().st_size > 0 for p in path.iterdir()
        )

    _poll(transferring, START_DEADLINE, "a download to be in flight")


def _assert_no_partial_file_under_a_final_name(path: Path) -> None:
    for file in path.glob("*.fits"):
        assert verify_file(file) is None, f"{file} is not a complete FITS file"


@pytest.mark.usefixtures("slow_downloads")
def test_sigkill_of_the_command_leaves_no_server_behind(command_env, tmp_path: Path) -> None:
    cli = _start_fetch(command_env, tmp_path / "data")
    try:
        _wait_mid_transfer(cli, tmp_path / "data")
        started = _descendants(cli.pid)
        assert len(_server_pids(cli.pid)) == 1 and set(_server_pids(cli.pid)) <= started
    finally:
        cli.kill()
        cli.communicate()
    _poll(
        lambda: not any(_alive(pid) for pid in started),
        EXIT_DEADLINE,
        f"every process the killed command started ({sorted(started)}) to exit",
    )


_STALE_WAKEUP_FD = """
import asyncio, signal, threading
from prefect_jsoc.cli.interrupts import Interrupts

loop = asyncio.new_event_loop()
loop.add_signal_handler(signal.SIGUSR1, lambda: None)  # the wake-up fd is now the loop's pipe
closer = threading.Thread(target=loop.close)  # off the main thread it closes the pipe, cannot unset the fd
closer.start()
closer.join()
with Interrupts().installed():
    pass
print("wake-up fd after the command:", signal.set_wakeup_fd(-1))
"""


def test_a_command_run_where_an_event_loop_left_a_closed_wakeup_fd_still_succeeds() -> None:
    # As when the CLI runs inside a test session or a notebook whose earlier event loop was collected
    # from another thread: the command must not fail at its end restoring that dead fd.
    done = subprocess.run([sys.executable, "-c", _STALE_WAKEUP_FD], capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr[-2000:]
    assert "wake-up fd after the command: -1" in done.stdout


@pytest.mark.parametrize(
    ("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
@pytest.mark.usefixtures("slow_downloads")
def test_an_interrupt_stops_the_fetch_with_one_line_and_its_exit_code(
    command_env, tmp_path: Path, signum: int, exit_code: int
) -> None:
    cli = _start_fetch(command_env, tmp_path / "data")
    try:
        _wait_mid_transfer(cli, tmp_path / "data")
        servers = _server_pids(cli.pid)
        cli.send_signal(signum)
        out, err = cli.communicate(timeout=EXIT_DEADLINE)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.communicate()
    assert cli.returncode == exit_code, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "interrupted" in lines[0] and signal.Signals(signum).name in lines[0] and "re-run" in lines[0]
    _assert_no_partial_file_under_a_final_name(tmp_path / "data")
    for pid in servers:
        _poll(lambda pid=pid: not _alive(pid), EXIT_DEADLINE, f"the command's server (pid {pid}) to exit")


_HOLD_A_SLOT = """
import sys, time
from prefect_jsoc.limits import acquire_slots
from prefect_jsoc.local_server import local_prefect_api

with local_prefect_api() as api_url:
    acquire_slots(sys.argv[1], 1, timeout=60, max_hold=3600)
    print(api_url, flush=True)
    time.sleep(600)
"""


def _active_slots(api_url: str, name: str) -> int:
    from prefect import get_client

    with _api_url_for_this_process(api_url), get_client(sync_client=True) as client:
        return client.read_global_concurrency_limit_by_name(name).active_slots


def test_a_slot_leaked_by_a_killed_run_is_freed_by_the_next_runs_server(command_env, tmp_path: Path) -> None:
    """A SIGKILLed holder never releases its slot; the next local server's repossessor frees it."""
    name = f"prefect-jsoc-test-leak-{uuid.uuid4().hex[:8]}"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_A_SLOT, name],
        env=command_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        api_url = holder.stdout.readline().strip()
        assert api_url.startswith("http://127.0.0.1:"), holder.stderr.read() if not api_url else api_url
        assert _active_slots(api_url, name) == 1
        servers = _server_pids(holder.pid)
    finally:
        holder.kill()
        holder.communicate()
    for pid in servers:
        _poll(lambda pid=pid: not _alive(pid), EXIT_DEADLINE, f"the killed run's server (pid {pid}) to exit")

    with LocalPrefectServer(startup_timeout=START_DEADLINE) as server:
        assert _active_slots(server.api_url, name) == 1  # still taken: nobody released it
        # Its lease (60 s) expires; the repossessor, every 5 s, then frees the slot.
        _poll(lambda: _active_slots(server.api_url, name) == 0, 120, "the leaked slot to be freed", every=2)


def test_a_fetch_prints_the_results_and_nothing_else(command_env, jsoc_emulator, tmp_path: Path) -> None:
    """No server start-up notice, no Prefect log lines, no warnings: the table, the files, a summary."""
    jsoc_emulator.configure(export_delay=0.3)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from prefect_jsoc.cli import main; main()",
            "fetch",
            "hmi.m_45s",
            "hmi.v_45s",
            "--interval",
            "2014-01-01T00:00/2014-01-01T00:01",
            "--segment",
            "hmi.m_45s:magnetogram",
            "--segment",
            "hmi.v_45s:Dopplergram",
            "--path",
            str(tmp_path),
        ],
        env=command_env,
        capture_output=True,
        text=True,
        timeout=START_DEADLINE,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    files = sorted(tmp_path.glob("*.fits"))
    assert len(files) == 4
    lines = done.stdout.splitlines()
    assert lines[0].strip().startswith("JSOC fetch from")
    assert lines[-1].startswith("4 files,")
    assert set(lines[-5:-1]) == {str(f) for f in files}
