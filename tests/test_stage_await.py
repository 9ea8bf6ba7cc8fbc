"""stage and await_export against the emulator: caching, slots, back-pressure, faults, expiry."""

from __future__ import annotations

import logging
import re
import tarfile
import threading

import pytest
from jsoc_test_support import emu, hmi_query, requests, settings  # noqa: F401
from prefect import flow

from prefect_jsoc import await_export, download, stage
from prefect_jsoc.client import clear_series_cache
from prefect_jsoc.errors import (
    JsocExportBadRequest,
    JsocExportNeedsStaff,
    JsocExportTimeout,
    JsocExportTooLarge,
)
from prefect_jsoc.exports import stage_export, wait_for_export
from prefect_jsoc.downloads import verify_file

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_series_cache()


@flow
def fetch_flow(query, path, settings):
    handle = stage(query, settings=settings)
    manifest = await_export(handle, settings=settings)
    return handle, manifest, download(manifest, path, settings=settings)


def test_rerun_of_the_same_query_submits_nothing_and_downloads_nothing(emu, settings, tmp_path):
    handle, manifest, result = fetch_flow(hmi_query(), tmp_path, settings)
    assert handle.request_id and manifest.request_id == handle.request_id
    assert [p.name for p in result.paths] == [
        "hmi.m_45s.20140101_000045_TAI.2.magnetogram.fits",
        "hmi.m_45s.20140101_000130_TAI.2.magnetogram.fits",
        "hmi.m_45s.20140101_000215_TAI.2.magnetogram.fits",
    ]
    assert all(verify_file(p) is None for p in result.paths)
    gets = requests(emu, "file:GET")
    assert (emu.stats()["exports_submitted"], gets, result.downloaded) == (1, 3, 3)

    # the same query, written differently, in a new flow run
    again = hmi_query(start="2014.01.01_00:00:35_TAI", segments="magnetogram")
    handle2, manifest2, result2 = fetch_flow(again, tmp_path, settings)
    assert handle2.request_id == handle.request_id
    assert emu.stats()["exports_submitted"] == 1
    assert requests(emu, "file:GET") == gets
    assert (result2.downloaded, result2.skipped) == (0, 3)


def test_plain_functions_reattach_through_the_ledger(emu, settings):
    first = stage_export(hmi_query(), settings)
    second = stage_export(hmi_query(), settings)
    assert second.request_id == first.request_id
    assert emu.stats()["exports_submitted"] == 1


def test_concurrent_stages_of_one_query_submit_once(emu, settings):
    @flow
    def twice(q):
        a = stage.submit(q, settings=settings)
        b = stage.submit(q, settings=settings)
        return a.result(), b.result()

    a, b = twice(hmi_query())
    assert a.request_id == b.request_id
    assert emu.stats()["exports_submitted"] == 1


def test_pending_exports_are_serialised_per_email(emu, settings):
    queries = [hmi_query(start=f"2014-01-0{d}T00:00:00", end=f"2014-01-0{d}T00:02:00") for d in (1, 2, 3)]

    @flow
    def many():
        handles = [stage.submit(q, settings=settings) for q in queries]
        manifests = [await_export.submit(h, settings=settings) for h in handles]
        return [m.result() for m in manifests]

    manifests = many()
    assert len({m.request_id for m in manifests}) == 3
    stats = emu.stats()
    assert stats["exports_submitted"] == 3
    assert stats["max_pending_per_email"] == 1
    assert stats["status_replies"].get("exp_request:7", 0) == 0  # we never even hit the server's limit


def test_status_7_is_back_pressure_not_failure(emu, settings):
    greedy = settings.model_copy(update={"max_pending_exports": 3})  # more than the server allows
    queries = [hmi_query(start=f"2014-01-0{d}T00:00:00", end=f"2014-01-0{d}T00:02:00") for d in (1, 2)]
    handles: list = [None, None]

    def run(i):
        handles[i] = stage_export(queries[i], greedy)
        wait_for_export(handles[i], greedy)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(h is not None and h.request_id for h in handles)
    stats = emu.stats()
    assert stats["status_replies"].get("exp_request:7", 0) >= 1
    assert stats["exports_submitted"] == 2 and stats["max_pending_per_email"] == 1


