"""Series definitions as JSOC reports them: keyword order, types, units, segments, links, prime keys."""

from __future__ import annotations

import drms
import pytest
from jsoc_test_support import cgi

from prefect_jsoc.emulator import JsocEmulator
from prefect_jsoc.emulator.catalog import all_series
from prefect_jsoc.emulator.seriesdata import load

MODULES = {
    "hmi.M_45s": "hmi_m_45s",
    "hmi.V_45s": "hmi_v_45s",
    "hmi.Ic_45s": "hmi_ic_45s",
    "hmi.M_720s": "hmi_m_720s",
    "hmi.sharp_720s": "hmi_sharp_720s",
    "aia.lev1_euv_12s": "aia_lev1_euv_12s",
    "aia.lev1_uv_24s": "aia_lev1_uv_24s",
}


def test_every_catalogued_series_has_a_definition() -> None:
    assert {s.name for s in all_series()} == set(MODULES)


def test_sharp_keywords_come_in_definition_order(client: drms.Client) -> None:
    # What the real JSOC answers (drms documentation, sunpy's recorded series_struct reply).
    keys = client.keys("hmi.sharp_720s")
    assert keys[:5] == ["cparms_sg000", "magnetogram_bzero", "magnetogram_bscale", "cparms_sg001", "bitmap_bzero"]
    assert keys[-2:] == ["ERRJHT", "ERRVF"] and len(keys) == 339
    assert keys.index("HARPNUM") > keys.index("T_REC") > 0  # not prime keys first
    assert client.pkeys("hmi.sharp_720s") == ["HARPNUM", "T_REC"]


@pytest.mark.parametrize("series", sorted(MODULES))
def test_series_struct_serves_the_recorded_definition(emu: JsocEmulator, series: str) -> None:
    data = load(MODULES[series])
    doc = cgi(emu, "jsoc_info", op="series_struct", ds=series.lower())
    assert doc["status"] == 0 and doc["note"] == data.NOTE
    served = [
        (k["name"], k["type"], k["recscope"], k["defval"], k["units"], k["note"], k.get("linkinfo"))
        for k in doc["keywords"]
    ]
    assert served == [tuple(row) for row in data.KEYWORDS]
    assert [(s["name"], s["type"], s["protocol"], s["note"]) for s in doc["segments"]] == [
        (row[0], row[1], row[3], row[5]) for row in data.SEGMENTS
    ]
    assert [(ln["name"], ln["target"], ln["kind"], ln["note"]) for ln in doc["links"]] == [
        tuple(row) for row in data.LINKS
    ]
    assert [(p["name"], p["slotted"], p.get("step")) for p in doc["primekeysinfo"]] == [
        tuple(row) for row in data.PRIMEKEYSINFO
    ]
    assert (doc["retention"], doc["stagingretention"], doc["unitsize"], doc["archive"], doc["tapegroup"]) == (
        data.RETENTION,
        data.STAGINGRETENTION,
        data.UNITSIZE,
        data.ARCHIVE,
        data.TAPEGROUP,
    )
    assert doc["dbindex"] == list(data.DBINDEX) and doc["primekeys"] == [p[0] for p in data.PRIMEKEYSINFO]


def test_keyword_key_order_of_a_linked_keyword(emu: JsocEmulator) -> None:
    doc = cgi(emu, "jsoc_info", op="series_struct", ds="aia.lev1_euv_12s")
    t_obs = next(k for k in doc["keywords"] if k["name"] == "T_OBS")
    assert list(t_obs) == ["name", "linkinfo", "type", "recscope", "defval", "units", "note"]
    assert t_obs["linkinfo"] == "lev1->T_OBS"


def test_values_follow_the_definition(client: drms.Client, emu: JsocEmulator) -> None:
    doc = cgi(emu, "jsoc_info", op="rs_list", ds="hmi.m_45s[2014.01.01_00:00:00_TAI/90s]", key="**ALL**")
    values = {k["name"]: k["values"] for k in doc["keywords"]}
    assert list(values) == client.keys("hmi.m_45s")
    # A constant prints its defined value; a keyword the emulator does not model is MISSING,
    # as an unset keyword is on JSOC.
    assert values["T_REC_step"] == ["45.0", "45.0"] and values["BUNIT"] == ["Gauss", "Gauss"]
    assert values["magnetogram_bscale"] == ["0.1", "0.1"] and values["HISTORY"] == ["MISSING", "MISSING"]
    # Time keywords print in their own zone: DATE__OBS is ISO (UTC), T_OBS is TAI.
    assert values["DATE__OBS"][0].startswith("2013-12-31T23:59:") and values["DATE__OBS"][0].endswith("Z")
    assert values["T_OBS"][0].startswith("2013.12.31_23:59:5") and values["T_OBS"][0].endswith("_TAI")
    info = client.info("hmi.m_45s")
    assert bool(info.keywords.loc["DATE__OBS"].is_time) and not bool(info.keywords.loc["BUNIT"].is_numeric)
    seg = cgi(
        emu, "jsoc_info", op="rs_list", ds="hmi.sharp_720s[4864][2014.11.30_00:00:00_TAI]", seg="continuum,vlos_mag"
    )["segments"]
    assert [(s["bzeros"], s["bscales"]) for s in seg] == [(["97304"], ["3"]), (["0"], ["50"])]


def test_keyword_filter_on_a_time_keyword_in_utc(emu: JsocEmulator) -> None:
    ds = "hmi.m_45s[2014.01.01_00:00:00_TAI/10m][? DATE__OBS < '2013-12-31T23:59:40Z' ?]"
    doc = cgi(emu, "jsoc_info", op="rs_list", ds=ds, key="DATE__OBS")
    (values,) = [k["values"] for k in doc["keywords"]]
    assert doc["count"] == 1 and values[0] < "2013-12-31T23:59:40Z"
