"""End-to-end tests of the library flows against the emulator, through a real Prefect server."""

from __future__ import annotations

from pathlib import Path

import pytest
from astropy.io import fits

from prefect_jsoc import JsocQuery, JsocSettings
from prefect_jsoc.errors import JsocValidationError
from prefect_jsoc.flows import Interval, QueryGrid, jsoc_fetch, jsoc_search

pytestmark = pytest.mark.usefixtures("prefect_harness")

INTERVALS = [
    Interval(start="2014-01-01T00:00:00", end="2014-01-01T00:01:30"),
    Interval(start="2014-01-01T06:00:00", end="2014-01-01T06:01:30"),
]


def grid() -> QueryGrid:
    return QueryGrid(series=["hmi.m_45s", "hmi.v_45s"], intervals=INTERVALS, options={"protocol": "fits"})


def test_or_query_of_two_series_and_two_intervals_fetches_every_record(emulator, tmp_path: Path) -> None:
    result = jsoc_fetch(grid(), path=str(tmp_path))

    assert [b.series for b in result.blocks] == ["hmi.m_45s", "hmi.m_45s", "hmi.v_45s", "hmi.v_45s"]
    assert result.ok, result.failed
    for block in result.blocks:
        assert block.records and block.records > 0
        assert len(block.files) == block.records  # one segment per record in these series
        assert block.request_id and block.request_id.startswith("JSOC_")
        assert block.shared_export  # the two intervals of a series went into one export
    assert [b.request_id for b in result.blocks[:2]] == [result.blocks[0].request_id] * 2
    assert len(result.request_ids) == 2
    assert len(set(result.files)) == sum(b.records for b in result.blocks)
    for path in result.files:
        assert path.parent == tmp_path and not path.name.endswith(".part")
        with fits.open(path) as hdul:
            header = hdul[-1].header
            assert header["T_REC"].startswith("2014.01.01_0")
            assert hdul[-1].data is not None
    assert not list(tmp_path.glob("*.part")) and not list(tmp_path.glob(".*.part"))
    stats = emulator.stats()
    assert stats["exports_submitted"] == 2  # one per series: blocks of one series are packed
    assert stats["max_pending_per_email"] == 1 and stats["status_replies"].get("exp_request:7", 0) == 0


def test_second_run_is_served_from_cache_and_fetches_nothing(emulator, tmp_path: Path) -> None:
    first = jsoc_fetch(grid(), path=str(tmp_path))
    emulator.reset()

    second = jsoc_fetch(grid(), path=str(tmp_path))

    stats = emulator.stats()
    assert stats["exports_submitted"] == 0
    assert stats["bytes_served"] == 0
    assert stats["requests"].get("file:GET", 0) == 0
    assert [b.request_id for b in second.blocks] == [b.request_id for b in first.blocks]
    assert sorted(second.files) == sorted(first.files)
    assert sum(b.downloaded for b in second.blocks) == 0
    assert sum(b.skipped for b in second.blocks) == len(first.files)


def test_dask_task_runner_gives_the_same_result(emulator, tmp_path: Path) -> None:
    from prefect_dask import DaskTaskRunner

    threads = jsoc_fetch(grid(), path=str(tmp_path / "threads"))
    on_dask = jsoc_fetch.with_options(
        task_runner=DaskTaskRunner(
            cluster_kwargs={"n_workers": 1, "threads_per_worker": 8, "processes": False, "dashboard_address": None}
        )
    )(grid(), path=str(tmp_path / "dask"))

    assert on_dask.ok
    assert sorted(p.name for p in on_dask.files) == sorted(p.name for p in threads.files)
    assert [b.request_id for b in on_dask.blocks] == [b.request_id for b in threads.blocks]
    for a, b in zip(sorted(threads.files), sorted(on_dask.files)):
        assert a.read_bytes() == b.read_bytes()


def test_one_invalid_block_stops_the_fetch_before_any_export(emulator, tmp_path: Path) -> None:
    queries = [
        JsocQuery(series="hmi.m_45s", start="2014-01-01T00:00:00", end="2014-01-01T00:01:00"),
        JsocQuery(series="hmi.m_45s", start="2014-01-01T00:00:00", end="2014-01-01T00:01:00", segments=["nope"]),
    ]
    with pytest.raises(JsocValidationError, match="nope"):
        jsoc_fetch(queries, path=str(tmp_path))
    assert emulator.stats()["exports_submitted"] == 0
    assert not list(tmp_path.iterdir()) if tmp_path.exists() else True


def test_search_flow_returns_a_typed_summary(emulator) -> None:
    summary = jsoc_search(grid(), settings=JsocSettings(server_url=emulator.url))

    assert len(summary.results) == 4
    assert summary.count == sum(r.count for r in summary.results)
    table = summary.table()
    assert len(table) == summary.count
    assert set(table["block"]) == {r.query.label for r in summary.results}
    assert emulator.stats()["exports_submitted"] == 0


def test_a_block_without_records_completes_empty_and_exports_nothing(emulator, tmp_path: Path) -> None:
    queries = [
        JsocQuery(series="hmi.m_45s", start="2014-01-01T00:00:00", end="2014-01-01T00:01:00"),
        JsocQuery(series="hmi.m_45s", start="2014-01-01T00:00:00", end="2014-01-01T00:01:00", filters=["QUALITY<0"]),
    ]
    result = jsoc_fetch(queries, path=str(tmp_path))

    assert result.ok
    full, empty = result.blocks
    assert full.records and len(full.files) == full.records
    assert empty.records == 0 and empty.files == [] and empty.request_id is None
    assert emulator.stats()["exports_submitted"] == 1


def _task_runs(flow_run_id, expected: int, timeout: float = 30.0) -> list:
    """The flow run's task runs once the API has recorded all of them as finished."""
    import time as _time

    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = _time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            if len(runs) >= expected and all(r.end_time for r in runs):
                return runs
            assert _time.monotonic() < deadline, f"API recorded {len(runs)} finished task runs, expected {expected}"
            _time.sleep(0.2)


def test_a_finished_export_downloads_while_later_blocks_are_still_staging(emulator, tmp_path: Path) -> None:
    emulator.configure(export_delay=1.0)
    state = jsoc_fetch(grid(), path=str(tmp_path), return_state=True)
    assert state.is_completed()

    # per block: validate, search, download; per export (one per series): export, stage, await_export
    runs = _task_runs(state.state_details.flow_run_id, expected=4 * 3 + 2 * 3)
    names = {r.name.split(" · ")[0] for r in runs}
    assert names == {"validate", "search", "export", "stage", "await_export", "download"}
    assert all(" · hmi." in r.name and "2014-01-01" in r.name for r in runs)  # readable run names
    first_download_start = min(r.start_time for r in runs if r.name.startswith("download"))
    last_await_end = max(r.end_time for r in runs if r.name.startswith("await_export"))
    # One pending export at a time means exports finish one after another; the first series'
    # files start downloading while the last export is still staging.
    assert first_download_start < last_await_end
    assert emulator.stats()["max_pending_per_email"] == 1


def test_path_templates_know_the_segment_of_a_fits_export(emulator, tmp_path: Path) -> None:
    q = JsocQuery(series="hmi.m_45s", start="2014-01-01T00:00:00", end="2014-01-01T00:01:30", segments=["magnetogram"])
    result = jsoc_fetch(q, path=str(tmp_path / "{series}" / "{segment}" / "{file}"))
    assert result.ok and result.files
    assert {p.parent.relative_to(tmp_path) for p in result.files} == {Path("hmi.m_45s") / "magnetogram"}
