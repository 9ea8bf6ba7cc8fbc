"""JsocQuery: record sets, cache keys, typed shape errors, OR expansion. No network."""

from __future__ import annotations

import datetime as dt
import pickle
import re

import astropy.units as u
import pytest
from astropy.time import Time

from prefect_jsoc import Cutout, JsocQuery, KeywordFilter, or_queries, split_interval
from prefect_jsoc.errors import (
    EmptyQueryError,
    IncompatibleOptionsError,
    InvalidCutoutError,
    InvalidEmailError,
    InvalidKeywordFilterError,
    InvalidOptionError,
    InvalidSampleError,
    InvalidSeriesError,
    InvalidTimeRangeError,
    InvalidWavelengthError,
    JsocValidationError,
    UnknownPrimeKeyError,
    UnknownSegmentError,
)
from prefect_jsoc.query import SeriesLayout, parse_duration, parse_time

HMI = dict(series="hmi.M_45s", start="2014-01-01T00:00:00", end="2014-01-01T00:02:00")
SHARP = SeriesLayout(primekeys=("HARPNUM", "T_REC"), time_primekeys=("T_REC",),
                     keywords=("HARPNUM", "T_REC", "QUALITY"), segments=("magnetogram", "Bp"))


# -- record sets ---------------------------------------------------------------------------------


def test_recordset_converts_utc_to_tai_like_sunpy():
    q = JsocQuery(**HMI, segments=["magnetogram"])
    assert q.recordset() == "hmi.M_45s[2014.01.01_00:00:35_TAI-2014.01.01_00:02:35_TAI]{magnetogram}"


def test_recordset_with_sample_wavelength_and_filters():
    q = JsocQuery(series="aia.lev1_euv_12s", start=Time("2014-01-01T00:00:00"), end="2014-01-01T00:01:00",
                  wavelength=17.1 * u.nm, sample=24 * u.s, filters=["QUALITY=0", ("EXPTIME", ">", 2)],
                  segments="image")
    assert q.recordset() == (
        "aia.lev1_euv_12s[2014.01.01_00:00:35_TAI-2014.01.01_00:01:35_TAI@24s][171]"
        "[? EXPTIME>'2' AND QUALITY='0' ?]{image}"
    )


def test_recordset_places_prime_keys_by_series_layout():
    q = JsocQuery(series="hmi.sharp_720s", primekeys={"harpnum": 4864}, start="2014-01-01T00:00:00",
                  end="2014-01-01T01:00:00", segments=["magnetogram", "bp"])
    assert q.recordset(SHARP) == (
        "hmi.sharp_720s[4864][2014.01.01_00:00:35_TAI-2014.01.01_01:00:35_TAI]{Bp,magnetogram}"
    )
    # trailing empty positions are omitted, leading ones are kept empty (as sunpy does)
    only_time = JsocQuery(series="hmi.sharp_720s", start="2014-01-01T00:00:00", end="2014-01-01T01:00:00")
    assert only_time.with_layout(SHARP).recordset() == (
        "hmi.sharp_720s[][2014.01.01_00:00:35_TAI-2014.01.01_01:00:35_TAI]"
    )


def test_recordset_rejects_keys_the_layout_does_not_have():
    q = JsocQuery(series="hmi.sharp_720s", primekeys={"CAMERA": 3})
    with pytest.raises(UnknownPrimeKeyError, match=re.escape(
            "Unexpected PrimeKeys were passed. The series hmi.sharp_720s supports the following primekeys: "
            "['HARPNUM', 'T_REC']")):
        q.recordset(SHARP)
    no_time = SeriesLayout(primekeys=("HARPNUM",))
    with pytest.raises(InvalidTimeRangeError, match="has no time prime key"):
        JsocQuery(series="x.y", start="2014-01-01", end="2014-01-02").recordset(no_time)
    with pytest.raises(InvalidWavelengthError, match=re.escape(
            "The series x.y does not support wavelength attribute. The following primekeys are supported "
            "['HARPNUM']")):
        JsocQuery(series="x.y", wavelength=171).recordset(no_time)


def test_time_scales_and_formats_are_normalised_to_utc():
    utc = dt.datetime(2014, 1, 1, tzinfo=dt.timezone.utc)
    assert parse_time("2014.01.01_00:00:35_TAI") == utc
    assert parse_time("2014-01-01T00:00:35", scale="tai") == utc
    assert parse_time(Time("2014-01-01T00:00:35", scale="tai")) == utc
    assert parse_time("2014-01-01 01:00:00+01:00") == utc
    assert parse_time("2014-01-01T00:00:00Z") == utc
    assert parse_time(dt.date(2014, 1, 1)) == utc
    q = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00:35", end="2014-01-01T00:02:35", scale="tai")
    assert q.start == utc
    assert q.recordset() == "hmi.M_45s[2014.01.01_00:00:35_TAI-2014.01.01_00:02:35_TAI]"


