"""Exports through drms and raw jsoc_fetch: every method and protocol, status codes and limits."""

from __future__ import annotations

import tarfile
from pathlib import Path

import drms
import pytest
from astropy.io import fits
from drms.exceptions import DrmsExportError
from jsoc_test_support import cgi, wait_until

from prefect_jsoc.emulator import JsocEmulator
from prefect_jsoc.emulator.fitsfiles import image_shape

from .helpers import EMAIL, fetch

DS = "hmi.m_45s[2014.01.01_00:00:00_TAI/2m]{magnetogram}"


def exp_request(emu: JsocEmulator, ds: str = DS, notify: str = EMAIL, **params: str) -> dict:
    params.setdefault("method", "url")
    params.setdefault("protocol", "fits")
    return cgi(emu, "jsoc_fetch", op="exp_request", format="json", ds=ds, notify=notify, **params)


def exp_status(emu: JsocEmulator, request_id: str) -> dict:
    return cgi(emu, "jsoc_fetch", op="exp_status", requestid=request_id)


def test_url_quick_as_is_answers_at_once(client: drms.Client, emu: JsocEmulator, tmp_path: Path) -> None:
    req = client.export(DS)  # drms default: url_quick / as-is
    assert req.id is None and req.status == 0
    d = req._d
    assert d["requestid"] == "" and d["dir"] == "" and d["size"] == 1 and d["count"] == 3
    assert d["data"][0]["record"] == "hmi.M_45s[2014.01.01_00:00:00_TAI][2]{magnetogram}"
    assert d["data"][0]["filename"].startswith("/SUM") and d["data"][0]["filename"].endswith("/magnetogram.fits")
    res = req.download(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"hmi.m_45s.20140101_{t}_TAI.2.magnetogram.fits" for t in ("000000", "000045", "000130")
    ]
    with fits.open(res.download[0]) as hdul:
        assert hdul[0].data.shape == image_shape(emu.config.file_size) and "TELESCOP" not in hdul[0].header
    stats = emu.stats()
    assert stats["exports_submitted"] == 1 and stats["max_pending_per_email"] == 0 and stats["pending_now"] == 0
    assert stats["status_replies"] == {"exp_request:0": 1}
    # the server counts bytes once sendfile returns, which may be just after the client has them
    size = Path(res.download[0]).stat().st_size
    wait_until(lambda: emu.stats()["bytes_served"] == 3 * size)


def test_url_fits_is_staged_then_ready(client: drms.Client, emu: JsocEmulator, tmp_path: Path) -> None:
    emu.configure(export_delay=0.5)
    req = client.export(DS, method="url", protocol="fits")
    assert req.status == 2 and req.id.startswith("JSOC_")
    first = exp_status(emu, req.id)
    assert first["status"] == 1 and first["requestid"] == req.id and isinstance(first["size"], int)
    assert emu.stats()["pending_now"] == 1
    assert req.wait(timeout=10, sleep=0.1)
    done = exp_status(emu, req.id)
    assert done["status"] == "0" and done["count"] == "3" and done["size"] == "1" and done["method"] == "url"
    assert done["keywords"] == "**IN FITS FILES**" and done["dir"].startswith("/SUM")
    assert done["data"][0] == {
        "record": "hmi.M_45s[2014.01.01_00:00:00_TAI][2]",
        "filename": "hmi.m_45s.20140101_000000_TAI.2.magnetogram.fits",
    }
    res = req.download(str(tmp_path))
    with fits.open(res.download[1]) as hdul:
        header = hdul[0].header
        assert header["T_REC"] == "2014.01.01_00:00:45_TAI" and header["TELESCOP"] == "SDO/HMI"
        assert header["DATE-OBS"].startswith("2014-01-01T00:00:") and header["CAR_ROT"] == 2145
        assert header["CTYPE1"] == "HPLN-TAN" and header["CDELT1"] == pytest.approx(0.504273)
        assert hdul[0].data.shape == image_shape(emu.config.file_size)
    stats = emu.stats()
    assert stats["exports_submitted"] == 1 and stats["max_pending_per_email"] == 1 and stats["pending_now"] == 0
    assert stats["status_replies"]["exp_request:2"] == 1 and stats["status_replies"]["exp_status:0"] >= 1


