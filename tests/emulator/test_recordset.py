"""Record-set parsing, slotted time semantics and record identity (no server needed)."""

from __future__ import annotations

import re

import pytest

from prefect_jsoc.emulator.catalog import SHARP_SEGMENTS, find_series
from prefect_jsoc.emulator.drmstime import format_drms, parse_duration, parse_time, tai_from_calendar
from prefect_jsoc.emulator.exports import format_filename
from prefect_jsoc.emulator.records import (
    keyword_string,
    record_from_recnum,
    record_from_sums,
    record_name,
    recnum,
    sums_dir,
)
from prefect_jsoc.emulator.recordset import RecordSetError, parse_recordset


def names(ds: str) -> list[str]:
    rs = parse_recordset(ds)
    return [record_name(rs.series, r) for r in rs.records()]


def test_time_strings_in_every_zone_agree() -> None:
    tai = parse_time("2014.01.01_00:00:35_TAI")
    assert parse_time("2014.01.01_00:00:00_UTC") == tai
    assert parse_time("2014-01-01T00:00:00Z") == tai
    assert parse_time("2014-01-01T00:00:35", default_zone="TAI") == tai
    assert parse_time("2014.01.01_00:00:35") == tai  # keyword unit (TAI) by default
    assert parse_time("2014.01.01_13") == parse_time("2014.01.01_13:00:00_TAI")
    assert format_drms(tai) == "2014.01.01_00:00:35_TAI"
    assert parse_duration("90.0s") == 90 and parse_duration("10m") == 600 and parse_duration("2d") == 172800


def test_sunpy_hour_of_hmi_v_45s_has_81_slots_from_00_00_45() -> None:
    # sunpy turns 2014-01-01 00:00-01:00 UTC into this TAI range.
    got = names("hmi.v_45s[2014.01.01_00:00:35_TAI-2014.01.01_01:00:35_TAI]")
    assert len(got) == 81
    assert got[0] == "hmi.V_45s[2014.01.01_00:00:45_TAI][2]"
    assert got[-1] == "hmi.V_45s[2014.01.01_01:00:45_TAI][2]"


def test_aia_slots_are_printed_in_utc() -> None:
    got = names("aia.lev1_euv_12s[2017.09.06_12:00:37_TAI-2017.09.06_12:02:37_TAI][304]")
    assert len(got) == 11
    assert got[0] == "aia.lev1_euv_12s[2017-09-06T11:59:59Z][304]"
    assert got[-1] == "aia.lev1_euv_12s[2017-09-06T12:01:59Z][304]"


def test_aia_slot_has_the_seven_euv_wavelengths_in_order() -> None:
    got = names("aia.lev1_euv_12s[2014-01-01T00:00:01Z]")
    assert [int(re.search(r"\]\[(\d+)\]$", n)[1]) for n in got] == [94, 131, 171, 193, 211, 304, 335]


def test_duration_excludes_the_end_and_range_includes_it() -> None:
    assert parse_recordset("hmi.m_45s[2014.01.01_00:00:00_TAI/1h]").count() == 80
    assert parse_recordset("hmi.m_45s[2014.01.01_00:00:00_TAI-2014.01.01_01:00:00_TAI]").count() == 81
    assert parse_recordset("hmi.m_720s[2014.01.01/1d]").count() == 120


def test_cadence_subsamples_slots() -> None:
    got = names("hmi.m_45s[2014.01.01_00:00:00_TAI-2014.01.01_00:06:00_TAI@90s]")
    assert [n.split("[")[1][11:19] for n in got] == ["00:00:00", "00:01:30", "00:03:00", "00:04:30", "00:06:00"]
    assert parse_recordset("hmi.m_45s[2014.01.01_00:00:00_TAI/1h@5m]").count() == 12