def test_durations():
    assert parse_duration("12m") == 720.0
    assert parse_duration(dt.timedelta(hours=1)) == 3600.0
    assert parse_duration(90 * u.s) == 90.0
    assert parse_duration("1.5 h") == 5400.0


# -- cache keys, labels, serialisation -------------------------------------------------------------


def test_equal_queries_written_differently_share_a_cache_key():
    a = JsocQuery(**HMI, segments=["magnetogram"], filters=["QUALITY=0"])
    b = JsocQuery(series="HMI.m_45s", start="2014.01.01_00:00:35_TAI",
                  end=dt.datetime(2014, 1, 1, 0, 2, tzinfo=dt.timezone.utc), segments="magnetogram",
                  filters=[KeywordFilter(name="QUALITY", op="==", value=0)], notify="someone@example.org")
    c = JsocQuery(series="hmi.M_45s", start=dt.datetime(2014, 1, 1), end=Time("2014-01-01T00:02:00"),
                  segments=("magnetogram",), filters=[("QUALITY", "=", "0")], protocol="FITS")
    assert a.cache_key() == b.cache_key() == c.cache_key()
    assert len(a.cache_key()) == 32
    assert hash(a) == hash(c)


@pytest.mark.parametrize("change", [
    dict(end="2014-01-01T00:03:00"), dict(segments=["field"]), dict(protocol="as-is"), dict(method="url-tar"),
    dict(sample="90s"), dict(filters=["QUALITY=1"]), dict(series="hmi.V_45s"),
])
def test_different_queries_get_different_keys(change):
    base = JsocQuery(**HMI)
    assert JsocQuery(**{**HMI, **change}).cache_key() != base.cache_key()


def test_label_names_series_and_interval():
    assert JsocQuery(**HMI).label == "hmi.M_45s 2014-01-01 00:00–00:02"
    long = JsocQuery(series="aia.lev1_euv_12s", start="2014-01-01", end="2014-01-02T00:00:30", wavelength=171)
    assert long.label == "aia.lev1_euv_12s 2014-01-01 00:00:00–2014-01-02 00:00:30 171Å"
    assert JsocQuery(series="hmi.sharp_720s", primekeys={"HARPNUM": 4864}).label == "hmi.sharp_720s HARPNUM=4864"


def test_query_round_trips_through_json_and_pickle_and_hides_the_email():
    q = JsocQuery(**HMI, segments=["magnetogram"], notify="me@example.org",
                  cutout=Cutout(x=-450, y=-250, width=100, height=50)).with_layout(SHARP)
    assert JsocQuery.model_validate_json(q.model_dump_json()) == q
    assert pickle.loads(pickle.dumps(q)) == q
    assert "me@example.org" not in repr(q)


def test_defaults_pick_the_method_from_the_protocol():
    assert JsocQuery(**HMI).method == "url"
    assert JsocQuery(**HMI, protocol="as-is").method == "url_quick"
    assert JsocQuery(**HMI, protocol="as-is", method="url-tar").method == "url-tar"


def test_cutout_becomes_im_patch_processing():
    q = JsocQuery(**HMI, cutout=dict(x=-450, y=-250, width=100, height=50, register=True))
    assert q.process() == {"im_patch": {
        "t_ref": "2014-01-01T00:00:00.000", "t": 1, "r": 1, "c": 0, "locunits": "arcsec", "boxunits": "arcsec",
        "x": -450.0, "y": -250.0, "width": 100.0, "height": 50.0,
    }}


# -- typed shape errors ------------------------------------------------------------------------------

