"""sunpy's JSOCClient and Fido against the emulator (drms's built-in "jsoc" config points at it)."""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

import astropy.units as u
import pytest
from astropy.io import fits

from prefect_jsoc.emulator import JsocEmulator

from .helpers import EMAIL

jsoc = pytest.importorskip("sunpy.net.jsoc")
from sunpy.net import Fido  # noqa: E402
from sunpy.net import attrs as a  # noqa: E402
from sunpy.net.jsoc.jsoc import NotExportedError  # noqa: E402


@pytest.fixture()
def sunpy_jsoc(emu: JsocEmulator) -> Iterator[jsoc.JSOCClient]:
    """A JSOCClient whose drms clients all talk to the emulator."""
    import drms.config

    original = drms.config._server_configs["jsoc"]
    with emu.patch_drms_jsoc():
        yield jsoc.JSOCClient()
    assert drms.config._server_configs["jsoc"] is original


def test_time_and_series_search_matches_jsoc(sunpy_jsoc: jsoc.JSOCClient) -> None:
    res = sunpy_jsoc.search(a.Time("2014-01-01T00:00:00", "2014-01-01T01:00:00"), a.jsoc.Series("hmi.v_45s"))
    assert len(res) == 81
    assert res["T_REC"][0] == "2014.01.01_00:00:45_TAI" and res["T_REC"][-1] == "2014.01.01_01:00:45_TAI"
    assert {"TELESCOP", "INSTRUME", "WAVELNTH", "CAR_ROT", "QUALITY", "CRPIX1"} <= set(res.colnames)
    assert res["CAR_ROT"][0] == 2145


def test_wavelength_sample_and_segment(sunpy_jsoc: jsoc.JSOCClient) -> None:
    res = sunpy_jsoc.search(
        a.Time("2017-09-06T12:00:00", "2017-09-06T12:02:00"),
        a.jsoc.Series("aia.lev1_euv_12s"),
        a.Wavelength(304 * u.AA),
        a.jsoc.Segment("image"),
        a.Sample(24 * u.s),
    )
    assert list(res["T_REC"]) == [
        "2017-09-06T11:59:59Z",
        "2017-09-06T12:00:23Z",
        "2017-09-06T12:00:47Z",
        "2017-09-06T12:01:11Z",
        "2017-09-06T12:01:35Z",
        "2017-09-06T12:01:59Z",
    ]
    assert set(res["INSTRUME"]) == {"AIA_4"} and set(res["WAVELNTH"]) == {304}
    assert all(re.fullmatch(r"/SUM\d+/D\d+/S\d{5}/image_lev1\.fits", p) for p in res["image"])


def test_primekey_and_several_segments(sunpy_jsoc: jsoc.JSOCClient) -> None:
    res = sunpy_jsoc.search(
        a.Time("2014-11-30T00:00:00", "2014-11-30T00:30:00"),
        a.jsoc.Series("hmi.sharp_720s"),
        a.jsoc.PrimeKey("HARPNUM", "4864"),
        a.jsoc.Segment("magnetogram") & a.jsoc.Segment("bitmap"),
    )
    assert len(res) == 4 and set(res["HARPNUM"]) == {4864}
    assert res["magnetogram"][0].endswith("/magnetogram.fits") and res["bitmap"][0].endswith("/bitmap.fits")
    every = sunpy_jsoc.search(a.jsoc.Series("hmi.sharp_720s"), a.jsoc.PrimeKey("T_REC", "2014.11.30_00:00:00_TAI"))
    assert len(set(every["HARPNUM"])) == len(every) > 5


def test_keyword_filters(sunpy_jsoc: jsoc.JSOCClient) -> None:
    time = a.Time("2014-01-01T00:00:00", "2014-01-02T00:00:00")
    everything = sunpy_jsoc.search(time, a.jsoc.Series("hmi.m_45s"), a.Sample(15 * u.min))
    good = sunpy_jsoc.search(time, a.jsoc.Series("hmi.m_45s"), a.Sample(15 * u.min), a.jsoc.Keyword("QUALITY") == 0)
    assert len(everything) == 97 and 0 < len(good) <= len(everything)
    bright = sunpy_jsoc.search(
        a.Time("2014-01-01T00:00:00", "2014-01-01T00:00:10"),
        a.jsoc.Series("aia.lev1_euv_12s"),
        a.jsoc.Keyword("EXPTIME") > 2.5,
    )
    assert sorted(set(bright["WAVELNTH"])) == [94, 131, 211, 304, 335]


def test_or_queries_make_one_block_each(sunpy_jsoc: jsoc.JSOCClient) -> None:
    res = sunpy_jsoc.search(
        a.Time("2014-01-01T00:00:00", "2014-01-01T00:05:00"), a.jsoc.Series("hmi.m_45s") | a.jsoc.Series("hmi.ic_45s")
    )
    assert len(res.query_args) == 2 and len(res) == 14


