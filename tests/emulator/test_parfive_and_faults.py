"""parfive downloads with Range requests, and every fault knob seen by a client."""

from __future__ import annotations

import http.client
import time
import urllib.error
from pathlib import Path

import drms
import pytest
from drms.exceptions import DrmsExportError
from jsoc_test_support import cgi
from parfive import Downloader

from prefect_jsoc.emulator import JsocEmulator
from prefect_jsoc.emulator.fitsfiles import sums_file_size

from .helpers import fetch

QUICK_DS = "hmi.m_45s[2014.01.01_00:00:00_TAI/3m]{magnetogram}"


def sums_urls(emu: JsocEmulator, ds: str = QUICK_DS) -> list[str]:
    doc = cgi(emu, "jsoc_info", op="rs_list", ds=ds, seg="magnetogram")
    return [emu.url + p.lstrip("/") for p in doc["segments"][0]["values"]]


def download(urls: list[str], path: Path, **kwargs) -> object:  # type: ignore[no-untyped-def]
    dl = Downloader(progress=False, **kwargs)
    for i, url in enumerate(urls):
        dl.enqueue_file(url, path=path, filename=f"f{i}.fits")
    return dl.download()


def test_parfive_splits_downloads_into_ranges(emu: JsocEmulator, tmp_path: Path) -> None:
    urls = sums_urls(emu)
    results = download(urls, tmp_path, max_conn=2, max_splits=4)
    assert not results.errors and len(results) == 4
    for i, url in enumerate(urls):
        assert (tmp_path / f"f{i}.fits").read_bytes() == fetch(url)[2]
    requests = emu.stats()["requests"]
    assert requests["file:HEAD"] == 4 and requests["file:GET"] == 4 * 4 + 4


def test_head_and_range_answers(emu: JsocEmulator) -> None:
    url = sums_urls(emu)[0]
    size = sums_file_size(emu.config.file_size)
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=10)
    conn.request("HEAD", url)
    head = conn.getresponse()
    head.read()
    assert head.status == 200 and int(head.headers["Content-Length"]) == size
    assert head.headers["Accept-Ranges"] == "bytes"
    status, headers, body = fetch(url, {"Range": "bytes=10-19"})
    assert status == 206 and headers["Content-Range"] == f"bytes 10-19/{size}" and len(body) == 10
    assert fetch(url, {"Range": "bytes=-100"})[2] == fetch(url)[2][-100:]
    assert fetch(url, {"Range": f"bytes={size}-"})[0] == 416
    assert body == fetch(url)[2][10:20]
    assert fetch(emu.url + "SUM1/D1/S00000/magnetogram.fits")[0] == 404
    assert fetch(url.replace("magnetogram.fits", "nope.fits"))[0] == 404


def test_fail_rate_gives_http_500(client: drms.Client, emu: JsocEmulator) -> None:
    emu.configure(fail_rate=1.0)
    with pytest.raises(urllib.error.HTTPError, match="Failed to open URL: .* with 500"):
        client.query("hmi.m_45s[2014.01.01/1m]", key="T_REC")
    assert emu.stats()["faults"] == {"http_500": 1}


def test_throttle_rate_gives_503_or_429_with_retry_after(emu: JsocEmulator) -> None:
    emu.configure(throttle_rate=1.0, seed=4)
    codes = set()
    for _ in range(12):
        status, headers, _ = fetch(f"{emu.url}cgi-bin/ajax/show_series")
        assert headers["Retry-After"] == "1"
        codes.add(status)
    assert codes == {503, 429}
    assert emu.stats()["faults"]["throttle"] == 12


def test_latency_delays_every_cgi_call(emu: JsocEmulator) -> None:
    emu.configure(latency=0.3)
    started = time.monotonic()
    cgi(emu, "show_series")
    assert time.monotonic() - started >= 0.3
    assert emu.stats()["faults"]["latency"] == 1


def test_status4_rate_fails_export_requests(client: drms.Client, emu: JsocEmulator) -> None:
    emu.configure(status4_rate=1.0)
    req = client.export(QUICK_DS, method="url", protocol="fits")
    with pytest.raises(DrmsExportError, match=r"^Cant save new export-request hash\. \[status=4\]$"):
        req.wait(sleep=0.1)
    stats = emu.stats()
    assert stats["faults"]["status4"] == 1 and stats["exports_submitted"] == 0


def test_truncated_bodies_fail_downloads(emu: JsocEmulator, tmp_path: Path) -> None:
    urls = sums_urls(emu)[:2]
    emu.configure(truncate_rate=1.0)
    results = download(urls, tmp_path, max_conn=1, max_splits=1)
    assert len(results.errors) == 2 and len(results) == 0
    with pytest.raises(http.client.IncompleteRead):
        fetch(urls[0])
    assert emu.stats()["faults"]["truncate"] == 3


def test_dropped_connections_fail_downloads(emu: JsocEmulator, tmp_path: Path) -> None:
    urls = sums_urls(emu)[:2]
    emu.configure(drop_rate=1.0)
    results = download(urls, tmp_path, max_conn=1, max_splits=1)
    assert len(results.errors) == 2
    assert emu.stats()["faults"]["drop"] == 2
    emu.configure(drop_rate=0.0)
    assert not download(urls, tmp_path, max_conn=1, max_splits=1, overwrite=True).errors


def test_bandwidth_limits_each_download(emu: JsocEmulator) -> None:
    url = sums_urls(emu)[0]
    size = sums_file_size(emu.config.file_size)
    emu.configure(bandwidth=size / 0.5)
    started = time.monotonic()
    status, _, body = fetch(url)
    assert status == 200 and len(body) == size
    assert time.monotonic() - started >= 0.4
    assert emu.stats()["faults"]["bandwidth"] == 1


def test_concurrent_downloads_are_counted(emu: JsocEmulator, tmp_path: Path) -> None:
    urls = sums_urls(emu)
    emu.configure(bandwidth=sums_file_size(emu.config.file_size) / 0.4)
    results = download(urls, tmp_path, max_conn=3, max_splits=1)
    assert not results.errors
    assert emu.stats()["max_concurrent_downloads"] == 3


def test_faults_are_deterministic_for_a_seed(jsoc_emulator_factory) -> None:
    def outcomes(emu: JsocEmulator) -> list[int]:
        return [fetch(f"{emu.url}cgi-bin/ajax/show_series")[0] for _ in range(20)]

    one = outcomes(jsoc_emulator_factory(fail_rate=0.5, seed=7))
    two = outcomes(jsoc_emulator_factory(fail_rate=0.5, seed=7))
    other = outcomes(jsoc_emulator_factory(fail_rate=0.5, seed=8))
    assert one == two and set(one) == {200, 500} and other != one


def test_faults_are_off_by_default(client: drms.Client, emu: JsocEmulator, tmp_path: Path) -> None:
    for _ in range(5):
        client.query("hmi.m_45s[2014.01.01/1m]", key="T_REC")
    assert not download(sums_urls(emu), tmp_path).errors
    assert emu.stats()["faults"] == {}
