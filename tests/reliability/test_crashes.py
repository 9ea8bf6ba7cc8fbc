"""A fetch killed with SIGKILL resumes: same request ids, only missing files, complete and valid.

Each test starts ``_fetch_script.py`` (a real ``jsoc_fetch`` flow run) in a subprocess that shares
the test's Prefect API and result store, SIGKILLs it at a moment found
by polling the emulator's stats and the download directory (never a fixed sleep), then runs the
same fetch again in the test process and checks what the emulator saw.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from jsoc_test_support import wait_until

from prefect_jsoc import JsocQuery, JsocSettings
from prefect_jsoc.downloads import RECORD_DIR
from prefect_jsoc.emulator import JsocEmulator
from prefect_jsoc.flows import jsoc_fetch

from ._support import FetchProcess, fits_problem, query_specs, served_files

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.crash]

SPECS = query_specs(
    ("hmi.m_45s", "2014-01-01T00:00:00", "2014-01-01T00:02:00"),
    ("hmi.m_45s", "2014-01-01T06:00:00", "2014-01-01T06:02:00"),
)
QUERIES = [JsocQuery(**spec) for spec in SPECS]
FILES_PER_BLOCK = 3


@pytest.fixture()
def emu(fresh_emu: JsocEmulator) -> JsocEmulator:
    """This module kills processes: each test gets an emulator (hence Prefect limits) of its own."""
    return fresh_emu


def requests(emu: JsocEmulator, name: str) -> int:
    return int(emu.stats()["requests"].get(name, 0))


def awaiting(emu: JsocEmulator, since: dt.datetime) -> bool:
    """The first export is submitted and an ``await_export`` task run that started after ``since`` is
    running (asked of the shared Prefect API: the first status poll only comes when JSOC's ``wait``
    estimate has passed). ``since`` keeps out the runs left "Running" by processes earlier tests
    killed: the same task names, on the same Prefect server."""
    if emu.stats()["exports_submitted"] != 1:
        return False
    from prefect import get_client
    from prefect.client.schemas.filters import (
        TaskRunFilter,
        TaskRunFilterName,
        TaskRunFilterStartTime,
        TaskRunFilterState,
        TaskRunFilterStateName,
    )

    running = TaskRunFilter(
        name=TaskRunFilterName(like_="await_export"),
        state=TaskRunFilterState(name=TaskRunFilterStateName(any_=["Running"])),
        start_time=TaskRunFilterStartTime(after_=since),
    )
    with get_client(sync_client=True) as client:
        return bool(client.read_task_runs(task_run_filter=running, limit=1))


def kill_when(process: FetchProcess, condition, what: str, timeout: float = 90.0) -> None:
    """SIGKILL ``process`` as soon as ``condition()`` holds (it must not finish first)."""

    def ready() -> bool:
        if not process.alive():
            out, err = process.proc.communicate()  # type: ignore[union-attr]
            raise AssertionError(f"the fetch ended before {what}:\n{out[-2000:]}\n{err[-3000:]}")
        return bool(condition())

    wait_until(ready, timeout, what, interval=0.02)
    process.kill()


def assert_complete(result, emu: JsocEmulator, target: Path) -> None:
    assert result.ok, [(b.label, b.failed_step, b.error) for b in result.failed]
    assert [len(b.files) for b in result.blocks] == [FILES_PER_BLOCK] * len(QUERIES)
    for block in result.blocks:
        served = served_files(emu, block.request_id)
        for path in block.files:
            assert fits_problem(path) is None, path
            assert path.read_bytes() == served[path.name]
    names = sorted(p.name for p in target.iterdir() if p.name != RECORD_DIR)  # all but the verification records
    assert names == sorted(p.name for p in result.files)  # no .part or .lock left


def test_killed_while_awaiting_the_export_reattaches_to_the_same_request(
    emu: JsocEmulator, settings: JsocSettings, tmp_path: Path
) -> None:
    emu.configure(export_delay=6.0)  # long enough to kill it while JSOC is still staging
    target = tmp_path / "data"
    since = dt.datetime.now(dt.UTC)
    with FetchProcess(emu, target, SPECS).start() as first:
        kill_when(first, lambda: awaiting(emu, since), "the first export to be awaited")
    stats = emu.stats()
    assert stats["pending_now"] == 1 and requests(emu, "file:GET") == 0  # killed mid-staging
    assert requests(emu, "jsoc_fetch:exp_request") == 1
    emu.configure(export_delay=0.5)  # for exports submitted from now on

    result = jsoc_fetch(QUERIES, path=str(target), settings=settings)

    assert_complete(result, emu, target)
    stats = emu.stats()
    # One submission over both runs (the two blocks share one packed export): the second run
    # re-attached through the cache (the emulator would have de-duplicated a resubmission, so count
    # the calls).
    assert requests(emu, "jsoc_fetch:exp_request") == 1
    assert stats["exports_submitted"] == 1 and {b.request_id for b in result.blocks} == {result.request_ids[0]}
    assert stats["max_pending_per_email"] <= 1


def test_killed_mid_download_fetches_only_the_missing_files(
    emu: JsocEmulator, settings: JsocSettings, tmp_path: Path
) -> None:
    emu.configure(export_delay=0.3, bandwidth=12_000)  # about 2 s per file, one file at a time
    target = tmp_path / "data"

    def some_files_done() -> bool:
        done = list(target.glob("*.fits")) if target.exists() else []
        s = emu.stats()
        partial = list(target.glob(".*.part")) if target.exists() else []
        return len(done) >= 1 and partial and s["exports_submitted"] == 1 and s["downloads_now"] >= 1

    with FetchProcess(emu, target, SPECS).start() as first:
        kill_when(first, some_files_done, "a file on disk, the export staged and a download in flight")
    present = {p.name: p.read_bytes() for p in target.glob("*.fits")}
    assert list(target.glob(".*.part"))  # the killed run left a partial file, under a temporary name
    assert 1 <= len(present) < len(QUERIES) * FILES_PER_BLOCK
    emu.configure(bandwidth=None)
    emu.reset()
    # The killed run's download slot comes back only when its lease expires (about a minute;
    # tests/test_cli_process.py checks that): the re-run gets a second connection meanwhile.
    result = jsoc_fetch(QUERIES, path=str(target), settings=settings.model_copy(update={"max_connections": 2}))

    fetched = sorted(e["what"].rsplit("/", 1)[-1] for e in emu.log() if e["kind"] == "GET")
    assert requests(emu, "jsoc_fetch:exp_request") == 0  # the export re-attached through the cache
    assert_complete(result, emu, target)
    # Only what was missing went over the wire, once each.
    assert fetched == sorted({p.name for p in result.files} - set(present))
    assert sum(b.skipped for b in result.blocks) == len(present)
    assert sum(b.downloaded for b in result.blocks) == len(fetched)
    for name, data in present.items():
        assert (target / name).read_bytes() == data  # files from the killed run were kept as they were


def test_emulator_restart_between_runs_restages_each_lost_export_once(
    emu: JsocEmulator, settings: JsocSettings, tmp_path: Path, run_log: list[str]
) -> None:
    emu.configure(export_delay=30.0)  # it will never complete: the server forgets it first
    target = tmp_path / "data"
    since = dt.datetime.now(dt.UTC)
    with FetchProcess(emu, target, SPECS).start() as first:
        kill_when(first, lambda: awaiting(emu, since), "the first export to be awaited")
    assert requests(emu, "jsoc_fetch:exp_request") == 1
    emu.configure(export_delay=0.5)
    emu.restart()  # same port; every export is forgotten (as after a JSOC purge)
    emu.reset()
    # The killed run's export slot comes back only when its lease expires (about a minute; see
    # tests/test_cli_process.py): the new export may take a second slot meanwhile. JSOC forgot the
    # killed run's export, so it still sees one pending export at most (asserted below).
    result = jsoc_fetch(QUERIES, path=str(target), settings=settings.model_copy(update={"max_pending_exports": 2}))

    assert_complete(result, emu, target)
    # After the restart: the lost (cached) export was staged again, once, for both blocks.
    assert emu.stats()["exports_submitted"] == 1 and emu.stats()["max_pending_per_email"] <= 1
    assert requests(emu, "jsoc_fetch:exp_request") == 1
    restaged = [line for line in run_log if "staging it again" in line]
    assert len(restaged) == 1, run_log
    assert restaged[0].startswith("WARNING") and "JSOC can no longer serve it" in restaged[0]
