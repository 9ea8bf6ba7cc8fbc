"""JSOC's limits hold under load: one pending export per e-mail, bounded connections, polite backoff."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from prefect_jsoc import JsocQuery, JsocSettings
from prefect_jsoc.emulator import JsocEmulator
from prefect_jsoc.flows import jsoc_fetch

from ._support import fits_problem

pytestmark = pytest.mark.usefixtures("prefect_harness")


def block(i: int, minutes: int = 1) -> JsocQuery:
    """A distinct small block of hmi.M_45s: ``minutes`` long, starting ``i`` hours into 2014."""
    start = dt.datetime(2014, 1, 1) + dt.timedelta(hours=i)
    return JsocQuery(series="hmi.M_45s", start=start, end=start + dt.timedelta(minutes=minutes))


@pytest.mark.slow
def test_twenty_flows_with_one_email_never_have_two_pending_exports(
    emu: JsocEmulator, settings: JsocSettings, tmp_path: Path
) -> None:
    emu.configure(export_delay=0.2)
    assert emu.config.max_pending_per_email == 1  # the emulator enforces JSOC's rule (status 7)
    queries = [block(i) for i in range(20)]

    with ThreadPoolExecutor(max_workers=20) as pool:
        runs = [
            pool.submit(jsoc_fetch, q, path=str(tmp_path / f"run{i}"), settings=settings) for i, q in enumerate(queries)
        ]
        results = [run.result(timeout=240) for run in runs]

    stats = emu.stats()
    assert all(r.ok for r in results), [(b.label, b.error) for r in results for b in r.failed]
    assert stats["exports_submitted"] == 20
    assert stats["max_pending_per_email"] == 1
    # The flows coordinated among themselves: JSOC never had to refuse with status 7.
    assert stats["status_replies"].get("exp_request:7", 0) == 0
    for result in results:
        (only,) = result.blocks
        assert only.records and len(only.files) == only.records
        assert all(fits_problem(p) is None for p in only.files)


def test_download_connections_never_exceed_the_limit(emu: JsocEmulator, settings: JsocSettings, tmp_path: Path) -> None:
    emu.configure(export_delay=0.2, bandwidth=40_000)  # about half a second per file
    limited = settings.model_copy(update={"max_connections": 2})
    queries = [block(i, minutes=3) for i in range(3)]  # 4 files each, fetched by 3 flows at once

    with ThreadPoolExecutor(max_workers=3) as pool:
        runs = [
            pool.submit(jsoc_fetch, q, path=str(tmp_path / f"run{i}"), settings=limited) for i, q in enumerate(queries)
        ]
        results = [run.result(timeout=120) for run in runs]

    assert all(r.ok for r in results)
    assert sum(len(r.files) for r in results) == sum(r.blocks[0].records for r in results) == 15
    # Two connections were used at once, never more, although three flows downloaded together.
    assert emu.stats()["max_concurrent_downloads"] == 2


def test_429_and_503_are_backed_off_as_retry_after_asks(
    emu: JsocEmulator, settings: JsocSettings, tmp_path: Path
) -> None:
    emu.configure(throttle_rate=0.3, seed=4)

    result = jsoc_fetch(block(0, minutes=2), path=str(tmp_path), settings=settings)

    assert result.ok and len(result.files) == 3
    calls = [e for e in emu.log() if e["kind"] == "CGI"]
    throttled = [i for i, e in enumerate(calls) if e["fault"] in ("http_429", "http_503")]
    assert len(throttled) >= 3 and {calls[i]["fault"] for i in throttled} == {"http_429", "http_503"}
    for i in throttled:
        # One block runs its steps one after the other, so the next call is the retry: the same
        # CGI, no sooner than the server's Retry-After of 1 s.
        retry = calls[i + 1]
        assert retry["what"] == calls[i]["what"]
        assert retry["t"] - calls[i]["t"] >= 0.95, (calls[i], retry)
    # Not hammered: every throttled call was retried once per refusal, nothing more.
    unthrottled = len(calls) - len(throttled)
    assert unthrottled == len({(i, e["what"]) for i, e in enumerate(calls) if e["fault"] is None})
    assert len(calls) <= 2 * unthrottled


def test_a_download_starts_with_the_connections_that_are_free(settings: JsocSettings) -> None:
    """Another run holds one of two connections: a download wanting two starts at once with one."""
    from prefect_jsoc.limits import acquire_slots, download_limit_name, download_slots, release_slots

    two = settings.model_copy(update={"max_connections": 2, "export_timeout": 5.0})
    other = acquire_slots(download_limit_name(two), 2, 1, timeout=5, max_hold=60)
    try:
        with download_slots(two, wanted=2) as connections:
            assert connections == 1
    finally:
        release_slots(other)
    with download_slots(two, wanted=2) as connections:  # both free again
        assert connections == 2


def test_a_release_between_a_refused_ask_and_the_sleep_is_not_missed() -> None:
    """The waiter's sleep returns at once when a slot was given back since it last asked."""
    import time

    from prefect_jsoc.limits import leases

    asked_at = leases._releases_so_far()
    leases.release_slots("00000000-0000-0000-0000-000000000000")  # an unknown lease: only the wake-up counts
    started = time.monotonic()
    leases._sleep_until_freed(5.0, unless_since=asked_at)
    assert time.monotonic() - started < 1.0