def test_transient_status_4_and_http_faults_are_retried(emu, settings, tmp_path):
    emu.configure(status4_rate=0.5, fail_rate=0.2, throttle_rate=0.1, truncate_rate=0.3, drop_rate=0.2, seed=5)
    flaky = settings.model_copy(update={"http_retries": 8})
    handle, manifest, result = fetch_flow(hmi_query(), tmp_path, flaky)
    assert len(result.paths) == 3 and all(verify_file(p) is None for p in result.paths)
    faults = emu.stats()["faults"]
    assert sum(faults.values()) > 0, faults


def test_refusals_map_to_typed_errors_without_retrying(emu, settings):
    emu.configure(offline=True)
    with pytest.raises(JsocExportNeedsStaff, match=re.escape("needs JSOC staff (status 25)")):
        stage_export(hmi_query(), settings)
    emu.configure(offline=False, size_limit_mb=0.5)
    with pytest.raises(JsocExportTooLarge, match=re.escape("is too large for JSOC (status 3)")):
        stage_export(hmi_query(), settings)
    emu.configure(size_limit_mb=100_000, max_export_records=2)
    with pytest.raises(JsocExportBadRequest, match=re.escape("was rejected as a bad request (status 4)")):
        stage_export(hmi_query(), settings)
    assert requests(emu, "jsoc_fetch:exp_request") == 3  # one each: permanent statuses are not retried
    state = stage(hmi_query(), settings=settings, return_state=True)
    assert state.is_failed() and requests(emu, "jsoc_fetch:exp_request") == 4


def test_expired_export_is_restaged_once_and_remembered(emu, settings, caplog):
    caplog.set_level(logging.INFO, logger="prefect_jsoc")
    handle = stage_export(hmi_query(), settings)
    emu.forget_exports()  # JSOC restarted or purged the request
    manifest = wait_for_export(handle, settings)
    assert manifest.request_id and manifest.request_id != handle.request_id
    assert f"Export {handle.request_id} for {handle.label} is gone from the server (expired); re-staging once." in (
        caplog.text
    )
    assert emu.stats()["exports_submitted"] == 2
    # a later run still holding the old handle goes straight to the new request
    again = wait_for_export(handle, settings)
    assert again.request_id == manifest.request_id
    assert emu.stats()["exports_submitted"] == 2


def test_export_timeout_leaves_the_export_pending(emu, settings):
    emu.configure(export_delay=30)
    impatient = settings.model_copy(update={"export_timeout": 1.5})
    handle = stage_export(hmi_query(), impatient)
    with pytest.raises(JsocExportTimeout, match=re.escape(
            f"Export {handle.request_id} for {handle.label} was not ready after 2 s")) as info:
        wait_for_export(handle, impatient)
    assert info.value.request_id == handle.request_id
    assert emu.stats()["pending_now"] == 1


def test_polling_starts_fast_and_backs_off(emu, settings):
    emu.configure(export_delay=3.0)
    slow_poll = settings.model_copy(update={"poll_interval": 5.0})
    progress = []
    wait_for_export(stage_export(hmi_query(), slow_poll), slow_poll, on_progress=lambda *a: progress.append(a))
    polls = requests(emu, "jsoc_fetch:exp_status")
    assert 2 <= polls <= 4  # ~1 s, 2 s, 3.5 s: no tight loop, no 5 s first wait
    assert progress[-1][:2] == ("export", 1.0)


def test_quick_as_is_export_needs_no_request(emu, settings, tmp_path):
    handle = stage(hmi_query(protocol="as-is"), settings=settings)
    assert handle.request_id is None and handle.method == "url_quick" and len(handle.files) == 3
    manifest = await_export(handle, settings=settings)
    assert requests(emu, "jsoc_fetch:exp_status") == 0
    assert manifest.files[0].filename == "hmi.m_45s.20140101_000045_TAI.2.magnetogram.fits"
    result = download(manifest, tmp_path / "{series}" / "{CAMERA}" / "{file}", settings=settings)
    assert [p.relative_to(tmp_path).parts[:2] for p in result.paths] == [("hmi.M_45s", "2")] * 3


def test_tar_export_downloads_one_verified_tar(emu, settings, tmp_path):
    handle, manifest, result = fetch_flow(hmi_query(method="url-tar"), tmp_path, settings)
    assert len(result.paths) == 1 and result.paths[0].suffix == ".tar"
    assert tarfile.is_tarfile(result.paths[0])
    with tarfile.open(result.paths[0]) as tar:
        assert len([m for m in tar.getmembers() if m.name.endswith(".fits")]) == 3
