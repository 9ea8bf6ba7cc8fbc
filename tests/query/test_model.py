"""JsocQuery: normalisation, cache keys, labels, secrecy of the e-mail, typed shape errors. No network."""

from __future__ import annotations

import datetime as dt
import pickle
import re
import warnings

import astropy.units as u
import pytest
from astropy.time import Time
from pydantic import BaseModel, ValidationError

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
from prefect_jsoc.query import Cutout, JsocQuery, KeywordFilter

HMI = dict(series="hmi.M_45s", start="2014-01-01T00:00:00", end="2014-01-01T00:02:00")
EMAIL = "me@example.org"


# -- normalisation, cache keys, labels ---------------------------------------------------------------


def test_equal_queries_written_differently_share_a_cache_key():
    a = JsocQuery(**HMI, segments=["magnetogram"], filters=["QUALITY=0"])
    b = JsocQuery(
        series="HMI.m_45s",
        start="2014.01.01_00:00:35_TAI",
        end=dt.datetime(2014, 1, 1, 0, 2, tzinfo=dt.UTC),
        segments="magnetogram",
        filters=[KeywordFilter(name="QUALITY", op="==", value=0)],
        notify=EMAIL,
    )
    c = JsocQuery(
        series="hmi.M_45s",
        start=dt.datetime(2014, 1, 1),
        end=Time("2014-01-01T00:02:00"),
        segments=("magnetogram",),
        filters=[("QUALITY", "=", "0")],
        protocol="FITS",
    )
    assert a.cache_key() == b.cache_key() == c.cache_key()
    assert len(a.cache_key()) == 32
    assert hash(a) == hash(c) and a == c and len({a, c}) == 1


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        (dict(HMI, segments=["magnetogram"]), "d437a7c7e7dbf8dd6fb7c782dc63b84b"),
        (
            dict(
                series="aia.lev1_euv_12s",
                start="2014-01-01",
                end="2014-01-01T01:00",
                wavelength=[171, 193],
                sample="24s",
                filters=["QUALITY=0"],
                cutout=dict(x=1, y=2, width=3, height=4),
                method="url-tar",
            ),
            "875def632c2e34556986d60dd84a00bd",
        ),
        (
            dict(series="hmi.sharp_720s", primekeys={"HARPNUM": 4864}, protocol="as-is"),
            "48c4a7c4c07148c50f6af618860ac32f",
        ),
    ],
)
def test_cache_keys_are_those_of_the_previous_release(fields, key):
    # Users' Prefect caches are keyed on them (values computed by the single-module query.py at 2d13d4a).
    assert JsocQuery(**fields).cache_key() == key


@pytest.mark.parametrize(
    "change",
    [
        dict(end="2014-01-01T00:03:00"),
        dict(segments=["field"]),
        dict(protocol="as-is"),
        dict(method="url-tar"),
        dict(sample="90s"),
        dict(filters=["QUALITY=1"]),
        dict(series="hmi.V_45s"),
    ],
    ids=lambda change: "+".join(change),
)
def test_different_queries_get_different_keys(change):
    assert JsocQuery(**{**HMI, **change}).cache_key() != JsocQuery(**HMI).cache_key()


def test_label_names_series_and_interval():
    assert JsocQuery(**HMI).label == "hmi.M_45s 2014-01-01 00:00–00:02"
    long = JsocQuery(series="aia.lev1_euv_12s", start="2014-01-01", end="2014-01-02T00:00:30", wavelength=171)
    assert long.label == "aia.lev1_euv_12s 2014-01-01 00:00:00–2014-01-02 00:00:30 171Å"
    assert JsocQuery(series="hmi.sharp_720s", primekeys={"HARPNUM": 4864}).label == "hmi.sharp_720s HARPNUM=4864"


def test_defaults_pick_the_method_from_the_protocol():
    assert JsocQuery(**HMI).method == "url"
    assert JsocQuery(**HMI, protocol="as-is").method == "url_quick"
    assert JsocQuery(**HMI, protocol="as-is", method="url-tar").method == "url-tar"
    assert JsocQuery(**HMI, protocol=" As-Is ", method="url-quick").method == "url_quick"


def test_prime_key_lists_become_drms_comma_lists():
    q = JsocQuery(series="hmi.sharp_720s", primekeys={"harpnum": [4864, 4865]})
    assert q.primekeys == {"harpnum": "4864,4865"}


