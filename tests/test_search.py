"""search: records and keywords as an astropy Table, the record count, caching, faults."""

from __future__ import annotations

import re

import pytest
from astropy.table import Table
from jsoc_test_support import hmi_query, requests

from prefect_jsoc import JsocQuery, search
from prefect_jsoc.errors import UnknownKeywordError
from prefect_jsoc.validation import search_records

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_default_keys_are_sunpys_display_keys(settings):
    result = search_records(hmi_query(segments=[]), None, settings)
    assert result.count == 3
    assert isinstance(result.table, Table)
    assert result.keywords == ["T_REC", "TELESCOP", "INSTRUME", "WAVELNTH", "CAR_ROT"]
    assert result.table.colnames == result.keywords
    assert list(result.table["TELESCOP"]) == ["SDO/HMI"] * 3


def test_all_keys_requested_keys_and_segment_paths(settings):
    everything = search_records(hmi_query(segments=[]), "all", settings)
    assert len(everything.table.colnames) > 20 and "QUALITY" in everything.table.colnames
    chosen = search_records(hmi_query(), ["t_rec", "quality", "*recnum*"], settings)
    assert chosen.keywords == ["T_REC", "QUALITY", "*recnum*"]
    assert chosen.table.colnames == ["T_REC", "QUALITY", "*recnum*", "magnetogram"]
    assert all(str(p).startswith("/SUM") for p in chosen.table["magnetogram"])


def test_unknown_keyword_names_it_and_lists_close_ones(settings):
    with pytest.raises(
        UnknownKeywordError,
        match=re.escape("Keyword: 'QUALTY' is not supported by series: hmi.M_45s. Its keywords include ['QUALITY'"),
    ):
        search_records(hmi_query(), ["T_REC", "QUALTY"], settings)


def test_keys_of_the_wrong_type_are_refused(settings):
    with pytest.raises(
        UnknownKeywordError,
        match=re.escape("Keywords can only be passed as a list or comma-separated strings; got int 5."),
    ):
        search_records(hmi_query(), 5, settings)


def test_empty_interval_gives_zero_records(settings):
    result = search_records(hmi_query(start="2009-01-01T00:00", end="2009-01-01T00:05"), None, settings)
    assert result.count == 0 and len(result.table) == 0


def test_a_search_is_not_limited_by_the_export_size_cap(emu, settings):
    emu.configure(file_size=2_000_000_000)  # 2 GB records: an export of this day would be refused
    day = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00:00", end="2014-01-02T00:00:00")
    found = search_records(day, keys=["T_REC"], settings=settings)  # searching exports nothing
    assert found.count == len(found) > 1900 and found[0]["T_REC"] == "2014.01.01_00:00:45_TAI"
    assert emu.stats()["requests"].get("jsoc_fetch:exp_request", 0) == 0


def test_search_task_is_cached_on_query_keys_and_server(emu, settings):
    first = search(hmi_query(), keys=["T_REC"], settings=settings)
    again = search(hmi_query(end="2014-01-01T00:02:00.000"), keys="T_REC", settings=settings)
    assert again.count == first.count == 3
    assert list(again.table["T_REC"]) == list(first.table["T_REC"])
    assert requests(emu, "jsoc_info:rs_list") == 1
    search(hmi_query(), keys=["T_REC", "QUALITY"], settings=settings)
    assert requests(emu, "jsoc_info:rs_list") == 2


def test_search_task_with_faults_on(emu, settings):
    emu.configure(fail_rate=0.3, throttle_rate=0.1, seed=11)
    flaky = settings.model_copy(update={"http_retries": 3})
    result = search(hmi_query(end="2014-01-01T00:10:00"), keys=["T_REC", "QUALITY"], settings=flaky)
    assert result.count == 14
    assert sum(emu.stats()["faults"].values()) > 0
