"""The unmodified drms client against the emulator: series, info, queries, e-mail checks."""

from __future__ import annotations

import drms
import numpy as np
import pytest
from drms.exceptions import DrmsQueryError
from jsoc_test_support import cgi

from prefect_jsoc.emulator import JsocEmulator


def test_series_lists_the_catalogue(client: drms.Client) -> None:
    names = client.series()
    assert {
        "hmi.M_45s",
        "hmi.V_45s",
        "hmi.Ic_45s",
        "hmi.M_720s",
        "hmi.sharp_720s",
        "aia.lev1_euv_12s",
        "aia.lev1_uv_24s",
    } <= set(names)
    assert names == sorted(names, key=str.lower)
    assert client.series(r"hmi\.m_") == ["hmi.M_45s", "hmi.M_720s"]
    full = client.series("aia", full=True)
    assert list(full.name) == ["aia.lev1_euv_12s", "aia.lev1_uv_24s"] and full.note[0]


def test_show_series_without_the_wrapper(emu: JsocEmulator) -> None:
    doc = cgi(emu, "show_series", filter="sharp")
    assert doc == {
        "status": 0,
        "n": 1,
        "names": [{"name": "hmi.sharp_720s", "primekeys": "HARPNUM, T_REC", "note": doc["names"][0]["note"]}],
    }
    assert cgi(emu, "show_series", filter="NOT hmi")["n"] == 2
    assert cgi(emu, "show_series", filter="(")["status"] == 1


def test_info_keys_and_pkeys(client: drms.Client) -> None:
    assert client.pkeys("hmi.m_45s") == ["T_REC", "CAMERA"]
    assert client.pkeys("hmi.sharp_720s") == ["HARPNUM", "T_REC"]
    assert client.pkeys("aia.lev1_euv_12s") == ["T_REC", "WAVELNTH"]
    info = client.info("hmi.sharp_720s")
    assert len(info.segments) == 31 and "magnetogram" in info.segments.index
    assert {"magnetogram_bzero", "magnetogram_bscale", "NOAA_AR", "CRPIX1"} <= set(client.keys("hmi.sharp_720s"))
    assert bool(info.keywords.loc["T_REC"].is_time) and bool(info.keywords.loc["HARPNUM"].is_integer)
    aia = client.info("aia.lev1_euv_12s")
    assert list(aia.segments.index) == ["image", "spikes"]
    assert aia.segments.loc["image"].protocol == "link via lev1"
    assert list(aia.links.index) == ["lev1"]


def test_series_struct_shape(emu: JsocEmulator) -> None:
    doc = cgi(emu, "jsoc_info", op="series_struct", ds="hmi.m_45s")
    assert doc["status"] == 0 and isinstance(doc["status"], int)
    assert doc["primekeysinfo"] == [{"name": "T_REC", "slotted": 1, "step": "45.0"}, {"name": "CAMERA", "slotted": 0}]
    assert doc["Interval"]["FirstRecord"].startswith("hmi.M_45s[2010.05.01_00:00:00_TAI]")
    assert isinstance(doc["Interval"]["LastRecnum"], int)
    assert doc["links"] == [] and doc["segments"][0]["dims"] == "181x181"
    assert cgi(emu, "jsoc_info", op="series_struct", ds="hmi.nope") == {"status": 1, "error": "series not found"}


def test_unknown_series_raises_query_error(client: drms.Client) -> None:
    with pytest.raises(DrmsQueryError, match=r"series not found \[status=1\]"):
        client.info("hmi.nope")
    with pytest.raises(DrmsQueryError, match=r"jsoc_info: series not found\. \[status=1\]"):
        client.query("hmi.nope[2014.01.01]", key="T_REC")


def test_query_keys_and_segments(client: drms.Client) -> None:
    keys, segs = client.query(
        "hmi.m_45s[2014.01.01_00:00:00_TAI/3m]", key="T_REC,QUALITY,DATAMEAN,CAR_ROT", seg="magnetogram"
    )
    assert list(keys.T_REC) == [f"2014.01.01_00:0{m}_TAI" for m in ("0:00", "0:45", "1:30", "2:15")]
    assert keys.DATAMEAN.dtype == np.float64 and keys.DATAMEAN.notna().all()
    assert set(keys.CAR_ROT) == {2145}
    assert all(p.startswith("/SUM") and p.endswith("/magnetogram.fits") for p in segs.magnetogram)
    assert len(set(segs.magnetogram)) == 4


def test_query_pkeys_rec_index_and_limit(client: drms.Client) -> None:
    res = client.query("aia.lev1_euv_12s[2014-01-01T00:00:01Z/1m]", key="EXPTIME", pkeys=True, rec_index=True, n=3)
    assert list(res.columns) == ["T_REC", "WAVELNTH", "EXPTIME"]
    assert list(res.index) == [f"aia.lev1_euv_12s[2014-01-01T00:00:01Z][{w}]" for w in (94, 131, 171)]
    tail = client.query("aia.lev1_euv_12s[2014-01-01T00:00:01Z/1m]", key="WAVELNTH", n=-2)
    assert list(tail.WAVELNTH) == [304, 335]