def test_staged_as_is_and_filenamefmt(client: drms.Client, emu: JsocEmulator, tmp_path: Path) -> None:
    req = client.export(
        "aia.lev1_euv_12s[2014-01-01T00:00:01Z][171,304]{image}",
        method="url",
        protocol="as-is",
        filenamefmt="{seriesname}.{T_REC:A}.{WAVELNTH}.{segment}",
    )
    assert req.wait(timeout=10, sleep=0.1)
    assert list(req.data.filename) == [
        "aia.lev1_euv_12s.2014-01-01T000001Z.171.image_lev1.fits",
        "aia.lev1_euv_12s.2014-01-01T000001Z.304.image_lev1.fits",
    ]
    assert req.data.record[0] == "aia.lev1_euv_12s[2014-01-01T00:00:01Z][171]{image}"
    assert req.keywords == f"{req.dir}/{req.id}.keywords.txt"
    status, _, body = fetch(emu.url + req.keywords.lstrip("/"))
    lines = body.decode().splitlines()
    assert status == 200 and lines[0].startswith("RECORD\tT_REC\tT_OBS\tWAVELNTH") and len(lines) == 3
    res = req.download(str(tmp_path))
    for path in res.download:
        with fits.open(path) as hdul:
            assert hdul[0].header["NAXIS"] == 2


def test_url_tar_produces_one_tar(client: drms.Client, emu: JsocEmulator, tmp_path: Path) -> None:
    req = client.export(
        "hmi.sharp_720s[4864][2014.11.30_00:00:00_TAI/24m]{magnetogram,bitmap}", method="url-tar", protocol="fits"
    )
    assert req.wait(timeout=10, sleep=0.1)
    assert req.tarfile == f"{req.dir}/{req.id}.tar"
    res = req.download(str(tmp_path))
    with tarfile.open(res.download[0]) as tar:
        members = tar.getnames()
        assert members == list(req.data.filename) and len(members) == 4
        assert members[0] == "hmi.sharp_720s.4864.20141130_000000_TAI.magnetogram.fits"
        with fits.open(tar.extractfile(members[1])) as hdul:
            assert hdul[0].header["HARPNUM"] == 4864 and hdul[0].header["SEGMENT"] == "bitmap"


def test_identical_requests_share_one_id(emu: JsocEmulator) -> None:
    emu.configure(export_delay=0.0)
    first = exp_request(emu)
    again = exp_request(emu)
    assert first["status"] == again["status"] == 2 and again["requestid"] == first["requestid"]
    other_format = exp_request(emu, filenamefmt="{seriesname}.{recnum:%d}.{segment}")
    assert other_format["requestid"] != first["requestid"]
    assert emu.stats()["exports_submitted"] == 2


def test_second_pending_export_per_email_gets_status_7(emu: JsocEmulator) -> None:
    emu.configure(export_delay=30)
    first = exp_request(emu)
    second = exp_request(emu, ds="hmi.v_45s[2014.01.01/1m]")
    assert second == {
        "status": 7,
        "error": (
            f"User {EMAIL} has 1 pending export requests ({first['requestid']}); please wait until at least one "
            "request has completed before submitting a new one."
        ),
    }
    assert exp_request(emu, notify="other@example.com", ds="hmi.v_45s[2014.01.01/1m]")["status"] == 2
    emu.configure(max_pending_per_email=2)
    assert exp_request(emu, ds="hmi.ic_45s[2014.01.01/1m]")["status"] == 2
    stats = emu.stats()
    assert stats["max_pending_per_email"] == 2 and stats["pending_now"] == 3 and stats["exports_submitted"] == 3
    assert stats["status_replies"]["exp_request:7"] == 1


def test_more_than_ten_pending_from_one_address_gets_status_7(emu: JsocEmulator) -> None:
    emu.configure(export_delay=30)
    for i in range(10):
        ds = f"hmi.m_45s[2014.01.01_00:{i:02d}:00_TAI]"
        assert exp_request(emu, notify=f"user{i}@example.org", ds=ds)["status"] == 2
    reply = exp_request(emu, notify="user10@example.org", ds="hmi.m_45s[2014.01.02]")
    assert reply["status"] == 7 and reply["error"].startswith("There are too many requests from user10@example.org")


def test_too_large_export_gets_status_3_without_making_files(emu: JsocEmulator, jsoc_emulator_factory) -> None:
    big = jsoc_emulator_factory(file_size=32 * 1024 * 1024)
    reply = exp_request(big, ds="hmi.m_45s[2014.01.01/30d]{magnetogram}")
    assert reply["status"] == 3 and reply["requestid"] == "VOID" and reply["count"] == 57_600
    assert reply["error"] == "Request exceeds max byte limit of 100000MB" and reply["size"] > 100_000
    assert not (big.data_dir / "sums").exists() and not (big.data_dir / "fits").exists()
    assert big.stats()["exports_submitted"] == 0


