"""OR expansion, interval splitting, and queries_from: what callers may pass as "the queries"."""

from __future__ import annotations

import re

import pytest

from prefect_jsoc.errors import (
    EmptyQueryError,
    InvalidSampleError,
    InvalidSeriesError,
    InvalidTimeRangeError,
    UnsupportedQueryError,
)
from prefect_jsoc.query import JsocQuery, ValidatedQuery, or_queries, queries_from, split_interval

HMI = dict(series="hmi.M_45s", start="2014-01-01T00:00:00", end="2014-01-01T00:02:00")


def test_or_queries_expands_series_and_intervals_and_drops_duplicates():
    qs = or_queries(
        ["hmi.M_45s", "hmi.Ic_45s", "HMI.m_45s"],
        intervals=[("2014-01-01T00:00", "2014-01-01T00:05"), ("2014-01-02T00:00", "2014-01-02T00:05")],
        segments=["magnetogram"],
    )
    assert [q.label for q in qs] == [
        "hmi.M_45s 2014-01-01 00:00–00:05",
        "hmi.M_45s 2014-01-02 00:00–00:05",
        "hmi.Ic_45s 2014-01-01 00:00–00:05",
        "hmi.Ic_45s 2014-01-02 00:00–00:05",
    ]
    with pytest.raises(InvalidTimeRangeError, match=re.escape("Each interval must be a (start, end) pair")):
        or_queries("hmi.M_45s", intervals=["2014-01-01"])
    with pytest.raises(InvalidTimeRangeError, match="empty list of intervals"):
        or_queries("hmi.M_45s", intervals=[])
    with pytest.raises(InvalidSeriesError, match="or_queries needs at least one series"):
        or_queries([], start="2014-01-01", end="2014-01-02")


def test_split_interval_makes_non_overlapping_chunks(hmi):
    q = JsocQuery(series="hmi.M_45s", start="2014-01-01", end="2014-01-02", sample="12m")
    chunks = split_interval(q, "6h")
    assert [c.recordset(hmi) for c in chunks] == [
        "hmi.M_45s[2014.01.01_00:00:35_TAI/21600s@720s]",
        "hmi.M_45s[2014.01.01_06:00:35_TAI/21600s@720s]",
        "hmi.M_45s[2014.01.01_12:00:35_TAI/21600s@720s]",
        "hmi.M_45s[2014.01.01_18:00:35_TAI-2014.01.02_00:00:35_TAI@720s]",
    ]
    assert len({c.cache_key() for c in chunks}) == 4
    assert split_interval(JsocQuery(series="hmi.M_45s", start="2014-01-01", end="2014-01-01"), "1h") == [
        JsocQuery(series="hmi.M_45s", start="2014-01-01", end="2014-01-01")
    ]
    with pytest.raises(
        InvalidSampleError, match=re.escape("The chunk length 3000s is not a multiple of the sample cadence 720s")
    ):
        split_interval(q, "50m")
    with pytest.raises(InvalidTimeRangeError, match="split_interval needs a query with start and end"):
        split_interval(JsocQuery(series="hmi.sharp_720s", primekeys={"HARPNUM": 1}), "1h")


def test_split_interval_refuses_a_chunk_length_that_makes_millions_of_chunks():
    q = JsocQuery(series="hmi.M_45s", start="2014-01-01", end="2014-01-02")
    with pytest.raises(
        InvalidSampleError,
        match=re.escape(
            "A chunk length of 0.001s would split hmi.M_45s 2014-01-01 00:00–2014-01-02 00:00 into more than 100,000 "
            "chunks"
        ),
    ):
        split_interval(q, 0.001)


def test_queries_from_accepts_queries_validated_queries_mappings_and_lists(hmi):
    q = JsocQuery(**HMI)
    v = ValidatedQuery(query=JsocQuery(**{**HMI, "sample": "90s"}), layout=hmi)
    assert queries_from(q) == [q]
    assert queries_from(v) == [v.query]
    assert queries_from(HMI) == [q]
    assert queries_from([q, v, HMI]) == [q, v.query, q]
    assert queries_from((q, [v, (HMI,)])) == [q, v.query, q]  # e.g. a list of from_attrs results


@pytest.mark.parametrize(
    ("obj", "error", "message"),
    [
        (
            "hmi.M_45s[2014.01.01]",
            UnsupportedQueryError,
            "Cannot read queries from a str ('hmi.M_45s[2014.01.01]'); give a JsocQuery, a ValidatedQuery, a mapping "
            "of JsocQuery fields, or a list of them (JsocQuery.from_attrs(...) turns sunpy attrs into queries).",
        ),
        (42, UnsupportedQueryError, "Cannot read queries from a int (42)"),
        ([JsocQuery(**HMI), None], UnsupportedQueryError, "Cannot read queries from a NoneType (None)"),
        ([], EmptyQueryError, "The list of queries is empty; give at least one JsocQuery."),
        ({"series": "hmi.M_45s"}, EmptyQueryError, "A query needs start and end"),
    ],
)
def test_queries_from_refuses_anything_else_with_a_typed_error(obj, error, message):
    with pytest.raises(error, match=re.escape(message)):
        queries_from(obj)


def test_sunpy_attrs_are_recognised_without_importing_sunpy():
    # sunpy may not be installed; its attrs all derive from sunpy.net.attr.Attr
    attr_base = type("Attr", (), {"__module__": "sunpy.net.attr"})
    series = type("Series", (attr_base,), {"__module__": "sunpy.net.jsoc.attrs"})
    from prefect_jsoc.errors import RawAttrsError

    with pytest.raises(RawAttrsError, match=re.escape("JsocQuery.from_attrs(")):
        queries_from(series())
