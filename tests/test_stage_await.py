"""stage and await_export against the emulator: caching, slots, back-pressure, faults, expiry."""

from __future__ import annotations

import logging
import re
import tarfile

import pytest
from jsoc_test_support import EMAIL, hmi_query, requests
from prefect import flow

from prefect_jsoc import await_export, download, stage
from prefect_jsoc.downloads import verify_file
from prefect_jsoc.errors import (
    ExportBadRequestError,
    ExportNeedsStaffError,
    ExportNotFoundError,
    ExportTimeoutError,
    ExportTooLargeError,
)
from prefect_jsoc.exports import stage_export, wait_for_export
from prefect_jsoc.settings import MIN_POLL_INTERVAL

pytestmark = pytest.mark.usefixtures("prefect_harness")


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


def test_a_second_submission_of_one_query_reattaches_to_the_same_request(emu, settings, caplog):
    caplog.set_level(logging.INFO)
    first = stage_export(hmi_query(), settings)  # plain functions: no Prefect cache in between
    second = stage_export(hmi_query(), settings)
    assert second.request_id == first.request_id
    assert (first.reattached, second.reattached) == (False, True)
    assert emu.stats()["exports_submitted"] == 1
    assert f"with {first.request_id}, which an earlier run submitted at" in caplog.text
    assert requests(emu, "jsoc_fetch:exp_request") == 2 and emu.stats()["status_replies"].get("exp_request:7", 0) == 0


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
    import drms

    from prefect_jsoc.limits import ensure_limit, export_limit_name

    ensure_limit(export_limit_name(settings, EMAIL), 1)  # the Prefect side is ready before the clock starts
    emu.configure(export_delay=6.0)
    # A script outside our Prefect server (sunpy on a laptop) has this e-mail's one pending export.
    outside = drms.Client(emu.server_config()).export(
        "hmi.M_45s[2014.01.05_00:00:00_TAI/2m]{magnetogram}", method="url", protocol="fits", email=EMAIL
    )
    handle = stage_export(hmi_query(), settings)
    assert handle.request_id and handle.request_id != outside.id
    stats = emu.stats()
    assert stats["status_replies"].get("exp_request:7", 0) >= 1  # JSOC said "wait"; we waited, then submitted
    assert stats["exports_submitted"] == 2 and stats["max_pending_per_email"] == 1


def test_transient_status_4_and_http_faults_are_retried(emu, settings, tmp_path):
    emu.configure(status4_rate=0.3, fail_rate=0.15, throttle_rate=0.1, truncate_rate=0.2, drop_rate=0.1, seed=5)
    handle, manifest, result = fetch_flow(hmi_query(), tmp_path, settings)
    assert len(result.paths) == 3 and all(verify_file(p) is None for p in result.paths)
    faults = emu.stats()["faults"]
    assert sum(faults.values()) > 0, faults


def test_refusals_map_to_typed_errors_without_retrying(emu, settings):
    emu.configure(offline=True)
    with pytest.raises(ExportNeedsStaffError, match=re.escape("needs JSOC staff (status 25)")):
        stage_export(hmi_query(), settings)
    emu.configure(offline=False, size_limit_mb=0.5)
    with pytest.raises(ExportTooLargeError, match=re.escape("is too large for JSOC (status 3)")):
        stage_export(hmi_query(), settings)
    emu.configure(size_limit_mb=100_000, max_export_records=2)
    with pytest.raises(ExportBadRequestError, match=re.escape("was rejected as a bad request (status 4)")):
        stage_export(hmi_query(), settings)
    assert requests(emu, "jsoc_fetch:exp_request") == 3  # one each: permanent statuses are not retried
    state = stage(hmi_query(), settings=settings, return_state=True)
    assert state.is_failed() and requests(emu, "jsoc_fetch:exp_request") == 4


def test_an_export_the_server_forgot_is_a_typed_error_that_says_to_stage_again(emu, settings):
    handle = stage_export(hmi_query(), settings)
    emu.forget_exports()  # JSOC restarted or purged the request
    with pytest.raises(ExportNotFoundError, match="Stage the query again"):
        wait_for_export(handle, settings)


def test_export_timeout_leaves_the_export_pending(emu, settings):
    emu.configure(export_delay=30)
    impatient = settings.model_copy(update={"export_timeout": 1.5})
    handle = stage_export(hmi_query(), impatient)
    with pytest.raises(
        ExportTimeoutError, match=re.escape(f"Export {handle.request_id} for {handle.label} was not ready after 2 s")
    ) as info:
        wait_for_export(handle, impatient)
    assert info.value.request_id == handle.request_id
    assert emu.stats()["pending_now"] == 1


def test_the_first_poll_comes_when_jsoc_said_the_export_would_be_ready(emu, settings):
    emu.configure(export_delay=3.0)
    progress = []
    handle = stage_export(hmi_query(), settings)
    wait_for_export(handle, settings, on_progress=lambda *a: progress.append(a))
    assert handle.wait is not None and handle.wait >= 3.0  # JSOC's estimate, from the exp_request reply
    log = [e for e in emu.log() if e["what"] in ("jsoc_fetch:exp_request", "jsoc_fetch:exp_status")]
    request, polls = log[0], [e for e in log if e["what"] == "jsoc_fetch:exp_status"]
    assert len(polls) == 1  # no polling while JSOC said the export was not ready yet
    assert polls[0]["t"] - request["t"] >= handle.wait
    assert progress[-1][:2] == ("export", 1.0)


def test_polls_of_an_export_not_ready_yet_back_off_and_never_come_faster_than_the_floor(emu, settings):
    emu.configure(export_delay=0.2, notfound_polls=3)  # ready at once, but the first 3 polls say "not found yet"
    patient = settings.model_copy(update={"poll_interval": MIN_POLL_INTERVAL * 1.5})
    wait_for_export(stage_export(hmi_query(), patient), patient)
    polls = [e for e in emu.log() if e["what"] == "jsoc_fetch:exp_status"]
    assert [p["status"] for p in polls] == [6, 6, 6, 0]
    gaps = [b["t"] - a["t"] for a, b in zip(polls, polls[1:], strict=False)]
    # Lower bounds only (a sleep never ends early): 2 s, then 1.5x longer, up to poll_interval.
    assert gaps[0] >= MIN_POLL_INTERVAL, gaps
    assert gaps[1] >= 1.5 * MIN_POLL_INTERVAL and gaps[2] >= 1.5 * MIN_POLL_INTERVAL, gaps


def test_polls_back_off_from_two_seconds_to_the_poll_interval():
    from prefect_jsoc.polling import poll_until

    slept: list[float] = []
    answers = iter([None] * 6 + ["ready"])
    result = poll_until(
        lambda: next(answers),
        first_delay=3.0,
        then=2.0,
        maximum=5.0,
        timeout=3600,
        on_timeout=lambda waited: AssertionError(waited),
        sleep=slept.append,
    )
    assert result == "ready"
    assert slept == [3.0, 2.0, 3.0, 4.5, 5.0, 5.0, 5.0]


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
