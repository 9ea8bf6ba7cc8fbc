"""The sunpy attrs adapter: from_attrs keeps sunpy's wording; raw attrs are refused where queries are expected."""

from __future__ import annotations

import re

import astropy.units as u
import pytest

from prefect_jsoc.errors import (
    EmptyQueryError,
    IncompatibleOptionsError,
    InvalidKeywordFilterError,
    InvalidSeriesError,
    RawAttrsError,
)
from prefect_jsoc.query import JsocQuery, queries_from

a = pytest.importorskip("sunpy.net.attrs")


def test_from_attrs_brings_sunpy_queries_unchanged(aia):
    qs = JsocQuery.from_attrs(
        a.Time("2014-01-01T00:00:00", "2014-01-01T00:01:00"),
        a.jsoc.Series("aia.lev1_euv_12s"),
        a.Wavelength(171 * u.AA) | a.Wavelength(193 * u.AA),
        a.jsoc.Segment("image"),
        a.jsoc.Keyword("EXPTIME") > 1,
        a.Sample(24 * u.s),
        a.jsoc.Notify("me@example.org"),
    )
    assert [q.recordset(aia) for q in qs] == [
        "aia.lev1_euv_12s[2014.01.01_00:00:35_TAI-2014.01.01_00:01:35_TAI@24s][171][? EXPTIME>'1' ?]{image}",
        "aia.lev1_euv_12s[2014.01.01_00:00:35_TAI-2014.01.01_00:01:35_TAI@24s][193][? EXPTIME>'1' ?]{image}",
    ]
    assert all(q.notify_address() == "me@example.org" for q in qs)
    harp = JsocQuery.from_attrs(
        a.jsoc.Series("hmi.sharp_720s") & a.jsoc.PrimeKey("HARPNUM", 4864) & a.jsoc.Protocol("as-is")
    )
    assert harp[0].primekeys == {"HARPNUM": "4864"} and harp[0].method == "url_quick"
    assert queries_from(qs) == qs  # what the tasks and flows will call


def test_overrides_apply_to_every_branch():
    qs = JsocQuery.from_attrs(
        a.Time("2014-01-01", "2014-01-01T00:10"),
        a.jsoc.Series("hmi.M_45s") | a.jsoc.Series("hmi.V_45s"),
        method="url-tar",
    )
    assert [q.method for q in qs] == ["url-tar", "url-tar"]


@pytest.mark.parametrize(
    ("attrs", "error", "message"),
    [
        (
            lambda: (a.jsoc.Series("hmi.M_45s"), a.jsoc.Keyword("QUALITY")),
            InvalidKeywordFilterError,
            "Keyword 'QUALITY' needs to have a comparison to a value.",
        ),
        (
            lambda: (a.Time("2014-01-01", "2014-01-02"),),
            InvalidSeriesError,
            "Series must be specified for a JSOC Query",
        ),
        (
            lambda: (
                a.jsoc.Series("hmi.M_45s"),
                a.Time("2014-01-01", "2014-01-02"),
                a.jsoc.PrimeKey("T_REC", "2014.01.01"),
            ),
            IncompatibleOptionsError,
            "Time attribute has been passed both as a Time() and PrimeKey(). Please provide any one of them or "
            "separate them by OR operator.",
        ),
        (
            lambda: (a.jsoc.Series("aia.lev1_euv_12s"), a.Wavelength(171 * u.AA), a.jsoc.PrimeKey("WAVELNTH", "171")),
            IncompatibleOptionsError,
            "Wavelength attribute has been passed both as a Wavelength() and PrimeKey().",
        ),
        (
            lambda: (a.jsoc.Series("hmi.sharp_720s"), a.jsoc.PrimeKey("T_REC", "x"), a.jsoc.PrimeKey("T_OBS", "y")),
            IncompatibleOptionsError,
            "Querying of series, having more than 1 Time-type prime-keys is not yet supported.",
        ),
        (
            lambda: (a.jsoc.Series("hmi.M_45s"), a.jsoc.Segment("magnetogram")),
            EmptyQueryError,
            "Time, Wavelength or an explicit PrimeKey must be specified.",
        ),
    ],
)
def test_from_attrs_errors_keep_sunpy_wording(attrs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        JsocQuery.from_attrs(*attrs())


@pytest.mark.parametrize(
    "raw",
    [
        lambda: a.jsoc.Series("hmi.M_45s"),
        lambda: a.Time("2014-01-01", "2014-01-02") & a.jsoc.Series("hmi.M_45s"),
        lambda: a.Wavelength(171 * u.AA) | a.Wavelength(193 * u.AA),
        lambda: [a.Time("2014-01-01", "2014-01-02"), a.jsoc.Series("hmi.M_45s")],
    ],
)
def test_raw_attrs_are_refused_with_a_pointer_to_from_attrs(raw):
    with pytest.raises(
        RawAttrsError,
        match=re.escape(
            "where JsocQuery objects are expected. Convert them first: JsocQuery.from_attrs(a.Time(...), "
            "a.jsoc.Series(...), ...) returns one query per OR branch."
        ),
    ):
        queries_from(raw())
