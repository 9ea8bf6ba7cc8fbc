"""The prefect-jsoc command as users run it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from prefect_jsoc.cli import app, parse_keyword_filter

runner = CliRunner()


@pytest.fixture()
def emulator(jsoc_emulator, monkeypatch):
    jsoc_emulator.configure(export_delay=0.3)
    monkeypatch.setenv("PREFECT_JSOC_SERVER_URL", jsoc_emulator.url)
    monkeypatch.setenv("PREFECT_JSOC_EMAIL", "cli@example.com")
    return jsoc_emulator


def test_keyword_filters_parse_every_comparison() -> None:
    assert parse_keyword_filter("QUALITY=0") == {"name": "QUALITY", "op": "=", "value": "0"}
    assert parse_keyword_filter("EXPTIME>=2.5") == {"name": "EXPTIME", "op": ">=", "value": "2.5"}
    assert parse_keyword_filter("QUALITY!=0")["op"] == "!="


def test_series_lists_what_the_server_has(emulator) -> None:
    done = runner.invoke(app, ["series", "hmi"])
    assert done.exit_code == 0, done.output
    names = done.output.split()
    assert "hmi.m_45s" in [n.lower() for n in names]
    assert not any(n.lower().startswith("aia.") for n in names)


def test_bad_input_prints_one_line_and_exits_non_zero(emulator) -> None:
    done = runner.invoke(app, ["fetch", "hmi.m_45s", "--start", "2014-01-01T01:00", "--end", "2014-01-01T00:00"])
    assert done.exit_code == 2
    lines = [line for line in done.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "Traceback" not in done.output
    assert emulator.stats()["exports_submitted"] == 0


def test_keyword_without_comparison_is_a_usage_error(emulator) -> None:
    done = runner.invoke(app, ["search", "hmi.m_45s", "--start", "2014-01-01T00:00", "--end", "2014-01-01T00:01",
                               "--keyword", "QUALITY"])
    assert done.exit_code != 0
    assert "QUALITY" in done.output and "comparison" in done.output


@pytest.mark.usefixtures("prefect_harness")
def test_search_prints_records_per_block(emulator) -> None:
    done = runner.invoke(app, ["search", "hmi.v_45s", "--start", "2014-01-01T00:00:00", "--end", "2014-01-01T01:00:00"])
    assert done.exit_code == 0, done.output
    assert "81 records" in done.output
    assert "2014.01.01_00:00:45_TAI" in done.output


@pytest.mark.usefixtures("prefect_harness")
def test_fetch_downloads_and_lists_the_files(emulator, tmp_path) -> None:
    done = runner.invoke(app, ["fetch", "hmi.m_45s", "--interval", "2014-01-01T00:00/2014-01-01T00:01",
                               "--interval", "2014-01-01T03:00/2014-01-01T03:01", "--path", str(tmp_path)])
    assert done.exit_code == 0, done.output
    files = sorted(tmp_path.glob("*.fits"))
    assert len(files) >= 4
    for file in files:
        assert str(file) in done.output


@pytest.mark.usefixtures("prefect_harness")
def test_demo_runs_a_real_fetch_against_the_bundled_emulator(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("PREFECT_JSOC_EMAIL", raising=False)
    done = runner.invoke(app, ["demo", "--path", str(tmp_path / "demo"), "--export-delay", "0.5"])
    assert done.exit_code == 0, done.output
    assert "JSOC emulator listening on http://127.0.0.1:" in done.output
    files = sorted((tmp_path / "demo").glob("*.fits"))
    assert len(files) >= 4
    assert "Emulator stopped." in done.output