def test_cutout_becomes_im_patch_processing():
    q = JsocQuery(**HMI, cutout=dict(x=-450, y=-250, width=100, height=50, register=True))
    assert q.process() == {
        "im_patch": {
            "t_ref": "2014-01-01T00:00:00.000",
            "t": 1,
            "r": 1,
            "c": 0,
            "locunits": "arcsec",
            "boxunits": "arcsec",
            "x": -450.0,
            "y": -250.0,
            "width": 100.0,
            "height": 50.0,
        }
    }
    assert Cutout.coerce({"x": 1, "y": 2, "width": 3, "height": 4, "t": 0, "r": 1, "c": 1}).tracking is True


def test_query_round_trips_through_json_and_pickle():
    q = JsocQuery(
        **HMI,
        segments=["magnetogram"],
        wavelength=6173,
        cutout=Cutout(x=-450, y=-250, width=100, height=50),
        filters=["QUALITY=0"],
        sample="90s",
    )
    assert JsocQuery.model_validate_json(q.model_dump_json()) == q
    assert JsocQuery.model_validate(q.model_dump()) == q
    assert pickle.loads(pickle.dumps(q)) == q


# -- the notify e-mail is a secret ---------------------------------------------------------------------


def test_the_email_is_never_written_in_clear():
    q = JsocQuery(**HMI, notify=f"  {EMAIL} ")
    assert q.notify_address() == EMAIL
    assert EMAIL not in repr(q) and EMAIL not in str(q)
    # Prefect stores flow-run parameters as JSON: the e-mail must not be in it.
    assert EMAIL not in q.model_dump_json()
    assert EMAIL not in repr(q.model_dump()) and EMAIL not in str(q.model_dump(mode="json"))
    assert "notify" not in q.model_dump()
    # so a query read back from JSON has none, and is otherwise the same query
    back = JsocQuery.model_validate_json(q.model_dump_json())
    assert back.notify_address() is None and back.cache_key() == q.cache_key()
    assert JsocQuery(**HMI).notify_address() is None


def test_the_email_does_not_change_the_cache_key_and_is_not_echoed_in_errors():
    assert JsocQuery(**HMI, notify=EMAIL).cache_key() == JsocQuery(**HMI).cache_key()
    with pytest.raises(InvalidEmailError) as info:
        JsocQuery(**HMI, notify="secret.person@example")
    assert "secret.person" not in str(info.value)


# -- typed shape errors, in this package's words ----------------------------------------------------