def test_comma_lists_named_keys_first_last_and_recnums() -> None:
    listed = "hmi.m_45s[2014.01.01_00:00:00_TAI,2014.01.01_00:00:45_TAI,2014.01.01_00:00:00_TAI]"
    assert parse_recordset(listed).count() == 2
    assert parse_recordset("aia.lev1_euv_12s[2014-01-01T00:00:01Z][171,193]").count() == 2
    assert parse_recordset("aia.lev1_euv_12s[2014-01-01T00:00:01Z][WAVELNTH=94-193]").count() == 4
    assert parse_recordset("hmi.m_45s[T_REC=2014.01.01_00:00:00_TAI/1h][CAMERA=2]").count() == 80
    assert parse_recordset("hmi.m_45s[2014.01.01/1h][3]").count() == 0
    last = names("hmi.m_720s[$]")
    assert len(last) == 1 and last[0].startswith("hmi.M_720s[2026.01.01")
    assert names("hmi.m_45s[:#10-#12]")[0] == names("hmi.m_45s[^]")[0].replace("00:00_TAI", "06:45_TAI")


def test_sharp_has_several_harps_at_a_time_and_harp_first_order() -> None:
    rs = parse_recordset("hmi.sharp_720s[][2014.11.30_00:00:00_TAI]")
    harps = [r.key for r in rs.records()]
    assert 5 <= len(harps) <= 30 and 4864 in harps and harps == sorted(harps)
    got = names("hmi.sharp_720s[4864][2014.11.30_00:00:00_TAI/1h]")
    assert got[0] == "hmi.sharp_720s[4864][2014.11.30_00:00:00_TAI]" and len(got) == 5
    rs = parse_recordset("hmi.sharp_720s[4863-4865][2014.11.30_00:00:00_TAI/24m]")
    assert [(r.key, r.slot) for r in rs.records()] == sorted((r.key, r.slot) for r in rs.records())
    assert rs.count() == 6
    assert len(SHARP_SEGMENTS) == 31 and len(find_series("hmi.sharp_720s").segments) == 31


def test_keyword_filters_compare_with_the_keyword_type() -> None:
    base = "hmi.m_45s[2014.01.01_00:00:00_TAI/1d]"
    total = parse_recordset(base).count()
    good = parse_recordset(base + "[? QUALITY = '0' ?]").count()
    bad = parse_recordset(base + "[? QUALITY > 0 ?]").count()
    assert good + bad == total and 0 < bad < total / 10
    assert parse_recordset(base + "[? QUALITY=0 AND T_REC < '2014.01.01_00:10:00_TAI' ?]").count() <= 14
    assert parse_recordset(base + "[? T_REC >= '2014.01.01_12:00:00_TAI' OR CAMERA != 2 ?]").count() == 960
    aia = parse_recordset("aia.lev1_euv_12s[2014-01-01T00:00:01Z][? EXPTIME > '2.5' ?]")
    assert sorted(r.key for r in aia.records()) == [94, 131, 211, 304, 335]
    inst = parse_recordset("aia.lev1_euv_12s[2014-01-01T00:00:01Z][? INSTRUME = 'AIA_2' ?]")
    assert [r.key for r in inst.records()] == [193, 211]


def test_segment_lists() -> None:
    rs = parse_recordset("hmi.sharp_720s[4864][2014.11.30_00:00:00_TAI]{magnetogram, bitmap}")
    assert rs.segments == ["magnetogram", "bitmap"]
    assert parse_recordset("hmi.m_45s[2014.01.01]{**ALL**}").segments is None


@pytest.mark.parametrize(
    ("ds", "kind"),
    [
        ("hmi.nope_45s[2014.01.01]", "series"),
        ("hmi.m_45s[2014.01.01", "syntax"),
        ("hmi.m_45s[][][]", "subset"),
        ("hmi.m_45s[FOO=1]", "subset"),
        ("hmi.m_45s[yesterday]", "subset"),
        ("hmi.m_45s[2014.01.01]{bogus}", "segment"),
        ("hmi.m_45s[2014.01.01][? NOSUCHKEY = 1 ?]", "query"),
        ("hmi.m_45s[2014.01.01][? QUALITY = 'abc' ?]", "query"),
        ("hmi.m_45s[2014.01.01],hmi.v_45s[2014.01.01]", "multi"),
    ],
)
def test_bad_record_sets_are_rejected(ds: str, kind: str) -> None:
    with pytest.raises(RecordSetError) as info:
        parse_recordset(ds)
    assert info.value.kind == kind


def test_unknown_keyword_in_filter_names_the_column() -> None:
    with pytest.raises(RecordSetError, match='column "nosuchkey" does not exist'):
        parse_recordset("hmi.m_45s[2014.01.01][? NOSUCHKEY = 1 ?]")


