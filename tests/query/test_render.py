"""Record sets against a series layout: placement, TAI times, filters and segments, typed refusals."""

from __future__ import annotations

import re

import astropy.units as u
import pytest
from astropy.time import Time

from prefect_jsoc.errors import (
    InvalidTimeRangeError,
    InvalidWavelengthError,
    JsocValidationError,
    LayoutRequiredError,
    UnknownPrimeKeyError,
)
from prefect_jsoc.query import JsocQuery, SeriesLayout

HMI = dict(series="hmi.M_45s", start="2014-01-01T00:00:00", end="2014-01-01T00:02:00")


def test_recordset_converts_utc_to_tai_like_sunpy(hmi):
    q = JsocQuery(**HMI, segments=["magnetogram"])
    assert q.recordset(hmi) == "hmi.M_45s[2014.01.01_00:00:35_TAI-2014.01.01_00:02:35_TAI]{magnetogram}"


def test_recordset_with_sample_wavelength_and_filters(aia):
    q = JsocQuery(
        series="aia.lev1_euv_12s",
        start=Time("2014-01-01T00:00:00"),
        end="2014-01-01T00:01:00",
        wavelength=17.1 * u.nm,
        sample=24 * u.s,
        filters=["quality=0", ("EXPTIME", ">", 2)],
        segments="image",
    )
    assert q.recordset(aia) == (
        "aia.lev1_euv_12s[2014.01.01_00:00:35_TAI-2014.01.01_00:01:35_TAI@24s][171]"
        "[? EXPTIME>'2' AND QUALITY='0' ?]{image}"
    )


def test_recordset_places_prime_keys_by_series_layout(sharp):
    q = JsocQuery(
        series="hmi.sharp_720s",
        primekeys={"harpnum": 4864},
        start="2014-01-01T00:00:00",
        end="2014-01-01T01:00:00",
        segments=["magnetogram", "bp"],
    )
    assert q.recordset(sharp) == (
        "hmi.sharp_720s[4864][2014.01.01_00:00:35_TAI-2014.01.01_01:00:35_TAI]{Bp,magnetogram}"
    )
    # trailing empty positions are omitted, leading ones are kept empty (as sunpy does)
    only_time = JsocQuery(series="hmi.sharp_720s", start="2014-01-01T00:00:00", end="2014-01-01T01:00:00")
    assert only_time.recordset(sharp) == "hmi.sharp_720s[][2014.01.01_00:00:35_TAI-2014.01.01_01:00:35_TAI]"
    assert JsocQuery(series="hmi.sharp_720s", primekeys={"HARPNUM": 4864}).recordset(sharp) == "hmi.sharp_720s[4864]"


def test_a_record_set_needs_the_series_layout():
    q = JsocQuery(series="hmi.sharp_720s", primekeys={"HARPNUM": 4864}, start="2014-01-01", end="2014-01-02")
    with pytest.raises(
        LayoutRequiredError,
        match=re.escape(
            "The record set of hmi.sharp_720s 2014-01-01 00:00–2014-01-02 00:00 HARPNUM=4864 depends on the series' "
            "prime-key order, which only the server knows: validate the query first (validate(q).recordset()), or "
            "pass the layout (q.recordset(layout))."
        ),
    ) as info:
        q.recordset()
    assert isinstance(info.value, JsocValidationError)


def test_recordset_rejects_keys_the_layout_does_not_have(sharp):
    with pytest.raises(
        UnknownPrimeKeyError,
        match=re.escape(
            "primekeys= names 'CAMERA', which is not a prime key of hmi.sharp_720s; its prime keys are HARPNUM, T_REC."
        ),
    ):
        JsocQuery(series="hmi.sharp_720s", primekeys={"CAMERA": 3}).recordset(sharp)
    no_time = SeriesLayout(primekeys=("HARPNUM",))
    with pytest.raises(
        InvalidTimeRangeError,
        match=re.escape(
            "The series x.y has no time prime key, so start/end cannot be used (its prime keys are HARPNUM); select "
            "records with primekeys= instead."
        ),
    ):
        JsocQuery(series="x.y", start="2014-01-01", end="2014-01-02").recordset(no_time)
    with pytest.raises(
        InvalidWavelengthError,
        match=re.escape(
            "wavelength= cannot be used with x.y: the series has no WAVELNTH prime key (its prime keys are HARPNUM)."
        ),
    ):
        JsocQuery(series="x.y", wavelength=171).recordset(no_time)


@pytest.mark.parametrize(
    ("sample", "rendered"),
    [
        ("90s", "@90s"),
        (0.001, "@0.001s"),
        (0.0015, "@0.0015s"),
        ("12m", "@720s"),
        (2.5, "@2.5s"),
        ("1d", "@86400s"),
    ],
)
def test_cadences_are_written_as_drms_reads_them(hmi, sample, rendered):
    # 1e-06 used to be written as '@1e-06s', which DRMS cannot read
    q = JsocQuery(**HMI, sample=sample)
    assert q.recordset(hmi) == f"hmi.M_45s[2014.01.01_00:00:35_TAI-2014.01.01_00:02:35_TAI{rendered}]"


def test_an_open_end_is_written_as_a_duration(hmi):
    q = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00:00", end="2014-01-01T00:00:00.5", end_inclusive=False)
    assert q.recordset(hmi) == "hmi.M_45s[2014.01.01_00:00:35_TAI/0.5s]"


@pytest.mark.parametrize(
    ("start", "end", "rendered"),
    [
        ("2016-12-31T23:59:60", "2017-01-01T00:00:01", "[2017.01.01_00:00:36_TAI-2017.01.01_00:00:38_TAI]"),
        ("1900-01-01", "1900-01-02", "[1900.01.01_00:00:00_TAI-1900.01.02_00:00:00_TAI]"),
        ("3000-01-01", "3000-01-02", "[3000.01.01_00:00:37_TAI-3000.01.02_00:00:37_TAI]"),
    ],
)
def test_edge_times_render_in_tai(hmi, start, end, rendered):
    assert JsocQuery(series="hmi.M_45s", start=start, end=end).recordset(hmi) == f"hmi.M_45s{rendered}"


def test_layout_slot_steps_read_durations_and_stay_hashable():
    layout = SeriesLayout(primekeys=("T_REC",), time_primekeys=("T_REC",), slot_steps={"T_REC": "12m"})
    assert layout.slot_step("t_rec") == 720.0 and layout.slot_step("CAMERA") is None
    assert SeriesLayout.model_validate_json(layout.model_dump_json()) == layout
    assert hash(layout) == hash(
        SeriesLayout(primekeys=("T_REC",), time_primekeys=("T_REC",), slot_steps=[("T_REC", 720)])
    )
