"""The hostile-server knobs: bad file names, non-JSON replies, non-FITS bodies, lying sizes, stalls."""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse

import pytest
from jsoc_test_support import cgi, wait_until

from prefect_jsoc.emulator import EmulatorConfig, JsocEmulator
from prefect_jsoc.emulator.fitsfiles import sums_file_size

from .helpers import EMAIL, fetch

DS = "hmi.m_45s[2014.01.01_00:00:00_TAI/2m]{magnetogram}"


def staged_index(emu: JsocEmulator) -> dict:
    """Stage a small fits export and return its completed index document."""
    emu.configure(export_delay=0.0)
    reply = cgi(emu, "jsoc_fetch", op="exp_request", ds=DS, notify=EMAIL, method="url", protocol="fits")
    assert reply["status"] == 2, reply

    def done() -> dict | None:
        doc = cgi(emu, "jsoc_fetch", op="exp_status", requestid=reply["requestid"])
        return doc if doc["status"] in (0, "0") else None

    return wait_until(done)


def file_urls(emu: JsocEmulator) -> list[str]:
    doc = cgi(emu, "jsoc_info", op="rs_list", ds=DS, seg="magnetogram")
    return [emu.url + p.lstrip("/") for p in doc["segments"][0]["values"]]


def raw_get(emu: JsocEmulator, url: str, timeout: float = 10.0) -> tuple[int, int | None, bytes, str]:
    """GET with http.client; returns status, announced length, the bytes read and how it ended."""
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=timeout)
    conn.request("GET", urllib.parse.urlsplit(url).path)
    resp = conn.getresponse()
    announced = resp.getheader("Content-Length")
    body, ended = b"", "complete"
    try:
        while chunk := resp.read1(4096):
            body += chunk
        if announced and len(body) < int(announced):
            ended = "incomplete"
    except http.client.IncompleteRead as exc:
        body, ended = body + exc.partial, "incomplete"
    except (ConnectionError, TimeoutError) as exc:
        ended = type(exc).__name__
    finally:
        conn.close()
    return resp.status, int(announced) if announced else None, body, ended


def test_new_knobs_are_off_by_default_and_validated() -> None:
    cfg = EmulatorConfig()
    assert (cfg.hostile_filenames, cfg.bad_json_rate, cfg.non_fits_rate, cfg.wrong_length, cfg.stall_downloads) == (
        None,
        0.0,
        0.0,
        None,
        0.0,
    )
    with pytest.raises(ValueError, match="hostile_filenames"):
        EmulatorConfig(hostile_filenames="sideways")
    with pytest.raises(ValueError, match="wrong_length"):
        EmulatorConfig(wrong_length="huge")
    for name in ("bad_json_rate", "non_fits_rate", "stall_downloads"):
        with pytest.raises(ValueError, match=name):
            EmulatorConfig(**{name: 1.5})


@pytest.mark.parametrize(
    ("mode", "check"),
    [
        ("dotdot", lambda name: name.startswith("../../") and name.endswith(".fits")),
        ("absolute", lambda name: name.startswith("/tmp/") and name.endswith(".fits")),
        ("control", lambda name: "\n" in name and "\x1b" in name),
    ],
)
def test_hostile_filenames_rewrite_the_export_index(emu: JsocEmulator, mode: str, check) -> None:
    emu.configure(hostile_filenames=mode)
    doc = staged_index(emu)
    names = [row["filename"] for row in doc["data"]]
    assert len(names) == 3 and all(check(n) for n in names), names
    assert emu.stats()["faults"]["hostile_filenames"] >= 1


def test_bad_json_rate_answers_html_with_status_200(emu: JsocEmulator) -> None:
    emu.configure(bad_json_rate=1.0)
    status, headers, body = fetch(f"{emu.url}cgi-bin/ajax/show_series")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    assert emu.stats()["faults"] == {"bad_json": 1}
    assert emu.log()[-1]["fault"] == "bad_json"


def test_non_fits_rate_keeps_the_length_but_not_the_bytes(emu: JsocEmulator) -> None:
    url = file_urls(emu)[0]
    good = fetch(url)[2]
    emu.configure(non_fits_rate=1.0)
    status, headers, body = fetch(url)
    assert status == 200 and len(body) == len(good) == int(headers["Content-Length"])
    assert not body.startswith(b"SIMPLE") and body.startswith(b"<html>")
    # A range of the garbage is the same slice of the garbage.
    assert fetch(url, {"Range": "bytes=100-199"})[2] == body[100:200]
    assert emu.stats()["faults"]["non_fits"] == 2


def test_wrong_length_short_sends_a_clean_but_short_file(emu: JsocEmulator) -> None:
    url = file_urls(emu)[0]
    size = sums_file_size(emu.config.file_size)
    emu.configure(wrong_length="short")
    status, announced, body, ended = raw_get(emu, url)
    assert status == 200 and ended == "complete"
    assert announced == len(body) == size - 2880
    assert emu.stats()["faults"]["wrong_length"] == 1


def test_wrong_length_long_announces_more_than_it_sends(emu: JsocEmulator) -> None:
    url = file_urls(emu)[0]
    size = sums_file_size(emu.config.file_size)
    emu.configure(wrong_length="long")
    status, announced, body, ended = raw_get(emu, url)
    assert status == 200 and announced == size + 2880
    assert ended == "incomplete" and len(body) == size


def test_wrong_length_index_lies_about_sizes(emu: JsocEmulator) -> None:
    emu.configure(wrong_length="index")
    doc = staged_index(emu)
    sizes = {int(row["size"]) for row in doc["data"]}
    real = len(fetch(f"{emu.url}{doc['dir'].lstrip('/')}/{doc['data'][0]['filename']}")[2])
    assert len(sizes) == 1 and sizes.pop() < real


def test_stall_downloads_holds_the_connection_open(emu: JsocEmulator) -> None:
    url = file_urls(emu)[0]
    emu.configure(stall_downloads=1.0)
    began = time.monotonic()
    status, announced, body, ended = raw_get(emu, url, timeout=1.0)
    waited = time.monotonic() - began
    assert status == 200 and ended in ("timeout", "TimeoutError")
    assert 0 < len(body) < announced and waited >= 0.9
    assert emu.stats()["faults"]["stall"] == 1
    # Once the client has given up, the server lets go of the download too.
    wait_until(lambda: emu.stats()["downloads_now"] == 0, timeout=5)


def test_the_log_records_time_and_fault_of_every_request(emu: JsocEmulator) -> None:
    emu.configure(throttle_rate=1.0, seed=4)
    fetch(f"{emu.url}cgi-bin/ajax/show_series")
    emu.configure(throttle_rate=0.0)
    cgi(emu, "show_series")
    fetch(file_urls(emu)[0])
    log = emu.log()
    assert [e["kind"] for e in log] == ["CGI", "CGI", "CGI", "GET"]
    assert log[0]["fault"] in ("http_503", "http_429") and log[1]["fault"] is None
    assert log[0]["t"] <= log[1]["t"] <= log[3]["t"]
    assert json.loads(fetch(f"{emu.url}_emulator/log")[2]) == log
    emu.reset()
    assert emu.log() == []


def test_bandwidth_paces_files_smaller_than_one_write(emu: JsocEmulator) -> None:
    emu.configure(file_size=8192)
    url = file_urls(emu)[0]
    size = len(fetch(url)[2])
    assert size < 65536
    emu.configure(bandwidth=size / 0.6)
    began = time.monotonic()
    body = fetch(url)[2]
    assert len(body) == size and time.monotonic() - began >= 0.5
