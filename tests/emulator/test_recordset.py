"""Record-set parsing, slotted time semantics and record identity, and comma-separated value sets
through the server and the unmodified drms client."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from drms.exceptions import DrmsQueryError
from jsoc_test_support import cgi

from prefect_jsoc.emulator.catalog import SHARP_SEGMENTS, find_series
from prefect_jsoc.emulator.drmstime import format_drms, parse_duration, parse_time, tai_from_calendar
from prefect_jsoc.emulator.exports import format_filename
from prefect_jsoc.emulator.records import (
    keyword_string,
    recnum,
    record_from_recnum,
    record_from_sums,
    record_name,
    sums_dir,
)
from prefect_jsoc.emulator.recordset import RecordSetError, parse_recordset

from .helpers import EMAIL


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
    for ds in (
        "hmi.m_45s[2014.01.01/3h@2m]",
        "aia.lev1_uv_24s[2014.01.01/10m]",
        "hmi.sharp_720s[][2014.11.29/1d]",
        "hmi.sharp_720s[4860-4870][2014.11.29/6h@1h]",
    ):
        rs = parse_recordset(ds)
        assert rs.count() == sum(1 for _ in rs.records())
    rs = parse_recordset("hmi.m_45s[2014.01.01/1h]")
    first, last = list(rs.records(3)), list(rs.records(-2))
    assert len(first) == 3 and len(last) == 2 and last[-1] == list(rs.records())[-1]
    assert rs.count(5) == 5


def test_records_round_trip_through_recnum_and_sums_path() -> None:
    for ds in (
        "hmi.m_45s[2014.01.01_00:00:00_TAI/3m]",
        "aia.lev1_euv_12s[2014.01.01/30s]",
        "hmi.sharp_720s[][2014.11.30_00:00:00_TAI]",
    ):
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
    assert (
        format_filename("hmi.m_45s.{T_REC:A}.{CAMERA}.{segment}", s, rec, seg, 1)
        == "hmi.m_45s.20140101_000045_TAI.2.magnetogram.fits"
    )
    assert format_filename(None, s, rec, seg, 1) == f"hmi.M_45s.{recnum(s, rec)}.magnetogram.fits"
    assert format_filename("{seriesname}.{recnum:%lld}.{#}.{segment}", s, rec, seg, 7).endswith(".7.magnetogram.fits")
    aia = parse_recordset("aia.lev1_euv_12s[2014-01-01T00:00:01Z][171]")
    assert (
        format_filename(
            "aia.lev1_euv_12s.{T_REC:A}.{WAVELNTH}.{segment}",
            aia.series,
            next(aia.records()),
            aia.series.segments[0],
            1,
        )
        == "aia.lev1_euv_12s.2014-01-01T000001Z.171.image_lev1.fits"
    )


def test_interval_spans_whole_catalogue() -> None:
    rs = parse_recordset("hmi.m_45s[2014.01.01/52d]")
    assert rs.count() == 52 * 1920
    assert tai_from_calendar(2014, 1, 1) > rs.series.first


# --- comma-separated value sets (DRMS's <ValueRangeSet> {',' ...}) ---------------------------

DAY1 = "2014.01.01_00:00:35_TAI/3m"
DAY2 = "2014.01.02_00:00:35_TAI/3m"


def test_time_items_are_a_union_in_record_order() -> None:
    one, two = names(f"hmi.m_45s[{DAY1}]"), names(f"hmi.m_45s[{DAY2}]")
    assert len(one) == len(two) == 4
    assert names(f"hmi.m_45s[{DAY1},{DAY2}]") == one + two
    assert names(f"hmi.m_45s[{DAY2},{DAY1}]") == one + two  # item order does not matter
    # Overlapping items: a record matched twice is selected once.
    overlap = names("hmi.m_45s[2014.01.01_00:00:00_TAI/3m,2014.01.01_00:01:30_TAI/3m]")
    assert overlap == sorted(set(overlap)) and len(overlap) == 6
    dashed = names(
        "hmi.m_45s[2014.01.01_00:00:35_TAI-2014.01.01_00:03:35_TAI,2014.01.02_00:00:35_TAI-2014.01.02_00:03:35_TAI]"
    )
    assert dashed == names("hmi.m_45s[2014.01.01_00:00:35_TAI-2014.01.01_00:03:35_TAI]") + names(
        "hmi.m_45s[2014.01.02_00:00:35_TAI-2014.01.02_00:03:35_TAI]"
    )
    iso = names("aia.lev1_euv_12s[2014-01-01T00:00:00Z-2014-01-01T00:00:30Z,2014-01-02T00:00:00Z/30s][171]")
    assert len(iso) == 3 + 2 and iso[0] < iso[-1]


def test_each_time_item_has_its_own_cadence() -> None:
    got = names("hmi.m_45s[2014.01.01_00:00:00_TAI/6m@90s,2014.01.02_00:00:00_TAI/3m]")
    assert len(got) == 4 + 4
    assert [n[21:29] for n in got[:4]] == ["00:00:00", "00:01:30", "00:03:00", "00:04:30"]
    assert [n[21:29] for n in got[4:]] == ["00:00:00", "00:00:45", "00:01:30", "00:02:15"]


def test_first_last_and_single_values_mix_with_ranges() -> None:
    got = names("hmi.m_720s[^,2014.01.01_00:00:00_TAI,$]")
    assert len(got) == 3 and got[0] == names("hmi.m_720s[^]")[0] and got[-1] == names("hmi.m_720s[$]")[0]


def test_integer_items_in_the_other_prime_key() -> None:
    day = "2014.11.30_00:00:00_TAI"
    harps = sorted({r.key for r in parse_recordset(f"hmi.sharp_720s[][{day}]").records()})
    wanted = [h for h in harps if 4860 <= h <= 4866]
    assert [r.key for r in parse_recordset(f"hmi.sharp_720s[4860-4866][{day}]").records()] == wanted
    both = parse_recordset(f"hmi.sharp_720s[4866,4860-4862,4861][{day}]")
    assert [r.key for r in both.records()] == [h for h in harps if h in (4860, 4861, 4862, 4866)]
    skipped = parse_recordset(f"hmi.sharp_720s[4860-4866@3][{day}]")
    assert [r.key for r in skipped.records()] == [h for h in harps if h in (4860, 4863, 4866)]
    counted = parse_recordset(f"hmi.sharp_720s[4860/3][{day}]")  # v/n is [v, v+n)
    assert [r.key for r in counted.records()] == [h for h in harps if h in (4860, 4861, 4862)]
    wl = "aia.lev1_euv_12s[2014-01-01T00:00:01Z]"
    assert [r.key for r in parse_recordset(wl + "[193,171]").records()] == [171, 193]
    assert [r.key for r in parse_recordset(wl + "[WAVELNTH=304,94]").records()] == [94, 304]
    assert [r.key for r in parse_recordset(wl + "[^,$]").records()] == [94, 335]
    ranged = parse_recordset("hmi.sharp_720s[3853-3871][2014.01.01/1d]").count()
    assert ranged > 0 and ranged == sum(
        parse_recordset(f"hmi.sharp_720s[{h}][2014.01.01/1d]").count() for h in range(3853, 3872)
    )


def test_counting_agrees_with_listing_for_lists() -> None:
    for ds in (
        f"hmi.m_45s[{DAY1},{DAY2}]",
        "hmi.m_45s[2014.01.01/1h@5m,2014.01.01_00:30/1h@2m]",
        "aia.lev1_euv_12s[2014.01.01/1m,2014.01.01_00:00:30/1m][94,171-211]",
        "hmi.sharp_720s[4860,4864-4870@2][2014.11.29/6h,2014.11.30/1h]",
    ):
        rs = parse_recordset(ds)
        listed = list(rs.records())
        assert rs.count() == len(listed) == len(set(listed)), ds


def test_named_filters_keep_the_position_and_repeated_keys_narrow() -> None:
    # DRMS fills unnamed filters in prime-key order, whatever named ones come before.
    assert parse_recordset(f"hmi.m_45s[CAMERA=2][{DAY1}]").count() == 4
    assert parse_recordset(f"hmi.m_45s[{DAY1},{DAY2}][T_REC={DAY2}]").count() == 4


@pytest.mark.parametrize(
    "ds",
    [
        "hmi.m_45s[2014.01.01_00:00:35_TAI/3m,,2014.01.02_00:00:35_TAI/3m]",  # empty item
        "hmi.m_45s[2014.01.01_00:00:35_TAI/3m,]",  # trailing comma
        "hmi.m_45s[,2014.01.01_00:00:35_TAI/3m]",  # leading comma
        "hmi.m_45s[,]",
        "hmi.m_45s[2014.01.01_00:00:35_TAI/3m, ,2014.01.02_00:00:35_TAI/3m]",
        "hmi.m_45s[2014.01.01_00:00:35_TAI@90s]",  # a cadence needs a range
        "hmi.m_45s[^@90s]",
        "hmi.m_45s[2014.01.01_00:00:35_TAI/10min]",  # DRMS units are one letter
        "hmi.m_45s[2014.01.01_00:00:35_TAI/3]",
        "hmi.m_45s[2014.01.01/1h@10s]",  # cadence rounds to zero slots
        "hmi.m_45s[2014.01.01/1h,tomorrow]",  # one malformed item spoils the set
        "hmi.m_45s[T_REC=]",
        "aia.lev1_euv_12s[2014.01.01/1m][171.0]",  # an integer key takes integers
        "aia.lev1_euv_12s[2014.01.01/1m][171,]",
        "hmi.sharp_720s[4864-][2014.11.30]",
        "hmi.sharp_720s[4864-4870@0][2014.11.30]",
        "hmi.sharp_720s[4864-4870@x][2014.11.30]",
    ],
)
def test_malformed_value_sets_are_refused(ds: str) -> None:
    with pytest.raises(RecordSetError) as info:
        parse_recordset(ds)
    assert info.value.kind == "subset"
    assert "{" not in info.value.subset and info.value.subset.startswith(ds.split("[")[0])


# --- the same through the server and the unmodified drms client -------------------------------

PACKED = f"hmi.m_45s[{DAY1},{DAY2}]"


def test_drms_query_and_summary_of_a_packed_record_set(client, emu) -> None:  # type: ignore[no-untyped-def]
    packed = client.query(PACKED + "{magnetogram}", key="T_REC", seg="magnetogram")
    one = client.query(f"hmi.m_45s[{DAY1}]", key="T_REC")
    two = client.query(f"hmi.m_45s[{DAY2}]", key="T_REC")
    keys, segs = packed
    assert list(keys.T_REC) == list(one.T_REC) + list(two.T_REC)
    assert len(set(segs.magnetogram)) == 8
    assert cgi(emu, "jsoc_info", op="rs_summary", ds=PACKED)["count"] == 8
    swapped = client.query(f"hmi.m_45s[{DAY2},{DAY1}]", key="T_REC")
    assert list(swapped.T_REC) == list(keys.T_REC)


def test_drms_export_of_a_packed_record_set_and_its_duplicate(client, emu, tmp_path) -> None:  # type: ignore[no-untyped-def]
    req = client.export(PACKED + "{magnetogram}", method="url", protocol="fits")
    assert req.wait(timeout=20, sleep=0.1)
    files = list(req.data.filename)
    assert len(files) == 8 and files == sorted(files)
    assert [f[10:25] for f in files[:1] + files[4:5]] == ["20140101_000045", "20140102_000045"]
    got = req.download(str(tmp_path))
    assert len(got) == 8 and all(Path(p).stat().st_size > 0 for p in got.download)
    # The same records asked for with the items in another order, after the first one is done:
    # JSOC's 24 h duplicate check is over the canonical record list, so the id comes back.
    again = client.export(f"hmi.m_45s[{DAY2},{DAY1}]{{magnetogram}}", method="url", protocol="fits")
    assert again.id == req.id and again.status == 2
    stats = emu.stats()
    assert stats["exports_created"] == 1 and stats["exports_duplicate"] == 1


@pytest.mark.parametrize(
    "filt",
    [
        "[2014.01.01_00:00:35_TAI/3m,,2014.01.02_00:00:35_TAI/3m]",
        "[2014.01.01_00:00:35_TAI/3m,]",
        "[,]",
        "[2014.01.01_00:00:35_TAI@90s]",
    ],
)
def test_server_refuses_malformed_lists_as_jsoc_does(emu, client, filt: str) -> None:  # type: ignore[no-untyped-def]
    ds = f"hmi.m_45s{filt}"
    # jsoc_info cannot open the records and says so as it does for a missing series.
    assert cgi(emu, "jsoc_info", op="rs_list", ds=ds, key="T_REC") == {
        "status": 1,
        "error": " jsoc_info: series not found.",
    }
    assert cgi(emu, "jsoc_info", op="rs_summary", ds=ds) == {"status": 1, "error": "series not found"}
    with pytest.raises(DrmsQueryError):
        client.query(ds, key="T_REC")
    reply = cgi(
        emu, "jsoc_fetch", op="exp_request", ds=ds + "{magnetogram}", notify=EMAIL, method="url", protocol="fits"
    )
    assert reply == {"status": 4, "error": f"Bad record-set subset specification '{ds}'.\n"}
    assert emu.stats()["exports_submitted"] == 0