def test_rs_list_json_types(emu: JsocEmulator) -> None:
    doc = cgi(
        emu,
        "jsoc_info",
        op="rs_list",
        ds="hmi.m_45s[2014.01.01_00:00:00_TAI/90s]",
        key="T_REC,QUALITY,*recnum*,*size*,*online*,NOPE",
        seg="magnetogram,nope",
        link="nolink",
        R="1",
    )
    assert doc["status"] == 0 and doc["count"] == 2 and isinstance(doc["runtime"], float)
    values = {k["name"]: k["values"] for k in doc["keywords"]}
    assert values["T_REC"] == ["2014.01.01_00:00:00_TAI", "2014.01.01_00:00:45_TAI"]
    assert all(isinstance(v, str) for v in values["QUALITY"]) and values["QUALITY"][0].startswith("0x")
    assert all(isinstance(v, int) for v in values["*recnum*"])
    assert values["*size*"] == ["69120", "69120"] and values["*online*"] == ["Y", "Y"]
    assert values["NOPE"] == ["Invalid KeyLink", "Invalid KeyLink"]
    seg, bad = doc["segments"]
    assert seg["dims"] == ["181x181"] * 2 and seg["cparms"] == ["compress Rice"] * 2 and seg["bscales"] == ["0.1"] * 2
    assert bad["values"] == ["InvalidSegName"] * 2
    assert doc["links"] == [{"name": "nolink", "values": ["Invalid_Link", "Invalid_Link"]}]
    assert doc["recinfo"][0] == {"name": "hmi.M_45s[2014.01.01_00:00:00_TAI][2]", "online": 1}


def test_missing_values_and_keyword_filter(client: drms.Client, emu: JsocEmulator) -> None:
    ds = "hmi.m_45s[2014.01.01_00:00:00_TAI/1d]"
    doc = cgi(emu, "jsoc_info", op="rs_list", ds=ds + "[? QUALITY > 0 ?]", key="QUALITY,DATAMEDN")
    values = {k["name"]: k["values"] for k in doc["keywords"]}
    assert doc["count"] > 0 and set(values["DATAMEDN"]) == {"MISSING"}
    res = client.query(ds + "[? QUALITY > 0 ?]", key="DATAMEDN")
    assert res.DATAMEDN.isna().all()
    # JSOC prints QUALITY in hex; drms 0.9.0 only decodes that for object columns (not pandas 3 str).
    good = client.query(ds + "[? QUALITY = '0' ?]", key="QUALITY", convert_numeric=False)
    assert set(good.QUALITY) == {"0x00000000"} and len(good) + doc["count"] == 1920


def test_zero_records_reply_has_no_arrays(client: drms.Client, emu: JsocEmulator) -> None:
    doc = cgi(emu, "jsoc_info", op="rs_list", ds="hmi.m_45s[2000.01.01/1h]", key="T_REC", seg="magnetogram")
    assert set(doc) == {"count", "runtime", "status"} and doc["count"] == 0
    keys, segs = client.query("hmi.m_45s[2000.01.01/1h]", key="T_REC", seg="magnetogram")
    assert keys.empty and segs.empty


def test_rs_summary_and_errors(emu: JsocEmulator) -> None:
    ds = "hmi.v_45s[2014.01.01_00:00:35_TAI-2014.01.01_01:00:35_TAI]{Dopplergram}"
    doc = cgi(emu, "jsoc_info", op="rs_summary", ds=ds)
    assert doc["count"] == 81 and doc["status"] == 0
    bad = cgi(emu, "jsoc_info", op="rs_list", ds="hmi.m_45s[2014", key="T_REC")
    assert bad == {"status": 1, "error": "invalid record-set specification `hmi.m_45s[2014`"}
    assert cgi(emu, "jsoc_info", op="rs_list", ds="hmi.m_45s[2014.01.01][? NOPE=1 ?]", key="T_REC") == {
        "status": 1,
        "error": "problem with database query",
    }
    assert cgi(emu, "jsoc_info", op="rs_list", ds="hmi.m_45s[2014.01.01]{nope}", key="T_REC")["status"] == 1


def test_check_email(client: drms.Client, emu: JsocEmulator) -> None:
    assert client.check_email("someone@example.org") is True
    assert client.check_email("someone@elsewhere.net") is False
    assert client.check_email("not-an-address") is False
    with pytest.raises(ValueError, match="Email address is invalid or not registered"):
        drms.Client(emu.server_config(), email="someone@elsewhere.net")
    emu.configure(registered_emails=("someone@elsewhere.net",))
    assert client.check_email("someone@elsewhere.net") is True
    # drms quotes the address once more before urlencoding: the server must unquote twice.
    assert cgi(emu, "checkAddress.sh", address="a%2Bb%40example.com", checkonly=1)["status"] == 2
    assert cgi(emu, "checkAddress.sh", address="x@nowhere.net", checkonly=1) == {
        "status": 4,
        "msg": "email address has been neither validated nor registered",
        "user_id": -1,
    }
    assert cgi(emu, "checkAddress.sh", checkonly=1)["status"] == -2


def test_query_of_100k_records_is_one_rs_list(client: drms.Client, emu: JsocEmulator) -> None:
    keys, segs = client.query("hmi.v_45s[2014.01.01_00:00:00_TAI/52d]", key="T_REC,QUALITY", seg="Dopplergram")
    assert len(keys) == 99_840 and len(segs) == 99_840
    assert keys.T_REC.iloc[-1] == "2014.02.21_23:59:15_TAI"
    assert emu.stats()["requests"]["jsoc_info:rs_list"] == 1


def test_requests_are_counted_per_endpoint_and_op(client: drms.Client, emu: JsocEmulator) -> None:
    client.series()
    client.pkeys("hmi.m_45s")
    client.query("hmi.m_45s[2014.01.01/2m]", key="T_REC")
    requests = emu.stats()["requests"]
    assert requests["showextseries"] == 1
    assert requests["jsoc_info:series_struct"] >= 1 and requests["jsoc_info:rs_list"] == 1
    emu.reset()
    assert emu.stats()["requests"] == {}
