"""The daily sync derives its window from the run's scheduled time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from flows.daily_sync import daily_sync, previous_day_window

UTC = UTC


@pytest.mark.parametrize(
    ("scheduled", "day"),
    [
        (datetime(2024, 3, 5, 2, 30, tzinfo=UTC), datetime(2024, 3, 4, tzinfo=UTC)),
        (datetime(2024, 3, 5, 0, 0, tzinfo=UTC), datetime(2024, 3, 4, tzinfo=UTC)),
        (datetime(2024, 3, 1, 23, 59, tzinfo=UTC), datetime(2024, 2, 29, tzinfo=UTC)),  # leap day
        (datetime(2024, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=5))), datetime(2023, 12, 30, tzinfo=UTC)),
        (datetime(2024, 3, 5, 2, 30), datetime(2024, 3, 4, tzinfo=UTC)),  # naive = UTC
    ],
)
def test_previous_day_window(scheduled: datetime, day: datetime) -> None:
    assert previous_day_window(scheduled) == (day, day + timedelta(days=1))


@pytest.mark.usefixtures("prefect_harness")
def test_a_late_scheduled_run_fetches_the_day_it_was_scheduled_for(jsoc_emulator, monkeypatch, tmp_path) -> None:
    """Create a flow run scheduled in the past, as a worker would find it, and run it."""
    from prefect import get_client
    from prefect.flow_engine import run_flow
    from prefect.states import Scheduled

    jsoc_emulator.configure(export_delay=0.2)
    monkeypatch.setenv("PREFECT_JSOC_SERVER_URL", jsoc_emulator.url)
    monkeypatch.setenv("PREFECT_JSOC_EMAIL", "daily@example.com")
    parameters = {"series": ["hmi.m_720s"], "segments": ["magnetogram"], "sample": "6h", "path": str(tmp_path)}
    scheduled = datetime(2014, 1, 2, 2, 30, tzinfo=UTC)
    with get_client(sync_client=True) as client:
        flow_run = client.create_flow_run(daily_sync, parameters=parameters, state=Scheduled(scheduled_time=scheduled))

    result = run_flow(daily_sync, flow_run=flow_run, parameters=parameters, return_type="result")

    assert result.ok
    assert {b.start for b in result.blocks} == {datetime(2014, 1, 1, tzinfo=UTC)}
    assert all(p.parent == tmp_path / "2014-01-01" for p in result.files)
    t_recs = sorted(p.name for p in result.files)
    assert t_recs and all("20140101" in name for name in t_recs), t_recs
