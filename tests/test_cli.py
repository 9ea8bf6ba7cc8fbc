"""The prefect-jsoc command as users run it (in-process, against the session's Prefect server)."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from rich.console import Console
from typer.testing import CliRunner

from prefect_jsoc.cli import QueryOptions, app, build_queries, fetch_table, parse_segments
from prefect_jsoc.query import KeywordFilter
from prefect_jsoc.results import BlockResult, FetchResult

runner = CliRunner()


# --- options -----------------------------------------------------------------------------------


def test_keyword_filters_are_parsed_by_the_library() -> None:
    queries = build_queries(
        QueryOptions(
            series=["hmi.m_45s"],
            start="2014-01-01T00:00",
            end="2014-01-01T00:01",
            keyword=["QUALITY=0", "EXPTIME >= 2.5", "QUALITY!=1"],
        )
    )
    assert set(queries[0].filters) == {
        KeywordFilter.parse("QUALITY=0"),
        KeywordFilter.parse("EXPTIME>=2.5"),
        KeywordFilter.parse("QUALITY!=1"),
    }


def test_a_bare_segment_applies_to_every_series_and_a_prefixed_one_to_its_series() -> None:
    common, per_series = parse_segments(
        ["image", "hmi.V_45s:Dopplergram", "hmi.m_45s:magnetogram,bitmap"], ["hmi.m_45s", "hmi.v_45s"]
    )
    assert common == ["image"]
    assert per_series == {"hmi.v_45s": ["Dopplergram"], "hmi.m_45s": ["magnetogram", "bitmap"]}

    queries = build_queries(
        QueryOptions(
            series=["hmi.m_45s", "hmi.v_45s"],
            interval=["2014-01-01T00:00/2014-01-01T00:01", "2014-01-02T00:00/2014-01-02T00:01"],
            segment=["hmi.m_45s:magnetogram", "hmi.v_45s:Dopplergram"],
        )
    )
    assert [(q.series, q.segments) for q in queries] == [
        ("hmi.m_45s", ("magnetogram",)),
        ("hmi.m_45s", ("magnetogram",)),
        ("hmi.v_45s", ("Dopplergram",)),
        ("hmi.v_45s", ("Dopplergram",)),
    ]


def test_a_segment_for_a_series_not_in_the_command_is_a_usage_error(emulator) -> None:
    done = runner.invoke(
        app,
        ["fetch", "hmi.m_45s", "--interval", "2014-01-01T00:00/2014-01-01T00:01", "--segment", "hmi.v_45s:Dopplergram"],
    )
    assert done.exit_code == 2
    lines = [line for line in done.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "hmi.v_45s" in lines[0]
    assert emulator.stats()["exports_submitted"] == 0


@pytest.mark.parametrize("command", ["series", "search", "fetch", "demo", "emulator", None])
def test_help_lists_every_option_without_python_type_names(command) -> None:
    done = runner.invoke(app, [command, "--help"] if command else ["--help"], env={"COLUMNS": "120"})
    assert done.exit_code == 0, done.output
    assert not re.search(r"<(bool|str|int|float|list\[[a-z]+\])>", done.output), done.output
    if command in ("series", "search", "fetch", "demo"):
        assert "--verbose" in done.output
    if command in ("search", "fetch"):
        for option in (
            "--start",
            "--end",
            "--interval",
            "--sample",
            "--wavelength",
            "--segment",
            "--keyword",
            "--primekey",
            "--server-url",
            "--debug",
        ):
            assert option in done.output


# --- the results table -------------------------------------------------------------------------


def _result() -> FetchResult:
    ok = BlockResult(
        label="hmi.m_45s 2014-01-01 00:00–00:05",
        series="hmi.m_45s",
        query_key="a",
        request_id="JSOC_20140101_123456_X_IN",
        files=[f"/d/f{i}.fits" for i in range(7)],
        bytes=123_456_789,
        downloaded=5,
        timings={"stage": 1.25, "await_export": 30.0, "download": 412.5},
    )
    failed = BlockResult(
        label="aia.lev1_euv_12s 2014-01-02 00:00–00:05 171Å",
        series="aia.lev1_euv_12s",
        query_key="b",
        request_id="JSOC_20140101_123457_X_IN",
        failed_step="await_export",
        error="export failed",
    )
    return FetchResult(server_url="http://127.0.0.1:8431/", path="/d", blocks=[ok, failed])


def _render(width: int) -> list[str]:
    out = StringIO()
    console = Console(file=out, width=width, color_system=None)
    console.print(fetch_table(_result(), width))
    return out.getvalue().splitlines()


@pytest.mark.parametrize("width", [80, 200])
def test_every_value_of_the_results_table_reads_intact(width: int) -> None:
    lines = _render(width)
    text = "\n".join(lines)
    assert max(len(line) for line in lines) <= width
    for header in ("block", "files", "MB", "new", "export", "download", "status"):
        assert header in text
    for value in (
        "JSOC_20140101_123456_X_IN",
        "JSOC_20140101_123457_X_IN",
        "123.5",
        "31.2",
        "412.5",
        "ok",
        "await_export",
        "hmi.m_45s",
        "aia.lev1_euv_12s",
        "00:00–00:05",
        "171Å",
    ):
        assert value in text, value
    row = next(line for line in lines if "123.5" in line)  # the numbers of a block share one row
    assert re.search(r"\b7\s+123\.5\s+5\s+31\.2\s+412\.5\s+ok\b", row), row


def test_a_wide_terminal_gets_one_line_per_block() -> None:
    lines = _render(200)
    assert any("hmi.m_45s 2014-01-01 00:00–00:05" in line and "JSOC_20140101_123456_X_IN" in line for line in lines)


def test_a_very_narrow_terminal_gets_one_value_per_line() -> None:
    text = "\n".join(_render(40))
    for value in ("JSOC_20140101_123456_X_IN", "123.5", "31.2", "412.5", "failed in await_export"):
        assert value in text


# --- commands against the emulator --------------------------------------------------------------


def test_series_lists_what_the_server_has(emulator) -> None:
    done = runner.invoke(app, ["series", "hmi"])
    assert done.exit_code == 0, done.output
    names = done.output.split()
    assert "hmi.m_45s" in [n.lower() for n in names]
    assert not any(n.lower().startswith("aia.") for n in names)


def test_keyword_without_comparison_is_a_usage_error(emulator) -> None:
    done = runner.invoke(
        app, ["search", "hmi.m_45s", "--start", "2014-01-01T00:00", "--end", "2014-01-01T00:01", "--keyword", "QUALITY"]
    )
    assert done.exit_code == 2
    assert "QUALITY" in done.output and "comparison" in done.output


@pytest.mark.usefixtures("prefect_harness")
def test_search_prints_records_per_block(emulator) -> None:
    done = runner.invoke(app, ["search", "hmi.v_45s", "--start", "2014-01-01T00:00:00", "--end", "2014-01-01T01:00:00"])
    assert done.exit_code == 0, done.output
    assert "81 records" in done.output
    assert "2014.01.01_00:00:45_TAI" in done.output


@pytest.mark.usefixtures("prefect_harness")
def test_fetch_downloads_and_lists_the_files(emulator, tmp_path) -> None:
    done = runner.invoke(
        app,
        [
            "fetch",
            "hmi.m_45s",
            "--interval",
            "2014-01-01T00:00/2014-01-01T00:01",
            "--interval",
            "2014-01-01T03:00/2014-01-01T03:01",
            "--path",
            str(tmp_path),
        ],
    )
    assert done.exit_code == 0, done.output
    files = sorted(tmp_path.glob("*.fits"))
    assert len(files) >= 4
    for file in files:
        assert str(file) in done.output


@pytest.mark.usefixtures("prefect_harness")
def test_the_readme_fetch_example_gives_each_series_its_own_segment(emulator, tmp_path) -> None:
    """README "Command line": two series whose segments differ, over two intervals."""
    done = runner.invoke(
        app,
        [
            "fetch",
            "hmi.m_45s",
            "hmi.v_45s",
            "--interval",
            "2014-01-01T00:00/2014-01-01T00:05",
            "--interval",
            "2014-01-02T00:00/2014-01-02T00:05",
            "--segment",
            "hmi.m_45s:magnetogram",
            "--segment",
            "hmi.v_45s:Dopplergram",
            "--path",
            str(tmp_path),
        ],
    )
    assert done.exit_code == 0, done.output
    names = [p.name for p in tmp_path.glob("*.fits")]
    assert any(n.startswith("hmi.m_45s.") and "magnetogram" in n for n in names), names
    assert any(n.startswith("hmi.v_45s.") and "Dopplergram" in n for n in names), names
    assert all(("magnetogram" in n) != ("Dopplergram" in n) for n in names)
    # Piped output is 80 columns wide: the table must still read, with a status for each block.
    assert len(re.findall(r"\bok\b", done.output)) == 4, done.output


@pytest.mark.usefixtures("prefect_harness")
def test_demo_runs_a_real_fetch_against_the_bundled_emulator(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("PREFECT_JSOC_EMAIL", raising=False)
    done = runner.invoke(app, ["demo", "--path", str(tmp_path / "demo"), "--export-delay", "0.5"])
    assert done.exit_code == 0, done.output
    assert "JSOC emulator listening on http://127.0.0.1:" in done.output
    files = sorted((tmp_path / "demo").glob("*.fits"))
    assert len(files) >= 4
    assert "Emulator stopped." in done.output
