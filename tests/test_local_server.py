"""The Prefect API server that the command owns (``prefect_jsoc.local_server``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from prefect_jsoc.local_server import LocalPrefectServer, LocalServerError, local_prefect_api


def _gone(pid: int, deadline: float = 30.0) -> bool:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


def test_a_server_that_does_not_start_in_time_is_a_clear_error_and_is_stopped() -> None:
    server = LocalPrefectServer(startup_timeout=0.2)
    with pytest.raises(
        LocalServerError, match=r"did not start within 0\.2 s.*PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT"
    ):
        server.start()
    assert server.process is None
    assert server.log_path is not None and server.log_path.exists()  # kept, and named in the message
    shutil.rmtree(server.log_path.parent)


def test_the_command_reports_a_server_that_does_not_start_in_one_line(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="1", PREFECT_JSOC_EMAIL="cli@example.com")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from prefect_jsoc.cli import main; main()",
            "fetch",
            "hmi.m_45s",
            "--start",
            "2014-01-01T00:00",
            "--end",
            "2014-01-01T00:01",
            "--path",
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 1, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: LocalServerError: "), lines
    assert "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS" in lines[0]
    log = re.search(r"its log is (\S+)/server\.log", lines[0])
    assert log, lines[0]
    shutil.rmtree(log.group(1))


@pytest.mark.usefixtures("prefect_harness")
def test_a_configured_prefect_api_is_used_as_it_is() -> None:
    from prefect.settings import PREFECT_API_URL

    before = _local_servers_of_us()  # the session's own server (the prefect_harness fixture) is one
    with local_prefect_api() as api_url:
        assert api_url == PREFECT_API_URL.value()
        assert _local_servers_of_us() == before


def _local_servers_of_us() -> set[str]:
    return {p for p in os.listdir("/proc") if p.isdigit() and _is_local_server_of_us(p)}


def _is_local_server_of_us(pid: str) -> bool:
    try:
        argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
    except OSError:
        return False
    return b"prefect_jsoc.local_server" in argv and str(os.getpid()).encode() in argv


@pytest.mark.slow
def test_the_server_answers_and_stops_with_its_owner() -> None:
    import urllib.request

    with LocalPrefectServer(startup_timeout=240) as server:
        pid = server.process.pid
        with urllib.request.urlopen(f"{server.api_url}/health", timeout=10) as response:
            assert response.status == 200
        assert server.api_url.startswith("http://127.0.0.1:")
    assert _gone(pid)
    assert not server.state_dir.exists()


def test_many_writers_at_once_queue_for_the_sqlite_database_instead_of_failing(prefect_harness: str) -> None:
    """Each flow run's creation reads, then writes; on SQLite, concurrent writers used to be refused
    with HTTP 503 (Prefect's client then backs off 2, 4, 8... s and gives up after five retries)."""
    from concurrent.futures import ThreadPoolExecutor

    from prefect import get_client
    from prefect.exceptions import PrefectHTTPStatusError
    from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    def create_runs(flow_id: object, n: int) -> list[int]:
        statuses = []
        with temporary_settings({PREFECT_CLIENT_MAX_RETRIES: 0}), get_client(sync_client=True) as client:
            for _ in range(n):
                try:
                    response = client.request("POST", "/flow_runs/", json={"flow_id": str(flow_id), "name": "writer"})
                except PrefectHTTPStatusError as refused:
                    response = refused.response
                statuses.append(response.status_code)
        return statuses

    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name("sqlite-writers")
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = [s for batch in pool.map(create_runs, [flow_id] * 12, [8] * 12) for s in batch]

    assert len(statuses) == 96
    assert statuses.count(503) == 0, f"{statuses.count(503)} of 96 flow-run creations refused with HTTP 503"
    assert set(statuses) == {201}
