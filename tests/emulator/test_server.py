"""Ways to run the emulator: context manager, restart, control API, fixtures and the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import drms
import pytest
from jsoc_test_support import cgi, wait_until

from prefect_jsoc.emulator import EmulatorConfig, JsocEmulator
from prefect_jsoc.emulator.fitsfiles import image_shape, sums_file_size

from .helpers import EMAIL, fetch


def test_context_manager_serves_and_stops(tmp_path: Path) -> None:
    with JsocEmulator(data_dir=tmp_path, export_delay=0.1) as emu:
        assert emu.url == f"http://127.0.0.1:{emu.port}/"
        cfg = emu.server_config()
        assert cfg.url_jsoc_info == f"{emu.url}cgi-bin/ajax/jsoc_info"
        assert cfg.http_download_baseurl == emu.url
        assert drms.Client(cfg).pkeys("hmi.m_720s") == ["T_REC", "CAMERA"]
        url = emu.url
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="fail_rate must be between 0 and 1"):
        EmulatorConfig(fail_rate=2)
    with pytest.raises(TypeError, match="Unknown emulator setting"):
        EmulatorConfig().replace(nope=1)
    assert EmulatorConfig().export_delay == 3.0 and EmulatorConfig().max_pending_per_email == 1


def test_restart_keeps_the_port_and_forgets_exports(emu: JsocEmulator) -> None:
    port = emu.port
    emu.configure(export_delay=0.0)
    reply = cgi(
        emu, "jsoc_fetch", op="exp_request", ds="hmi.m_45s[2014.01.01/1m]", notify=EMAIL, method="url", protocol="fits"
    )
    emu.restart()
    assert emu.port == port and emu.config.export_delay == 0.0
    assert cgi(emu, "jsoc_fetch", op="exp_status", requestid=reply["requestid"])["status"] == 4


def test_control_api(emu: JsocEmulator) -> None:
    cgi(emu, "show_series")
    status, _, body = fetch(f"{emu.url}_emulator/stats")
    stats = json.loads(body)
    assert status == 200 and stats["requests"] == {"show_series": 1}
    assert {
        "exports_submitted",
        "bytes_served",
        "max_pending_per_email",
        "pending_now",
        "max_concurrent_downloads",
        "faults",
        "status_replies",
    } <= set(stats)
    req = urllib.request.Request(f"{emu.url}_emulator/reset", method="POST", data=b"")
    assert json.loads(urllib.request.urlopen(req).read())["requests"] == {}
    req = urllib.request.Request(
        f"{emu.url}_emulator/config",
        method="POST",
        data=json.dumps({"latency": 0.01, "registered_emails": ["a@b.net"]}).encode(),
    )
    knobs = json.loads(urllib.request.urlopen(req).read())
    assert knobs["latency"] == 0.01 and emu.config.registered_emails == ("a@b.net",)
    bad = urllib.request.Request(f"{emu.url}_emulator/config", method="POST", data=b'{"port": 1}')
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(bad)
    assert fetch(f"{emu.url}nothing/here")[0] == 404


def test_cgis_accept_post_forms_and_ignore_unknown_parameters(emu: JsocEmulator) -> None:
    data = b"op=rs_summary&ds=hmi.m_45s%5B2014.01.01%2F1h%5D&whatever=1"
    req = urllib.request.Request(f"{emu.url}cgi-bin/ajax/jsoc_info", data=data, method="POST")
    assert json.loads(urllib.request.urlopen(req).read())["count"] == 80


def test_function_fixture_restores_knobs(jsoc_emulator: JsocEmulator) -> None:
    assert jsoc_emulator.config.fail_rate == 0.0 and jsoc_emulator.stats()["exports_submitted"] == 0
    jsoc_emulator.configure(fail_rate=1.0)  # undone by the fixture for the next test


def test_function_fixture_restored_knobs(jsoc_emulator: JsocEmulator) -> None:
    assert jsoc_emulator.config.fail_rate == 0.0
    assert cgi(jsoc_emulator, "show_series")["status"] == 0


def test_factory_starts_independent_emulators(jsoc_emulator_factory, jsoc_emulator: JsocEmulator) -> None:
    other = jsoc_emulator_factory(offline=True, max_pending_per_email=3)
    assert other.port != jsoc_emulator.port and other.config.offline and not jsoc_emulator.config.offline
    assert (
        cgi(
            other,
            "jsoc_fetch",
            op="exp_request",
            ds="hmi.m_45s[2014.01.01/1m]",
            notify=EMAIL,
            method="url",
            protocol="fits",
        )["status"]
        == 25
    )


def test_patch_drms_jsoc_is_restored(emu: JsocEmulator) -> None:
    from drms.config import _server_configs

    original = _server_configs["jsoc"]
    with emu.patch_drms_jsoc():
        assert drms.Client().pkeys("hmi.m_45s") == ["T_REC", "CAMERA"]
        assert _server_configs["jsoc"].http_download_baseurl == emu.url
    assert _server_configs["jsoc"] is original


def test_large_files_are_generated_once_and_served_whole(jsoc_emulator_factory) -> None:
    emu = jsoc_emulator_factory(file_size=8 * 1024 * 1024)
    assert image_shape(8 * 1024 * 1024) == (2048, 2048) and image_shape(32 * 1024 * 1024) == (4096, 4096)
    doc = cgi(emu, "jsoc_info", op="rs_list", ds="hmi.m_45s[2014.01.01_00:00:00_TAI]", seg="magnetogram", key="*size*")
    assert doc["segments"][0]["dims"] == ["2048x2048"]
    url = emu.url + doc["segments"][0]["values"][0].lstrip("/")
    status, _, body = fetch(url)
    assert status == 200 and len(body) == sums_file_size(8 * 1024 * 1024) == int(doc["keywords"][0]["values"][0])
    for _ in range(5):
        assert fetch(url)[2] == body
    assert emu.stats()["requests"]["file:GET"] == 6
    assert len(list((emu.data_dir / "sums").rglob("*.fits"))) == 1


def test_cli_serves_until_sigterm(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect_jsoc.emulator",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path),
            "--export-delay",
            "0.1",
            "--registered-email",
            "someone@elsewhere.net",
            "--seed",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        doc = json.loads(
            urllib.request.urlopen(
                f"{url}cgi-bin/ajax/checkAddress.sh?address=someone%2540elsewhere.net&checkonly=1"
            ).read()
        )
        assert doc["status"] == 2
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert "stopped" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_stats_downloads_gauge_returns_to_zero(emu: JsocEmulator) -> None:
    doc = cgi(emu, "jsoc_info", op="rs_list", ds="hmi.m_45s[2014.01.01/2m]", seg="magnetogram")
    for path in doc["segments"][0]["values"]:
        fetch(emu.url + path.lstrip("/"))
    wait_until(lambda: emu.stats()["downloads_now"] == 0)
    assert emu.stats()["requests"]["file:GET"] == len(doc["segments"][0]["values"]) == 3


def _emulator_app():  # type: ignore[no-untyped-def]
    import typer

    from prefect_jsoc.emulator.cli import emulator_command

    app = typer.Typer(add_completion=False)
    app.command(name="emulator")(emulator_command)
    return app


def test_cli_help_shows_every_option_name_whole_at_80_columns() -> None:
    import typer
    from typer.testing import CliRunner

    app = _emulator_app()
    names = [opt for param in typer.main.get_command(app).params for opt in param.opts]
    assert "--max-pending-per-email" in names and len(names) > 20
    done = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"})
    assert done.exit_code == 0
    lines = done.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    words = {word for line in lines for word in line.replace("│", " ").split()}
    assert [n for n in names if n not in words] == []


def test_cli_port_in_use_is_one_error_line(emu: JsocEmulator) -> None:
    from typer.testing import CliRunner

    done = CliRunner().invoke(_emulator_app(), ["--port", str(emu.port)])
    assert done.exit_code == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [
        f"error: port {emu.port} on 127.0.0.1 is already in use; choose another with --port N "
        "(--port 0 picks a free one)."
    ]
    bad = CliRunner().invoke(_emulator_app(), ["--fail-rate", "2"])
    assert bad.exit_code == 2 and bad.stderr.startswith("error: fail_rate must be between 0 and 1")