def test_bad_requests_get_status_4(emu: JsocEmulator) -> None:
    assert exp_request(emu, ds="hmi.nope[2014.01.01]") == {
        "status": 4,
        "error": "Cannot export series 'hmi.nope' - it does not exist.\n",
    }
    assert exp_request(emu, ds="hmi.m_45s[2014") == {"status": 4, "error": "Bad record-set query 'hmi.m_45s[2014'.\n"}
    assert exp_request(emu, notify="x@nowhere.net")["error"].startswith("Cannot process your request.")
    assert exp_request(emu, notify="")["error"] == "Email address for notification was not specfied. It is required."
    emu.configure(max_export_records=10)
    assert (
        exp_request(emu, ds="hmi.m_45s[2014.01.01/1h]")["error"]
        == "Can not open RecordSet 80 is too many records in one request."
    )
    assert exp_request(emu, method="url", protocol="jpg")["status"] == 4


def test_exp_status_errors(emu: JsocEmulator) -> None:
    assert exp_status(emu, "JSOC_20200101_999") == {
        "status": 4,
        "error": "invalid export DRMS record for ID `%s`JSOC_20200101_999",
    }
    assert exp_status(emu, "garbage") == {"status": 4, "error": "Bad RequestID 'garbage' provided."}
    assert exp_status(emu, "") == {"status": 4, "error": "RequestID must be provided"}


def test_drms_raises_on_failed_exports(client: drms.Client, emu: JsocEmulator) -> None:
    req = client.export("hmi.nope[2014.01.01]{magnetogram}", method="url", protocol="fits", email=EMAIL)
    with pytest.raises(DrmsExportError, match=r"it does not exist\.\n \[status=4\]"):
        req.wait(sleep=0.1)


def test_expired_export_answers_5_and_its_files_are_gone(client: drms.Client, emu: JsocEmulator) -> None:
    emu.configure(export_delay=0.0, export_retention=0.5)
    req = client.export(DS, method="url", protocol="fits")
    assert req.wait(timeout=5, sleep=0.05)
    url = f"{req.request_url}/{req.data.filename[0]}"
    assert fetch(url)[0] == 200
    reply = wait_until(lambda: (r := exp_status(emu, req.id))["status"] == 5 and r)
    assert reply["error"] == "Request was completed but is now deleted, 7 day limit exceeded"
    assert reply["wait"] == 999999 and reply["contact"] == "jsoc_help@jsoc.stanford.edu"
    assert fetch(url)[0] == 404


def test_offline_data_gets_status_25(client: drms.Client, emu: JsocEmulator) -> None:
    emu.configure(offline=True)
    reply = exp_request(emu)
    assert reply["status"] == 25 and "offline" in reply["error"] and reply["requestid"] in reply["error"]
    with pytest.raises(DrmsExportError, match=r"\[status=25\]"):
        client.export(DS).wait(sleep=0.1)
    assert emu.stats()["faults"]["offline"] == 2


def test_not_found_yet_is_retried_by_drms(client: drms.Client, emu: JsocEmulator) -> None:
    emu.configure(notfound_polls=2, export_delay=0.1)
    req = client.export(DS, method="url", protocol="fits")
    assert req.wait(timeout=10, sleep=0.05, retries_notfound=5)
    assert emu.stats()["status_replies"]["exp_status:6"] == 2


def test_request_ids_survive_restart(emu: JsocEmulator) -> None:
    emu.configure(export_delay=0.0)
    old = exp_request(emu)["requestid"]
    emu.restart()
    assert exp_status(emu, old)["status"] == 4
    new = exp_request(emu)["requestid"]
    assert new != old and int(new.rsplit("_", 1)[1]) > int(old.rsplit("_", 1)[1])


def test_processing_is_recorded_on_mod_series(client: drms.Client, emu: JsocEmulator) -> None:
    req = client.export(
        DS,
        method="url",
        protocol="fits",
        process={
            "im_patch": {
                "t_ref": "2014-01-01T00:00:00",
                "t": 0,
                "r": 0,
                "c": 0,
                "locunits": "arcsec",
                "boxunits": "arcsec",
                "x": 0,
                "y": 0,
                "width": 100,
                "height": 100,
            }
        },
        n=2,
    )
    assert req.wait(timeout=10, sleep=0.1)
    assert list(req.data.record) == [
        "hmi.M_45s_mod[2014.01.01_00:00:00_TAI][2]",
        "hmi.M_45s_mod[2014.01.01_00:00:45_TAI][2]",
    ]