@pytest.mark.parametrize(
    ("attrs", "error", "message"),
    [
        (
            (a.jsoc.Series("hmi.M_45s"), a.jsoc.PrimeKey("HARPNUM", "1")),
            ValueError,
            "Unexpected PrimeKeys were passed. The series hmi.M_45s supports the following Keywords: ['T_REC', 'CAMERA']",  # noqa: E501
        ),
        (
            (a.jsoc.Series("hmi.M_45s"), a.Time("2014-01-01", "2014-01-01T00:01"), a.Wavelength(171 * u.AA)),
            TypeError,
            "The series hmi.M_45s does not support wavelength attribute. The following primekeys are supported "
            "['T_REC', 'CAMERA']",
        ),
        (
            (a.jsoc.Series("hmi.M_45s"), a.Time("2014-01-01", "2014-01-01T00:01"), a.jsoc.Segment("image")),
            ValueError,
            "Unexpected Segments were passed. The series hmi.M_45s contains the following Segments ['magnetogram']",
        ),
        (
            (a.jsoc.Series("hmi.M_45s"), a.Time("2014-01-01", "2014-01-01T00:01"), a.jsoc.Keyword("EXPTIME") > 1),
            ValueError,
            "Keyword: 'EXPTIME' is not supported by series: hmi.M_45s",
        ),
        (
            (a.jsoc.Series("aia.lev1_euv_12s"), a.jsoc.Segment("image")),
            ValueError,
            "Time, Wavelength or an explicit PrimeKey must be specified.",
        ),
    ],
    ids=["unknown prime key", "wavelength on hmi", "unknown segment", "unknown keyword", "no time or prime key"],
)
def test_validation_errors(sunpy_jsoc: jsoc.JSOCClient, attrs: tuple, error: type, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        sunpy_jsoc.search(*attrs)


def test_unknown_series_surfaces_the_jsoc_error(sunpy_jsoc: jsoc.JSOCClient) -> None:
    from drms.exceptions import DrmsQueryError

    with pytest.raises(DrmsQueryError, match=r"series not found \[status=1\]"):
        sunpy_jsoc.search(a.Time("2014-01-01", "2014-01-01T00:01"), a.jsoc.Series("hmi.nope"))


def test_request_data_and_get_request_fits(sunpy_jsoc: jsoc.JSOCClient, emu: JsocEmulator, tmp_path: Path) -> None:
    emu.configure(export_delay=0.3)
    res = sunpy_jsoc.search(
        a.Time("2014-01-01T00:00:00", "2014-01-01T00:02:00"),
        a.jsoc.Series("hmi.m_45s"),
        a.jsoc.Notify(EMAIL),
        a.jsoc.Segment("magnetogram"),
    )
    req = sunpy_jsoc.request_data(res)
    assert req.status == 2 and req.method == "url" and req.protocol == "fits"
    with pytest.raises(NotExportedError):
        sunpy_jsoc.get_request(req, path=str(tmp_path), progress=False)
    assert req.wait(timeout=10, sleep=0.1)
    files = sunpy_jsoc.get_request(req.id, path=str(tmp_path), progress=False)
    assert not files.errors and len(files) == 3
    for path in files:
        with fits.open(path) as hdul:
            assert hdul[0].header["TELESCOP"] == "SDO/HMI" and hdul[0].data is not None
    assert emu.stats()["requests"]["file:HEAD"] == 3


def test_url_tar_request(sunpy_jsoc: jsoc.JSOCClient, emu: JsocEmulator, tmp_path: Path) -> None:
    res = sunpy_jsoc.search(
        a.Time("2014-01-01T00:00:00", "2014-01-01T00:00:20"),
        a.jsoc.Series("aia.lev1_euv_12s"),
        a.Wavelength(171 * u.AA),
        a.jsoc.Notify(EMAIL),
        a.jsoc.Segment("image"),
    )
    req = sunpy_jsoc.request_data(res, method="url-tar")
    assert req.wait(timeout=10, sleep=0.1)
    files = sunpy_jsoc.get_request(req, path=str(tmp_path), progress=False)
    assert len(files) == 1 and files[0].endswith(".tar")
    with tarfile.open(files[0]) as tar:
        assert len(tar.getnames()) == len(res) == 3


def test_fetch_fits_end_to_end(sunpy_jsoc: jsoc.JSOCClient, emu: JsocEmulator, tmp_path: Path) -> None:
    # sunpy 7's fetch waits with a fixed 5 s sleep once; the export itself is ready after 0.2 s.
    res = sunpy_jsoc.search(
        a.Time("2014-11-30T00:00:00", "2014-11-30T00:12:00"),
        a.jsoc.Series("hmi.sharp_720s"),
        a.jsoc.PrimeKey("HARPNUM", "4864"),
        a.jsoc.Segment("continuum"),
        a.jsoc.Notify(EMAIL),
    )
    files = sunpy_jsoc.fetch(res, path=str(tmp_path), progress=False, sleep=0.2)
    assert not files.errors and len(files) == len(res) == 2
    assert Path(files[0]).name == "hmi.sharp_720s.4864.20141130_000000_TAI.continuum.fits"
    with fits.open(files[0]) as hdul:
        assert hdul[0].header["HARPNUM"] == 4864


def test_fido_search_and_fetch_as_is(emu: JsocEmulator, tmp_path: Path) -> None:
    with emu.patch_drms_jsoc():
        res = Fido.search(
            a.Time("2014-01-01T00:00:00", "2014-01-01T00:02:00"),
            a.jsoc.Series("hmi.ic_45s"),
            a.jsoc.Notify(EMAIL),
            a.jsoc.Protocol("as-is"),
            a.jsoc.Segment("continuum"),
        )
        assert res.file_num == 3
        files = Fido.fetch(res, path=str(tmp_path / "{file}"), progress=False, sleep=0.2)
    assert not files.errors and len(files) == 3
    # sunpy puts url_quick files under their SUMS path
    assert all("/SUM" in f and f.endswith("continuum.fits") for f in files)
    for path in files:
        fits.getdata(path)
    stats = emu.stats()
    assert stats["status_replies"] == {"exp_request:0": 1} and stats["max_concurrent_downloads"] == 1
