"""Isolation of ``stage``: its locks expire, on the file system and on a real Redis server."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from prefect_jsoc.caching import ExpiringLocks, lock_manager
from prefect_jsoc.errors import InvalidOptionError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A redis-server of this test only, on loopback (skips where Redis is not installed)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (.ci/run installs it with apt)")
    port = _free_port()
    server = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("redis-server did not start")
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)


def test_a_stage_lock_left_by_a_killed_run_is_announced_then_taken_over(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from prefect_jsoc.caching import ReadSafeFileLocks

    locks = ExpiringLocks(ReadSafeFileLocks(tmp_path / "locks"), hold_seconds=1.0)
    assert locks.acquire_lock("jsoc-stage-key", holder="run-that-gets-killed")
    with caplog.at_level("INFO", logger="prefect_jsoc"):
        assert locks.acquire_lock("jsoc-stage-key", holder="next-run", acquire_timeout=5)

    assert locks.is_lock_holder("jsoc-stage-key", "next-run")
    waiting = [r.getMessage() for r in caplog.records if "Another run is staging the same export" in r.getMessage()]
    assert len(waiting) == 1 and "at most 1 s if that run was killed" in waiting[0]
    caplog.clear()
    with caplog.at_level("INFO", logger="prefect_jsoc"):  # a free lock is taken without a word
        locks.release_lock("jsoc-stage-key", "next-run")
        assert locks.acquire_lock("jsoc-stage-key", holder="third-run")
    assert not caplog.records


def test_a_lock_file_being_written_by_another_run_counts_as_held_not_as_an_error(tmp_path: Path) -> None:
    from prefect_jsoc.caching import ReadSafeFileLocks

    files = ReadSafeFileLocks(tmp_path / "locks")
    locks = ExpiringLocks(files)
    # another run has created its lock file (the exclusive step) and not written its holder yet
    files.lock_files_directory.mkdir(parents=True)
    (files.lock_files_directory / "jsoc-stage-key.lock").touch()

    assert locks.is_locked("jsoc-stage-key")
    assert not locks.is_lock_holder("jsoc-stage-key", "this-run")
    assert not locks.acquire_lock("jsoc-stage-key", holder="this-run", acquire_timeout=0.3)
    assert locks.is_locked("jsoc-stage-key")  # left for its writer


def test_a_lock_file_whose_writer_was_killed_before_writing_it_expires(tmp_path: Path) -> None:
    from prefect_jsoc.caching import LOCK_HOLD_SECONDS, ReadSafeFileLocks

    files = ReadSafeFileLocks(tmp_path / "locks")
    locks = ExpiringLocks(files)
    files.lock_files_directory.mkdir(parents=True)
    unwritten = files.lock_files_directory / "jsoc-stage-key.lock"
    unwritten.touch()
    created = time.time() - LOCK_HOLD_SECONDS - 1
    os.utime(unwritten, (created, created))

    assert not locks.is_locked("jsoc-stage-key")
    assert locks.acquire_lock("jsoc-stage-key", holder="next-run", acquire_timeout=1)
    assert locks.is_lock_holder("jsoc-stage-key", "next-run")
    assert json.loads(unwritten.read_text())["holder"] == "next-run"


def test_many_threads_taking_one_file_lock_each_get_it_once_without_errors(tmp_path: Path) -> None:
    import threading

    from prefect_jsoc.caching import ReadSafeFileLocks

    locks = ExpiringLocks(ReadSafeFileLocks(tmp_path / "locks"))
    holding: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def take_and_release(holder: str) -> None:
        try:
            start.wait()
            for _ in range(25):
                assert locks.acquire_lock("jsoc-stage-key", holder=holder, acquire_timeout=30)
                holding.append(holder)
                assert len(set(holding)) == 1, f"two holders at once: {set(holding)}"
                holding.remove(holder)
                locks.release_lock("jsoc-stage-key", holder)
        except BaseException as exc:  # reported below, with the holder that failed
            errors.append(exc)

    threads = [threading.Thread(target=take_and_release, args=(f"run-{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert not locks.is_locked("jsoc-stage-key")


def test_a_redis_lock_left_by_a_killed_holder_expires(redis_url: str) -> None:
    from prefect_redis.locking import RedisLockManager

    locks = ExpiringLocks(RedisLockManager(connection_url=redis_url), hold_seconds=1.0)
    assert locks.acquire_lock("jsoc-stage-key", holder="run-that-gets-killed")
    # the holder is killed here: it never releases; another run waits, then takes over
    assert not locks.acquire_lock("jsoc-stage-key", holder="next-run", acquire_timeout=0.2)
    assert locks.acquire_lock("jsoc-stage-key", holder="next-run", acquire_timeout=5)
    assert locks.is_lock_holder("jsoc-stage-key", "next-run")
    locks.release_lock("jsoc-stage-key", "next-run")
    locks.release_lock("jsoc-stage-key", "run-that-gets-killed")  # its lock expired: nothing to release
    assert not locks.is_locked("jsoc-stage-key")


def test_the_lock_manager_setting_selects_redis_and_refuses_other_urls(redis_url: str) -> None:
    from prefect_redis.locking import RedisLockManager

    assert isinstance(lock_manager(redis_url).inner, RedisLockManager)
    with pytest.raises(InvalidOptionError, match="is not a redis:// URL"):
        lock_manager("memcached://127.0.0.1:11211")


@pytest.mark.usefixtures("prefect_harness")
def test_stage_takes_its_lock_in_redis_when_configured(redis_url: str, jsoc_emulator, tmp_path: Path) -> None:
    """A process started with PREFECT_JSOC_LOCK_MANAGER stages through locks kept in Redis."""
    import redis
    from prefect.settings import PREFECT_API_URL

    script = tmp_path / "stage_twice.py"
    script.write_text(
        textwrap.dedent("""
        import json, sys, threading
        from prefect_jsoc import JsocQuery, JsocSettings, stage
        settings = JsocSettings(server_url=sys.argv[1], email="locks@example.com")
        q = JsocQuery(series="hmi.M_45s", start="2014-01-01T09:00", end="2014-01-01T09:02", segments=["magnetogram"])
        handles = []
        threads = [threading.Thread(target=lambda: handles.append(stage(q, settings=settings))) for _ in range(2)]
        [t.start() for t in threads]; [t.join() for t in threads]
        print(json.dumps(sorted(h.request_id for h in handles)))
    """)
    )
    before = int(redis.Redis.from_url(redis_url).info("commandstats").get("cmdstat_set", {}).get("calls", 0))
    done = subprocess.run(
        [sys.executable, str(script), jsoc_emulator.url],
        capture_output=True,
        text=True,
        timeout=240,
        env={
            **os.environ,
            "PREFECT_API_URL": str(PREFECT_API_URL.value()),
            "PREFECT_JSOC_LOCK_MANAGER": redis_url,
            "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(tmp_path / "r"),
        },
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ids = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(ids) == 2 and ids[0] == ids[1]  # the second stage waited on the lock and read the cache
    after = int(redis.Redis.from_url(redis_url).info("commandstats").get("cmdstat_set", {}).get("calls", 0))
    assert after > before  # the locks went through Redis
    assert jsoc_emulator.stats()["exports_submitted"] >= 1
