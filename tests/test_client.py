"""JsocClient against the emulator: series info cache, records, and transient-fault handling."""

from __future__ import annotations

import json
import re
import socket
import urllib.error

import pytest
from jsoc_test_support import EMAIL, FAST, hmi_query, requests

from prefect_jsoc import JsocSettings
from prefect_jsoc.client import JsocClient, make_server_config
from prefect_jsoc.emulator import JsocEmulator
from prefect_jsoc.errors import (
    InvalidRecordSetError,
    JsocConnectionError,
    JsocProtocolError,
    JsocTransientError,
    UnknownSeriesError,
)

RS = "hmi.M_45s[2014.01.01_00:00:35_TAI-2014.01.01_00:02:35_TAI]"


class Sleeps(list):
    """A fake sleep that records the delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_server_config_always_has_a_trailing_slash():
    for url in ("http://127.0.0.1:8080", "http://127.0.0.1:8080/", "http://127.0.0.1:8080//"):
        cfg = make_server_config(url)
        assert cfg.url_jsoc_info == "http://127.0.0.1:8080/cgi-bin/ajax/jsoc_info"
        assert cfg.http_download_baseurl == "http://127.0.0.1:8080/"


def test_series_info_is_cached_by_the_client_and_case_insensitive(emu, settings):
    client = JsocClient.for_settings(settings)
    info = client.series_info("hmi.M_45s")
    assert info.primekeys == ("T_REC", "CAMERA")
    assert info.time_primekeys == ("T_REC",)
    assert info.slot_steps == {"T_REC": 45.0}
    assert "magnetogram" in info.segments
    assert info.filename_format() == "hmi.m_45s.{T_REC:A}.{CAMERA}.{segment}"
    assert JsocClient.for_settings(settings) is client  # the process shares one client per server
    client.series_info("HMI.m_45s")
    assert requests(emu, "jsoc_info:series_struct") == 1


def test_unknown_series_lists_similar_names(settings):
    with pytest.raises(
        UnknownSeriesError,
        match=re.escape(
            f"The series 'hmi.M_45x' does not exist on {settings.server_url}. Series starting with 'hmi' include: "
            "hmi.M_45s"
        ),
    ):
        JsocClient(settings).series_info("hmi.M_45x")


def test_count_and_query_return_typed_columns(settings):
    client = JsocClient(settings)
    assert client.count(RS) == 3
    table = client.query(RS, ["T_REC", "QUALITY", "DATAMEAN"], ["magnetogram"])
    assert table.colnames == ["T_REC", "QUALITY", "DATAMEAN", "magnetogram"]
    assert list(table["T_REC"]) == ["2014.01.01_00:00:45_TAI", "2014.01.01_00:01:30_TAI", "2014.01.01_00:02:15_TAI"]
    assert table["QUALITY"].dtype.kind == "i"  # hexadecimal strings become integers, as drms does
    assert table["DATAMEAN"].dtype.kind == "f"
    assert all(str(p).startswith("/SUM") for p in table["magnetogram"])
    empty = client.query("hmi.M_45s[2009.01.01_00:00:00_TAI-2009.01.01_00:01:00_TAI]", ["T_REC"])
    assert len(empty) == 0 and empty.colnames == ["T_REC"]


def test_records_are_read_with_the_series_definition_the_client_holds(emu, settings):
    client = JsocClient(settings)
    client.series_info("hmi.M_45s")
    client.query(RS, ["QUALITY"])
    client.query(RS, "**ALL**", ["magnetogram"], n=2)
    assert client.record_sizes(RS) == [client.query(RS, ["*size*"])["*size*"][0]] * 3
    assert requests(emu, "jsoc_info:series_struct") == 1  # drms is not asked for the definition again
    assert requests(emu, "jsoc_info:rs_list") == 4


def test_bad_record_set_is_a_validation_error(settings):
    with pytest.raises(InvalidRecordSetError, match="JSOC rejected the record set 'hmi.M_45s\\[2014'"):
        JsocClient(settings).count("hmi.M_45s[2014")


def test_http_500_is_retried_with_backoff_then_raised(emu, settings):
    emu.configure(fail_rate=1.0)
    sleeps = Sleeps()
    client = JsocClient(settings.model_copy(update={"http_retries": 3}), sleep=sleeps)
    with pytest.raises(JsocTransientError, match=re.escape("JSOC jsoc_info (series_struct) answered HTTP 500")) as info:
        client.series_info("hmi.M_45s")
    assert isinstance(info.value.__cause__, urllib.error.HTTPError)  # the cause is kept for debugging
    assert len(sleeps) == 3 and requests(emu, "jsoc_info:series_struct") == 4
    assert sleeps[0] < sleeps[1] < sleeps[2]  # exponential backoff (jitter stays within ±25 %)


def test_throttling_honours_retry_after(emu, settings):
    emu.configure(throttle_rate=1.0)
    sleeps = Sleeps()
    client = JsocClient(settings.model_copy(update={"http_retries": 2}), sleep=sleeps)
    with pytest.raises(JsocTransientError) as info:
        client.count(RS)
    assert info.value.http_status in (429, 503)
    assert info.value.retry_after == 1.0
    assert sleeps and all(s >= 1.0 for s in sleeps)


def test_a_page_that_is_not_json_is_a_transient_error(emu, settings):
    emu.configure(bad_json_rate=1.0)
    client = JsocClient(settings, sleep=Sleeps())
    with pytest.raises(JsocTransientError, match=re.escape("JSOC checkAddress.sh did not answer JSON (got '")) as info:
        client.check_email(EMAIL)
    assert isinstance(info.value.__cause__, json.JSONDecodeError)
    assert requests(emu, "checkAddress.sh") == 1 + settings.http_retries


def test_calls_succeed_with_faults_on(emu, settings):
    emu.configure(fail_rate=0.3, throttle_rate=0.1, seed=7)
    client = JsocClient(settings.model_copy(update={"http_retries": 3}), sleep=Sleeps())
    assert client.count(RS) == 3
    assert len(client.query(RS, ["T_REC"])) == 3
    assert client.check_email(EMAIL)[0] == 2
    assert sum(emu.stats()["faults"].values()) > 0


def test_slow_server_times_out_as_a_transient_error(emu, settings):
    emu.configure(latency=2.0)
    client = JsocClient(settings.model_copy(update={"request_timeout": 0.3, "http_retries": 0}))
    with pytest.raises(JsocTransientError, match=re.escape("Could not reach JSOC jsoc_info (rs_summary)")):
        client.count(RS)


def test_a_wrong_server_url_fails_at_once_naming_it(emu, isolated_state_dir):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    sleeps = Sleeps()
    client = JsocClient(JsocSettings(server_url=f"http://127.0.0.1:{dead}", **FAST), sleep=sleeps)
    refused = re.escape(f"Cannot connect to JSOC at http://127.0.0.1:{dead}/")
    with pytest.raises(JsocConnectionError, match=refused) as info:
        client.count(RS)
    assert isinstance(info.value.__cause__, urllib.error.URLError)
    unknown = JsocClient(JsocSettings(server_url="http://no-such-host.invalid", **FAST), sleep=sleeps)
    with pytest.raises(JsocConnectionError, match=re.escape("Cannot connect to JSOC at http://no-such-host.invalid/")):
        unknown.series_info("hmi.M_45s")
    assert sleeps == []  # refused, or no such host, on the very first call: no retries, no waiting
    wrong = JsocClient(JsocSettings(server_url=emu.url + "not-here/", http_retries=0, **FAST))
    with pytest.raises(
        JsocProtocolError,
        match=re.escape(
            f"JSOC jsoc_info (rs_summary) answered HTTP 404 Not Found for {emu.url}not-here/cgi-bin/ajax/jsoc_info?"
        ),
    ):
        wrong.count(RS)


def test_a_server_that_goes_away_mid_work_is_a_transient_fault(isolated_state_dir):
    with JsocEmulator() as short_lived:
        client = JsocClient(JsocSettings(server_url=short_lived.url, **FAST), sleep=Sleeps())
        assert client.count(RS) == 3  # the server answered once: later refusals are faults that may pass
    with pytest.raises(
        JsocTransientError, match=re.escape(f"Could not reach JSOC jsoc_info (rs_summary) at {client.server_url}")
    ):
        client.count(RS)


def test_check_email_and_export_round_trip(emu, settings):
    client = JsocClient(settings)
    assert client.check_email(EMAIL)[0] == 2
    assert client.check_email("nobody@unregistered.net")[0] == 4
    rs = "hmi.M_45s[2014.01.01_00:00:35_TAI/2m]{magnetogram}"
    reply = client.submit_export(hmi_query(), EMAIL, rs)
    assert int(reply["status"]) == 2 and reply["requestid"].startswith("JSOC_")
    assert {"wait", "size", "rcount", "method", "protocol"} <= set(reply)  # JSOC's whole reply, for the caller
    status = client.export_status(reply["requestid"])
    assert int(status["status"]) in (0, 1, 2, 6)
    assert emu.stats()["exports_submitted"] == 1
    quick = client.submit_export(hmi_query(protocol="as-is"), "quick@example.org", rs)
    assert int(quick["status"]) == 0 and quick["method"] == "url_quick" and "dir" in quick
    assert len(quick["data"]) == quick["rcount"] > 0