def test_count_matches_iteration_and_limits() -> None:
    for ds in ("hmi.m_45s[2014.01.01/3h@2m]", "aia.lev1_uv_24s[2014.01.01/10m]",
               "hmi.sharp_720s[][2014.11.29/1d]", "hmi.sharp_720s[4860-4870][2014.11.29/6h@1h]"):
        rs = parse_recordset(ds)
        assert rs.count() == sum(1 for _ in rs.records())
    rs = parse_recordset("hmi.m_45s[2014.01.01/1h]")
    first, last = list(rs.records(3)), list(rs.records(-2))
    assert len(first) == 3 and len(last) == 2 and last[-1] == list(rs.records())[-1]
    assert rs.count(5) == 5


def test_records_round_trip_through_recnum_and_sums_path() -> None:
    for ds in ("hmi.m_45s[2014.01.01_00:00:00_TAI/3m]", "aia.lev1_euv_12s[2014.01.01/30s]",
               "hmi.sharp_720s[][2014.11.30_00:00:00_TAI]"):
        rs = parse_recordset(ds)
        for rec in rs.records():
            assert record_from_recnum(rs.series, recnum(rs.series, rec)) == rec
            part, sunum, slot = map(int, re.match(r"/SUM(\d+)/D(\d+)/S(\d+)", sums_dir(rs.series, rec)).groups())
            assert record_from_sums(part, sunum, slot) == (rs.series, rec)


def test_keyword_values_look_like_jsoc() -> None:
    rs = parse_recordset("hmi.v_45s[2014.01.01_00:00:45_TAI]")
    s, rec = rs.series, next(rs.records())
    values = {kw.name: keyword_string(s, rec, kw) for kw in s.keywords}
    assert values["T_REC"] == "2014.01.01_00:00:45_TAI"
    assert values["TELESCOP"] == "SDO/HMI" and values["CAR_ROT"] == "2145"
    assert values["WAVELNTH"] == "6173.0" and re.fullmatch(r"0x[0-9a-f]{8}", values["QUALITY"])
    assert re.fullmatch(r"2014\.01\.01_00:00:4\d\.\d\d_TAI", values["T_OBS"])
    assert values["DATE__OBS"].startswith("2014-01-01T00:00:")
    assert {"CRPIX1", "CDELT1", "CTYPE1", "CUNIT1", "CRVAL1", "RSUN_OBS", "DSUN_OBS", "CROTA2"} <= set(values)
    assert "EXPTIME" not in values  # as on JSOC, HMI series have no EXPTIME
    sharp = find_series("hmi.sharp_720s")
    assert sharp.keyword("magnetogram_bzero") is not None and sharp.keyword("bitmap_bscale") is not None
    assert sharp.keyword("DATE-OBS").name == "DATE__OBS"


def test_filename_formats() -> None:
    rs = parse_recordset("hmi.m_45s[2014.01.01_00:00:45_TAI]")
    s, rec, seg = rs.series, next(rs.records()), rs.series.segments[0]
    assert format_filename("hmi.m_45s.{T_REC:A}.{CAMERA}.{segment}", s, rec, seg, 1) == \
        "hmi.m_45s.20140101_000045_TAI.2.magnetogram.fits"
    assert format_filename(None, s, rec, seg, 1) == f"hmi.M_45s.{recnum(s, rec)}.magnetogram.fits"
    assert format_filename("{seriesname}.{recnum:%lld}.{#}.{segment}", s, rec, seg, 7).endswith(".7.magnetogram.fits")
    aia = parse_recordset("aia.lev1_euv_12s[2014-01-01T00:00:01Z][171]")
    assert format_filename("aia.lev1_euv_12s.{T_REC:A}.{WAVELNTH}.{segment}", aia.series, next(aia.records()),
                           aia.series.segments[0], 1) == "aia.lev1_euv_12s.2014-01-01T000001Z.171.image_lev1.fits"


def test_interval_spans_whole_catalogue() -> None:
    rs = parse_recordset("hmi.m_45s[2014.01.01/52d]")
    assert rs.count() == 52 * 1920
    assert tai_from_calendar(2014, 1, 1) > rs.series.first
