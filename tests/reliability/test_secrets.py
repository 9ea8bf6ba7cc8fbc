"""The notify e-mail stays secret, and the emulator listens on loopback only.

The e-mail is a ``SecretStr`` in ``JsocSettings``. These tests run real fetches and then read back
everything the Prefect server stored for those runs (flow-run parameters, task runs, artifacts and
logs) plus the local result store and state directory, and look for the address in clear.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from prefect_jsoc import JsocQuery, JsocSettings
from prefect_jsoc.cli import app
from prefect_jsoc.emulator import EmulatorConfig, JsocEmulator
from prefect_jsoc.flows import jsoc_fetch

SECRET = "jane.secret-agent@example.org"
LOCAL_PART = SECRET.split("@")[0]
QUERY = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00:00", end="2014-01-01T00:01:30")


def stored_by_prefect(since: dt.datetime) -> dict[str, str]:
    """What the Prefect server holds about the flow runs started after ``since``, as JSON text."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterStartTime,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=since)))
        ids = [run.id for run in runs]
        assert ids, "no flow run was recorded"
        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)))
        artifacts = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=ids)))
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)))
    assert artifacts and logs, "the runs published no artifact or no log: nothing would be checked"
    dump = lambda items: json.dumps([i.model_dump(mode="json") for i in items])  # noqa: E731
    return {"flow runs": dump(runs), "task runs": dump(task_runs), "artifacts": dump(artifacts), "logs": dump(logs)}


def files_containing(root: Path, text: str) -> list[Path]:
    needle = text.encode()
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def assert_secret_absent(since: dt.datetime, *roots: Path) -> None:
    for where, text in stored_by_prefect(since).items():
        assert LOCAL_PART not in text, f"the notify e-mail is stored in the {where}"
    for root in roots:
        assert files_containing(root, LOCAL_PART) == [], f"the notify e-mail is written under {root}"


def test_settings_never_show_the_email() -> None:
    settings = JsocSettings(email=SECRET)
    for shown in (
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        json.dumps(settings.model_dump(mode="json")),
    ):
        assert LOCAL_PART not in shown, shown
    assert LOCAL_PART not in repr(settings.model_copy(update={"email": SECRET}))  # even a plain str slipped in
    assert LOCAL_PART not in repr(JsocSettings.resolve(settings))
    assert settings.email_address() == SECRET  # still usable where it is needed


@pytest.mark.usefixtures("prefect_harness")
def test_a_fetch_stores_the_email_nowhere(emu: JsocEmulator, tmp_path: Path, isolated_state_dir: Path) -> None:
    from prefect.settings import PREFECT_RESULTS_LOCAL_STORAGE_PATH

    since = dt.datetime.now(dt.UTC)
    settings = JsocSettings(server_url=emu.url, email=SECRET)

    result = jsoc_fetch(QUERY, path=str(tmp_path / "data"), settings=settings)

    assert result.ok
    assert_secret_absent(since, isolated_state_dir, Path(PREFECT_RESULTS_LOCAL_STORAGE_PATH.value()), tmp_path)


@pytest.mark.usefixtures("prefect_harness")
def test_a_fetch_with_the_email_on_the_query_stores_it_nowhere(
    emu: JsocEmulator, tmp_path: Path, isolated_state_dir: Path
) -> None:
    from prefect.settings import PREFECT_RESULTS_LOCAL_STORAGE_PATH

    from prefect_jsoc import JsocQuery

    since = dt.datetime.now(dt.UTC)
    query = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00:00", end="2014-01-01T00:01:30", notify=SECRET)
    assert LOCAL_PART not in repr(query) and LOCAL_PART not in query.model_dump_json()

    result = jsoc_fetch(query, path=str(tmp_path / "data"), settings=JsocSettings(server_url=emu.url))

    assert result.ok
    assert emu.stats()["exports_submitted"] == 1  # the e-mail reached JSOC, and only JSOC
    assert_secret_absent(since, isolated_state_dir, Path(PREFECT_RESULTS_LOCAL_STORAGE_PATH.value()), tmp_path)


@pytest.mark.usefixtures("prefect_harness")
def test_a_cli_fetch_with_notify_stores_the_email_nowhere(
    emu: JsocEmulator, tmp_path: Path, isolated_state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.settings import PREFECT_RESULTS_LOCAL_STORAGE_PATH

    since = dt.datetime.now(dt.UTC)

    done = CliRunner().invoke(
        app,
        [
            "fetch",
            "hmi.M_45s",
            "--start",
            "2014-01-01T00:00:00",
            "--end",
            "2014-01-01T00:01:30",
            "--notify",
            SECRET,
            "--server-url",
            emu.url,
            "--path",
            str(tmp_path / "data"),
            "--no-progress",
        ],
    )

    assert done.exit_code == 0, done.output
    assert LOCAL_PART not in done.output
    assert_secret_absent(since, isolated_state_dir, Path(PREFECT_RESULTS_LOCAL_STORAGE_PATH.value()), tmp_path)


# --- the emulator binds loopback -----------------------------------------------------------------


def listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as in /proc/net/tcp*) with a socket listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as fh:
            next(fh)
            for line in fh:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.rsplit(":", 1)
                if state == "0A" and int(hex_port, 16) == port:
                    found.add(address)
    return found


LOOPBACK = "0100007F"  # 127.0.0.1 in /proc/net/tcp's little-endian hex


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="needs Linux's /proc/net/tcp")
def test_the_emulator_binds_loopback_by_default(tmp_path: Path) -> None:
    assert EmulatorConfig().host == "127.0.0.1"
    with JsocEmulator(data_dir=tmp_path) as emu:
        assert emu.url.startswith("http://127.0.0.1:")
        assert listening_addresses(emu.port) == {LOOPBACK}


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="needs Linux's /proc/net/tcp")
def test_the_emulator_command_binds_loopback_by_default(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect_jsoc.emulator", "--port", "0", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert url.startswith("http://127.0.0.1:"), url
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        assert listening_addresses(port) == {LOOPBACK}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        proc.stdout.close()  # type: ignore[union-attr]
