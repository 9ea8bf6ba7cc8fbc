"""validate and stage: a bad query gets a typed error before any export; retries of the validate task."""

from __future__ import annotations

import re

import pytest
from jsoc_test_support import hmi_query, requests

from prefect_jsoc import JsocQuery, JsocSettings, validate
from prefect_jsoc.errors import (
    MissingEmailError,
    NoRecordsError,
    UnknownSegmentError,
    UnknownSeriesError,
    UnregisteredEmailError,
)
from prefect_jsoc.exports import stage_export
from prefect_jsoc.validation import validate_query

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_validate_task_returns_the_query_with_its_exact_record_set(emu, settings):
    q = JsocQuery(
        series="hmi.sharp_720s",
        primekeys={"harpnum": 377},
        start="2011-02-15T00:00:00",
        end="2011-02-15T01:00:00",
        segments=["field"],
    )
    checked = validate(q, settings=settings)
    assert checked.recordset() == "hmi.sharp_720s[377][2011.02.15_00:00:34_TAI-2011.02.15_01:00:34_TAI]{field}"
    assert checked.cache_key() == q.cache_key()
    assert requests(emu, "checkAddress.sh") == 1
    assert emu.stats()["exports_submitted"] == 0


# The bad-input cases (one per error type, with their exact messages) are in
# tests/reliability/test_bad_input.py, through jsoc_fetch and the CLI. Here: stage's own check.


def test_stage_checks_the_query_itself_before_submitting_an_export(emu, settings):
    with pytest.raises(UnknownSegmentError, match="has no segment 'field'"):
        stage_export(hmi_query(segments=["field"]), settings)
    with pytest.raises(UnregisteredEmailError, match=re.escape("n***@unregistered.net is not registered")):
        stage_export(hmi_query(), settings.model_copy(update={"email": "nobody@unregistered.net"}))
    assert requests(emu, "jsoc_fetch:exp_request") == 0


def test_missing_email_and_empty_record_sets_stop_stage(emu, settings, monkeypatch):
    monkeypatch.delenv("PREFECT_JSOC_EMAIL", raising=False)
    no_email = JsocSettings(server_url=settings.server_url)
    with pytest.raises(MissingEmailError, match="PREFECT_JSOC_EMAIL"):
        validate_query(hmi_query(), no_email)  # found by validate, before anything else
    assert requests(emu, "jsoc_info:series_struct") == 0
    with pytest.raises(MissingEmailError):
        stage_export(hmi_query(), no_email)
    empty = hmi_query(start="2009-01-01T00:00:00", end="2009-01-01T00:05:00")
    with pytest.raises(
        NoRecordsError, match=re.escape("The query hmi.M_45s 2009-01-01 00:00–00:05 matches no records")
    ):
        stage_export(empty, settings)
    assert requests(emu, "jsoc_fetch:exp_request") == 0


def test_validate_task_retries_transient_faults_but_not_validation_errors(emu, settings):
    quick_retry = validate.with_options(retry_delay_seconds=0, retry_jitter_factor=None)
    # Seed 3 fails the 2nd and 3rd CGI calls with HTTP 500: the same call twice (the client retries at
    # once), which is all the client's own retry allows, so only the task's retry can succeed.
    emu.configure(fail_rate=0.2, seed=3)
    state = quick_retry(hmi_query(), settings=settings, return_state=True)
    assert state.result().layout.primekeys == ("T_REC", "CAMERA")
    assert emu.stats()["faults"]["http_500"] >= 2

    emu.configure(fail_rate=0.0)
    emu.reset()
    # An unknown series is not cached, so a retry would ask the server for its definition again.
    state = quick_retry(hmi_query(series="hmi.M_45x"), settings=settings, return_state=True)
    assert state.is_failed()
    with pytest.raises(UnknownSeriesError):
        state.result()
    assert requests(emu, "jsoc_info:series_struct") == 1  # one attempt: validation errors are not retried


def test_a_server_that_stays_down_costs_four_attempts_in_all(emu, settings):
    emu.configure(fail_rate=1.0)
    quick_retry = validate.with_options(retry_delay_seconds=0, retry_jitter_factor=None)
    state = quick_retry(hmi_query(), settings=settings, return_state=True)
    assert state.is_failed()
    # two attempts in the client (one retry), times two task attempts (one Prefect retry)
    assert requests(emu, "jsoc_info:series_struct") == 4