BAD_SHAPES = [
    (
        dict(series="hmi.m_45s", start="garbage", end="2014-01-01"),
        InvalidTimeRangeError,
        "Could not read the start time 'garbage'. Use an ISO time such as '2014-01-01T00:00:00' (UTC unless a "
        "scale is given), a DRMS time such as '2014.01.01_00:00:35_TAI', a datetime or an astropy Time.",
    ),
    (
        dict(start="2014-01-01", end="2014-01-02"),
        InvalidSeriesError,
        "Series must be specified for a JSOC query, for example series='hmi.M_45s'.",
    ),
    (
        dict(series="hmi.M_45s[2014.01.01]", start="2014-01-01", end="2014-01-02"),
        InvalidSeriesError,
        "Series 'hmi.M_45s[2014.01.01]' is not a DRMS series name",
    ),
    (
        dict(series="hmi.m_45s", start="2014-01-02", end="2014-01-01"),
        InvalidTimeRangeError,
        "The time range is empty: end 2014-01-01T00:00:00+00:00 is not after start 2014-01-02T00:00:00+00:00.",
    ),
    (
        dict(series="hmi.m_45s", start="2014-01-01"),
        InvalidTimeRangeError,
        "Give both start and end of the time range, or neither",
    ),
    (
        dict(series="hmi.m_45s", start="2014-01-01", end="2014-01-02", scale="martian"),
        InvalidTimeRangeError,
        "Unknown time scale 'martian'.",
    ),
    (
        dict(series="hmi.m_45s"),
        EmptyQueryError,
        "A query needs start and end, wavelength= or primekeys=: a whole series is far too large to query.",
    ),
    (dict(HMI, protocol="ftp"), InvalidOptionError, "Protocol 'ftp' is not supported; use one of: fits, as-is."),
    (
        dict(HMI, method="ftp-tar"),
        InvalidOptionError,
        "Method 'ftp-tar' is not supported; use one of: url, url_quick, url-tar.",
    ),
    (
        dict(HMI, method="url_quick"),
        IncompatibleOptionsError,
        "Method 'url_quick' only works with protocol 'as-is', but protocol is 'fits'.",
    ),
    (
        dict(HMI, protocol="as-is", cutout=dict(x=0, y=0, width=10, height=10)),
        IncompatibleOptionsError,
        "A cut-out (im_patch) needs protocol 'fits'",
    ),
    (
        dict(HMI, cutout=dict(x=0, y=0, width=-1, height=10)),
        InvalidCutoutError,
        "The cut-out width must be a positive number, got -1.",
    ),
    (
        dict(HMI, cutout=dict(x=0, y=0, width=1)),
        InvalidCutoutError,
        "The cut-out needs 'height'; give x, y, width and height.",
    ),
    (
        dict(HMI, cutout=dict(x=0, y=0, width=1, height=1, locunits="furlongs")),
        InvalidCutoutError,
        "The cut-out locunits 'furlongs' is not supported; use one of: arcsec, pixels, stony, carrlong.",
    ),
    (
        dict(HMI, notify="x"),
        InvalidEmailError,
        "notify= has no '@', so it is not an e-mail address; give one such as name@example.org.",
    ),
    (
        dict(HMI, notify="a@b"),
        InvalidEmailError,
        "notify= is not a valid e-mail address; it must look like name@example.org.",
    ),
    (dict(HMI, notify=""), InvalidEmailError, "notify= must be an e-mail address registered with JSOC"),
    (
        dict(HMI, filters=["QUALITY"]),
        InvalidKeywordFilterError,
        "Keyword filter 'QUALITY' needs to have a comparison to a value, such as 'QUALITY=0' or 'EXPTIME>2'.",
    ),
    (
        dict(HMI, filters=[("QUALITY", "~", 0)]),
        InvalidKeywordFilterError,
        "Keyword filter 'QUALITY' uses the operator '~'; the allowed operators are =, !=, <, <=, >, >=.",
    ),
    (
        dict(HMI, filters=[("QUALITY", "=", "0' OR 1=1")]),
        InvalidKeywordFilterError,
        "cannot be used in a DRMS record set",
    ),
    (dict(HMI, primekeys={"CAMERA": "3]"}), InvalidKeywordFilterError, "cannot be used in a DRMS record set"),
    (
        dict(HMI, primekeys={"T_REC": "2014.01.01"}),
        IncompatibleOptionsError,
        "The time range was given twice: as start/end and as primekeys={'T_REC': ...}. Give one of them, or make "
        "two queries.",
    ),
    (
        dict(series="aia.lev1_euv_12s", wavelength=171, primekeys={"WAVELNTH": 171}),
        IncompatibleOptionsError,
        "The wavelength was given twice: as wavelength= and as primekeys={'WAVELNTH': ...}. Give one of them.",
    ),
    (
        dict(series="hmi.sharp_720s", primekeys={"T_REC": "2014.01.01", "T_OBS": "2014.01.01"}),
        IncompatibleOptionsError,
        "primekeys= gives more than one time prime key (T_OBS, T_REC); give only one",
    ),
    (
        dict(HMI, primekeys=[("CAMERA", 3)]),
        UnknownPrimeKeyError,
        "primekeys= must be a mapping such as {'HARPNUM': 4864}, got a list.",
    ),
    (dict(HMI, primekeys={"CAMERA": 3, "camera": 2}), UnknownPrimeKeyError, "Prime key 'camera' was given twice"),
    (dict(HMI, wavelength="blue"), InvalidWavelengthError, "Could not read the wavelength 'blue'."),
    (dict(HMI, wavelength=-5 * u.AA), InvalidWavelengthError, "The wavelength must be positive"),
    (dict(HMI, wavelength=5 * u.kg), InvalidWavelengthError, "Could not read the wavelength"),
    (dict(HMI, sample="-45s"), InvalidSampleError, "Could not read the sample cadence '-45s'."),
    (dict(HMI, sample=0), InvalidSampleError, "The sample cadence must be a positive duration, got 0."),
    (
        dict(series="hmi.m_45s", primekeys={"CAMERA": 3}, sample=45),
        InvalidSampleError,
        "A sample cadence needs a time range; give start and end too.",
    ),
    (
        dict(HMI, segments=5),
        UnknownSegmentError,
        "segments= must be a comma-separated string or a list of strings, got a int.",
    ),
    (
        dict(HMI, segments=["bad name"]),
        UnknownSegmentError,
        "Segment name 'bad name' is not a valid DRMS name (letters, digits and '_').",
    ),
    (dict(HMI, colour="blue"), InvalidOptionError, "JsocQuery got an unknown option 'colour'."),
    (dict(HMI, end_inclusive="maybe"), InvalidOptionError, "JsocQuery got end_inclusive='maybe', which is not valid"),
]


