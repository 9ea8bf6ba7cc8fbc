"""A hostile or broken server cannot make prefect-jsoc write outside its directory or keep a bad file.

The emulator's hostile knobs (see ``docs/emulator.md``) send file names that escape the download
directory, HTML instead of JSON, non-FITS bodies of the right length, sizes that lie, and downloads
that stall with the connection open. Each gives a clear, typed error (or is recovered from, when
it is intermittent), no file is kept under a final name unless it verified, and every wait ends.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from prefect_jsoc import JsocQuery, JsocSettings
from prefect_jsoc.client import JsocClient
from prefect_jsoc.emulator import JsocEmulator
from prefect_jsoc.errors import JsocTransientError
from prefect_jsoc.flows import jsoc_fetch

from ._support import fits_problem, served_files

pytestmark = pytest.mark.usefixtures("prefect_harness")

QUERY = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00:00", end="2014-01-01T00:02:00")


def entries(directory: Path) -> list[str]:
    """Every name under ``directory`` (recursively, hidden files included)."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*")) if directory.exists() else []


@pytest.mark.parametrize("mode", ["dotdot", "absolute", "control"])
def test_file_names_that_escape_the_directory_are_refused(
    mode: str, emu: JsocEmulator, settings: JsocSettings, tmp_path: Path
) -> None:
    emu.configure(hostile_filenames=mode)
    target = tmp_path / "deep" / "data"

    result = jsoc_fetch(QUERY, path=str(target), settings=settings, fail_on_error=False)

    (block,) = result.blocks
    assert block.failed_step == "await_export"
    assert "Refusing the file name" in block.error and "nothing was written" in block.error
    assert "\n" not in block.error and "\x1b" not in block.error  # shown escaped, not interpreted
    assert entries(tmp_path) == []  # nothing written anywhere under the test directory
    assert not list(Path("/tmp").glob("hmi.m_45s.20140101_0000*magnetogram.fits"))
    assert emu.stats()["requests"].get("file:GET", 0) == 0  # refused before any download


def test_intermittent_html_instead_of_json_is_retried(
    emu: JsocEmulator, settings: JsocSettings, tmp_path: Path
) -> None:
    emu.configure(bad_json_rate=0.3, seed=5)

    result = jsoc_fetch(QUERY, path=str(tmp_path), settings=settings)

    assert result.ok and len(result.files) == 3
    assert emu.stats()["faults"]["bad_json"] > 0
    assert all(fits_problem(p) is None for p in result.files)


def test_a_server_that_only_answers_html_gives_a_clear_error(
    emu: JsocEmulator, settings: JsocSettings, tmp_path: Path, short_task_retry_delays: None
) -> None:
    emu.configure(bad_json_rate=1.0)
    brief = settings.model_copy(update={"http_retries": 1})

    with pytest.raises(JsocTransientError, match=r"did not answer JSON \(got '<!DOCTYPE html>"):
        jsoc_fetch(QUERY, path=str(tmp_path / "data"), settings=brief)

    assert emu.stats()["exports_submitted"] == 0
    assert entries(tmp_path) == []


def test_non_fits_bytes_of_the_right_length_are_not_kept(
    emu: JsocEmulator, settings: JsocSettings, tmp_path: Path
) -> None:
    emu.configure(non_fits_rate=1.0)
    brief = settings.model_copy(update={"http_retries": 1})

    failed = jsoc_fetch(QUERY, path=str(tmp_path), settings=brief, fail_on_error=False)

    (block,) = failed.blocks
    assert block.failed_step == "download"
    assert "not a FITS file" in block.error and "3 file(s) could not be downloaded" in block.error
    assert entries(tmp_path) == []  # neither the bad files nor their temporary copies are kept

    emu.configure(non_fits_rate=0.0)
    fixed = jsoc_fetch(QUERY, path=str(tmp_path), settings=settings)  # the next run repairs it
    served = served_files(emu, fixed.blocks[0].request_id)
    assert fixed.ok and sorted(p.name for p in fixed.files) == sorted(served)
    assert all(p.read_bytes() == served[p.name] for p in fixed.files)


def test_intermittent_non_fits_bytes_are_downloaded_again(
    emu: JsocEmulator, settings: JsocSettings, tmp_path: Path
) -> None:
    emu.configure(non_fits_rate=0.25, seed=3)

    result = jsoc_fetch(QUERY, path=str(tmp_path), settings=settings)

    assert result.ok and emu.stats()["faults"]["non_fits"] > 0
    served = served_files(emu, result.blocks[0].request_id)
    assert all(p.read_bytes() == served[p.name] for p in result.files)


@pytest.mark.parametrize(
    ("mode", "problem"),
    [
        ("short", r"truncated: \d+ bytes, headers declare \d+"),
        ("long", r"(?i)payload is not completed|content.length"),
        ("index", r"size is \d+ bytes, expected \d+"),
    ],
)
def test_sizes_that_lie_give_a_clear_error_and_no_file(
    mode: str, problem: str, emu: JsocEmulator, settings: JsocSettings, tmp_path: Path
) -> None:
    import re

    emu.configure(wrong_length=mode)
    brief = settings.model_copy(update={"http_retries": 1})

    result = jsoc_fetch(QUERY, path=str(tmp_path), settings=brief, fail_on_error=False)

    (block,) = result.blocks
    assert block.failed_step == "download", block
    assert re.search(problem, block.error), block.error
    assert block.files == [] and entries(tmp_path) == []


def test_a_stalled_download_times_out_within_the_configured_bound(
    emu: JsocEmulator, settings: JsocSettings, tmp_path: Path
) -> None:
    emu.configure(stall_downloads=1.0)
    brief = settings.model_copy(update={"http_retries": 1, "request_timeout": 1.0})

    result = jsoc_fetch(QUERY, path=str(tmp_path), settings=brief, fail_on_error=False)

    (block,) = result.blocks
    assert block.failed_step == "download"
    assert "Timeout" in block.error or "timeout" in block.error, block.error
    assert emu.stats()["faults"]["stall"] >= 2  # both rounds stalled, and both were given up
    assert entries(tmp_path) == []


def test_a_cgi_that_never_answers_times_out_within_the_configured_bound(emu: JsocEmulator) -> None:
    emu.configure(latency=30.0)
    client = JsocClient(JsocSettings(server_url=emu.url, request_timeout=0.5, http_retries=1, retry_backoff=0.05))

    # Without the 0.5 s timeout the 30 s late reply would arrive and the call would succeed.
    with pytest.raises(JsocTransientError, match=r"Could not reach JSOC jsoc_info.*timed out"):
        client.series_info("hmi.M_45s")


def test_an_export_that_never_finishes_times_out_within_the_configured_bound(
    emu: JsocEmulator, settings: JsocSettings, tmp_path: Path
) -> None:
    emu.configure(export_delay=3600.0)
    brief = settings.model_copy(update={"export_timeout": 2.0})

    result = jsoc_fetch(QUERY, path=str(tmp_path), settings=brief, fail_on_error=False)

    (block,) = result.blocks
    assert block.failed_step == "await_export"
    assert "was not ready after 2 s" in block.error and block.request_id in block.error