BAD_SHAPES = [
    (dict(series="hmi.m_45s", start="garbage", end="2014-01-01"), InvalidTimeRangeError,
     "Could not read the start time 'garbage'. Use an ISO time such as '2014-01-01T00:00:00' (UTC unless a "
     "scale is given), a DRMS time such as '2014.01.01_00:00:35_TAI', a datetime or an astropy Time."),
    (dict(start="2014-01-01", end="2014-01-02"), InvalidSeriesError,
     "Series must be specified for a JSOC query, for example series='hmi.M_45s'."),
    (dict(series="hmi.M_45s[2014.01.01]", start="2014-01-01", end="2014-01-02"), InvalidSeriesError,
     "Series 'hmi.M_45s[2014.01.01]' is not a DRMS series name"),
    (dict(series="hmi.m_45s", start="2014-01-02", end="2014-01-01"), InvalidTimeRangeError,
     "The time range is empty: end 2014-01-01T00:00:00+00:00 is not after start 2014-01-02T00:00:00+00:00."),
    (dict(series="hmi.m_45s", start="2014-01-01"), InvalidTimeRangeError,
     "Give both start and end of the time range, or neither"),
    (dict(series="hmi.m_45s", start="2014-01-01", end="2014-01-02", scale="martian"), InvalidTimeRangeError,
     "Unknown time scale 'martian'."),
    (dict(series="hmi.m_45s"), EmptyQueryError, "Time, Wavelength or an explicit PrimeKey must be specified."),
    (dict(HMI, protocol="ftp"), InvalidOptionError, "Protocol 'ftp' is not supported; use one of: fits, as-is."),
    (dict(HMI, method="ftp-tar"), InvalidOptionError,
     "Method 'ftp-tar' is not supported; use one of: url, url_quick, url-tar."),
    (dict(HMI, method="url_quick"), IncompatibleOptionsError,
     "Method 'url_quick' only works with protocol 'as-is', but protocol is 'fits'."),
    (dict(HMI, protocol="as-is", cutout=dict(x=0, y=0, width=10, height=10)), IncompatibleOptionsError,
     "A cut-out (im_patch) needs protocol 'fits'"),
    (dict(HMI, cutout=dict(x=0, y=0, width=-1, height=10)), InvalidCutoutError,
     "The cut-out width must be a positive number, got -1."),
    (dict(HMI, notify="x"), InvalidEmailError,
     "Notify attribute must contain an '@' symbol to be a valid email address."),
    (dict(HMI, notify="a@b"), InvalidEmailError, "The notify e-mail 'a@b' is not a valid e-mail address"),
    (dict(HMI, filters=["QUALITY"]), InvalidKeywordFilterError,
     "Keyword filter 'QUALITY' needs to have a comparison to a value, such as 'QUALITY=0' or 'EXPTIME>2'."),
    (dict(HMI, filters=[("QUALITY", "~", 0)]), InvalidKeywordFilterError,
     "Keyword filter 'QUALITY' uses the operator '~'; the allowed operators are =, !=, <, <=, >, >=."),
    (dict(HMI, filters=[("QUALITY", "=", "0' OR 1=1")]), InvalidKeywordFilterError,
     "cannot be used in a DRMS record set"),
    (dict(HMI, primekeys={"CAMERA": "3]"}), InvalidKeywordFilterError, "cannot be used in a DRMS record set"),
    (dict(HMI, primekeys={"T_REC": "2014.01.01"}), IncompatibleOptionsError,
     "Time attribute has been passed both as a Time() and PrimeKey(). Please provide any one of them or "
     "separate them by OR operator."),
    (dict(series="aia.lev1_euv_12s", wavelength=171, primekeys={"WAVELNTH": 171}), IncompatibleOptionsError,
     "Wavelength attribute has been passed both as a Wavelength() and PrimeKey()."),
    (dict(HMI, wavelength="blue"), InvalidWavelengthError, "Could not read the wavelength 'blue'."),
    (dict(HMI, wavelength=-5 * u.AA), InvalidWavelengthError, "The wavelength must be positive"),
    (dict(HMI, wavelength=5 * u.kg), InvalidWavelengthError, "Could not read the wavelength"),
    (dict(HMI, sample="-45s"), InvalidSampleError, "Could not read the sample cadence '-45s'."),
    (dict(HMI, sample=0), InvalidSampleError, "The sample cadence must be a positive duration, got 0."),
    (dict(series="hmi.m_45s", primekeys={"CAMERA": 3}, sample=45), InvalidSampleError,
     "A sample cadence needs a time range; give start and end too."),
    (dict(HMI, segments=5), UnknownSegmentError,
     "Segments can only be passed as a comma-separated string or a list of strings."),
    (dict(HMI, notify=""), InvalidEmailError, "Notify attribute must contain an email address."),
    (dict(series="hmi.sharp_720s", primekeys={"T_REC": "2014.01.01", "T_OBS": "2014.01.01"}),
     IncompatibleOptionsError, "Querying of series, having more than 1 Time-type prime-keys is not yet supported."),
    (dict(HMI, segments=["bad name"]), UnknownSegmentError, "Segment name 'bad name' is not a valid DRMS segment"),
    (dict(HMI, colour="blue"), InvalidOptionError, "JsocQuery got an unknown option 'colour'."),
]