@pytest.mark.parametrize(
    ("fields", "error", "message"), BAD_SHAPES, ids=[f"{e.__name__}-{i}" for i, (_, e, _) in enumerate(BAD_SHAPES)]
)
def test_every_bad_shape_raises_a_typed_validation_error(fields, error, message):
    with pytest.raises(error, match=re.escape(message)) as info:
        JsocQuery(**fields)
    assert isinstance(info.value, JsocValidationError) and isinstance(info.value, ValueError)
    # the same through pydantic's entry points (what JSON loading uses)
    with pytest.raises(error, match=re.escape(message)):
        JsocQuery.model_validate(fields)


def test_no_message_uses_sunpy_attr_names():
    wording = re.compile(r"\b(Time|PrimeKey|Wavelength|Notify)\(\)|attribute")
    for fields, _, _ in BAD_SHAPES:
        with pytest.raises(JsocValidationError) as info:
            JsocQuery(**fields)
        assert not wording.search(str(info.value)), str(info.value)


def test_json_loading_raises_typed_errors_too():
    with pytest.raises(InvalidSeriesError, match="is not a DRMS series name"):
        JsocQuery.model_validate_json('{"series": "hmi", "start": "2014-01-01", "end": "2014-01-02"}')


def test_inside_another_pydantic_model_the_typed_error_is_carried():
    # A Prefect flow validates its parameters with a pydantic model of its own.
    class Parameters(BaseModel):
        query: JsocQuery

    with pytest.raises(ValidationError) as info:
        Parameters.model_validate(
            {"query": {"series": "hmi.M_45s", "protocol": "ftp", "start": "2014-01-01", "end": "2014-01-02"}}
        )
    assert isinstance(info.value.errors()[0]["ctx"]["error"], InvalidOptionError)


# -- fixes (issue 11 item 9) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        (
            dict(HMI, series="hmi." + "M" * 99_996),
            InvalidSeriesError,
            "is too long: DRMS series names have at most 63 characters.",
        ),
        (dict(HMI, segments=["s" * 40]), UnknownSegmentError, "is too long: DRMS names have at most 31 characters."),
        (
            dict(HMI, primekeys={"K" * 32: 1}),
            UnknownPrimeKeyError,
            "is too long: DRMS names have at most 31 characters.",
        ),
        (dict(HMI, filters=[("Q" * 32, "=", 0)]), InvalidKeywordFilterError, "at most 31 characters"),
        (
            dict(HMI, filters=[("QUALITY", "=", "0" * 2000)]),
            InvalidKeywordFilterError,
            "is too long: at most 1024 characters fit in a record set.",
        ),
    ],
)
def test_over_long_names_are_refused_at_construction_with_the_limit(fields, error, message):
    with pytest.raises(error, match=re.escape(message)) as info:
        JsocQuery(**fields)
    assert len(str(info.value)) < 400  # the huge value is not echoed


@pytest.mark.parametrize("sample", [1e-6, "1e-6s", 0.0005, 1e-300])
def test_sub_millisecond_cadences_are_refused_with_the_cadence_named(sample):
    with pytest.raises(InvalidSampleError, match=r"The sample cadence .* is shorter than 0\.001 s") as info:
        JsocQuery(**HMI, sample=sample)
    assert repr(sample) in str(info.value) and "filter" not in str(info.value)


def test_the_leap_second_is_a_valid_time():
    q = JsocQuery(series="hmi.M_45s", start="2016-12-31T23:59:60", end="2017-01-01T00:00:30")
    assert q.start == dt.datetime(2016, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)


@pytest.mark.parametrize("year", [1, 1900, 1960, 3000, 9999])
def test_distant_years_are_valid_and_silent(year, recwarn):
    warnings.simplefilter("always")
    q = JsocQuery(series="hmi.M_45s", start=f"{year:04d}-01-01", end=f"{year:04d}-01-02", sample="1h")
    assert q.start.year == year
    q.cache_key()
    assert [str(w.message) for w in recwarn] == []
