"""A process killed while awaiting an export resumes on the next run with the same request id."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from jsoc_test_support import EMAIL

from prefect_jsoc.emulator import JsocEmulator

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.crash]


@pytest.fixture()
def emu(fresh_emu: JsocEmulator) -> JsocEmulator:
    """This module kills processes: each test gets an emulator (hence Prefect limits) of its own."""
    return fresh_emu


SCRIPT = textwrap.dedent(
    """
    from prefect import flow
    from prefect_jsoc import JsocQuery, await_export, stage

    @flow
    def resume():
        q = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00:00", end="2014-01-01T00:02:00",
                      segments=["magnetogram"])
        handle = stage(q)
        print("STAGED", handle.request_id, flush=True)
        manifest = await_export(handle)
        print("DONE", manifest.request_id, len(manifest.files), flush=True)

    resume()
    """
)


def test_killed_while_awaiting_resumes_with_the_same_request_id(emu, isolated_state_dir: Path, tmp_path: Path):
    from prefect.settings import PREFECT_API_URL

    emu.configure(export_delay=8.0)
    script = tmp_path / "resume.py"
    script.write_text(SCRIPT)
    env = dict(
        os.environ,
        PREFECT_API_URL=str(PREFECT_API_URL.value()),
        PREFECT_JSOC_SERVER_URL=emu.url,
        PREFECT_JSOC_EMAIL=EMAIL,
        PREFECT_RESULTS_LOCAL_STORAGE_PATH=str(isolated_state_dir),
    )

    first = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        line = first.stdout.readline()  # blocks until stage has returned (its result is persisted)
        assert line.startswith("STAGED "), line
        request_id = line.split()[1]
        assert emu.stats()["exports_submitted"] == 1
        os.kill(first.pid, signal.SIGKILL)
        assert first.wait(30) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
        first.stdout.close()
    assert emu.stats()["pending_now"] == 1  # the export is still being prepared on the server

    second = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout.split("\n")[:2] == [f"STAGED {request_id}", f"DONE {request_id} 3"]
    assert emu.stats()["exports_submitted"] == 1
    assert emu.stats()["requests"]["jsoc_fetch:exp_request"] == 1


def test_a_stage_lock_left_by_a_killed_process_expires(tmp_path: Path):
    import datetime as dt
    import json

    from prefect.locking.filesystem import FileSystemLockManager

    from prefect_jsoc.caching import LOCK_HOLD_SECONDS, ExpiringLocks

    files = FileSystemLockManager(tmp_path / "locks")
    manager = ExpiringLocks(files)
    files.lock_files_directory.mkdir(parents=True)
    expired = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).isoformat()
    (files.lock_files_directory / "jsoc-stage-key.lock").write_text(
        json.dumps({"holder": "killed-run", "expiration": expired})
    )
    assert not manager.is_locked("jsoc-stage-key")
    assert manager.acquire_lock("jsoc-stage-key", holder="next-run", acquire_timeout=1)
    assert manager.is_lock_holder("jsoc-stage-key", "next-run")
    # Prefect takes the lock without a hold timeout; ours still expires, so a kill cannot block the key
    held = json.loads((files.lock_files_directory / "jsoc-stage-key.lock").read_text())
    left = dt.datetime.fromisoformat(held["expiration"]) - dt.datetime.now(dt.UTC)
    assert 0 < left.total_seconds() <= LOCK_HOLD_SECONDS
    manager.release_lock("jsoc-stage-key", "next-run")
    assert not manager.is_locked("jsoc-stage-key")