@pytest.mark.parametrize(("fields", "error", "message"), BAD_SHAPES,
                         ids=[f"{e.__name__}-{i}" for i, (_, e, _) in enumerate(BAD_SHAPES)])
def test_every_bad_shape_raises_a_typed_validation_error(fields, error, message):
    with pytest.raises(error, match=re.escape(message)) as info:
        JsocQuery(**fields)
    assert isinstance(info.value, JsocValidationError)
    assert isinstance(info.value, ValueError)
    # the same through pydantic's entry point (what flows and JSON loading use)
    with pytest.raises(error):
        JsocQuery.model_validate(fields)


# -- OR expansion ------------------------------------------------------------------------------------


def test_or_queries_expands_series_and_intervals_and_drops_duplicates():
    qs = or_queries(["hmi.M_45s", "hmi.Ic_45s", "HMI.m_45s"],
                    intervals=[("2014-01-01T00:00", "2014-01-01T00:05"), ("2014-01-02T00:00", "2014-01-02T00:05")],
                    segments=["magnetogram"])
    assert [q.label for q in qs] == [
        "hmi.M_45s 2014-01-01 00:00–00:05", "hmi.M_45s 2014-01-02 00:00–00:05",
        "hmi.Ic_45s 2014-01-01 00:00–00:05", "hmi.Ic_45s 2014-01-02 00:00–00:05",
    ]
    with pytest.raises(InvalidTimeRangeError, match=re.escape("Each interval must be a (start, end) pair")):
        or_queries("hmi.M_45s", intervals=["2014-01-01"])


def test_split_interval_makes_non_overlapping_chunks():
    q = JsocQuery(series="hmi.M_45s", start="2014-01-01", end="2014-01-02", sample="12m")
    chunks = split_interval(q, "6h")
    assert [c.recordset() for c in chunks] == [
        "hmi.M_45s[2014.01.01_00:00:35_TAI/21600s@720s]",
        "hmi.M_45s[2014.01.01_06:00:35_TAI/21600s@720s]",
        "hmi.M_45s[2014.01.01_12:00:35_TAI/21600s@720s]",
        "hmi.M_45s[2014.01.01_18:00:35_TAI-2014.01.02_00:00:35_TAI@720s]",
    ]
    assert len({c.cache_key() for c in chunks}) == 4
    with pytest.raises(InvalidSampleError, match=re.escape(
            "The chunk length 3000s is not a multiple of the sample cadence 720s")):
        split_interval(q, "50m")
    with pytest.raises(InvalidTimeRangeError, match="split_interval needs a query with start and end"):
        split_interval(JsocQuery(series="hmi.sharp_720s", primekeys={"HARPNUM": 1}), "1h")


# -- sunpy attrs --------------------------------------------------------------------------------------


def test_from_attrs_brings_sunpy_queries_unchanged():
    a = pytest.importorskip("sunpy.net.attrs")
    qs = JsocQuery.from_attrs(
        a.Time("2014-01-01T00:00:00", "2014-01-01T00:01:00"),
        a.jsoc.Series("aia.lev1_euv_12s"),
        a.Wavelength(171 * u.AA) | a.Wavelength(193 * u.AA),
        a.jsoc.Segment("image"),
        a.jsoc.Keyword("EXPTIME") > 1,
        a.Sample(24 * u.s),
        a.jsoc.Notify("me@example.org"),
    )
    assert [q.recordset() for q in qs] == [
        "aia.lev1_euv_12s[2014.01.01_00:00:35_TAI-2014.01.01_00:01:35_TAI@24s][171][? EXPTIME>'1' ?]{image}",
        "aia.lev1_euv_12s[2014.01.01_00:00:35_TAI-2014.01.01_00:01:35_TAI@24s][193][? EXPTIME>'1' ?]{image}",
    ]
    assert all(q.notify == "me@example.org" for q in qs)
    harp = JsocQuery.from_attrs(a.jsoc.Series("hmi.sharp_720s") & a.jsoc.PrimeKey("HARPNUM", 4864)
                                & a.jsoc.Protocol("as-is"))
    assert harp[0].primekeys == {"HARPNUM": "4864"} and harp[0].method == "url_quick"
    with pytest.raises(InvalidKeywordFilterError, match=re.escape(
            "Keyword 'QUALITY' needs to have a comparison to a value.")):
        JsocQuery.from_attrs(a.jsoc.Series("hmi.M_45s"), a.jsoc.Keyword("QUALITY"))
    with pytest.raises(InvalidSeriesError):
        JsocQuery.from_attrs(a.Time("2014-01-01", "2014-01-02"))
