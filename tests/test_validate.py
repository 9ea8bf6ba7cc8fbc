"""validate: every bad input gets a clear typed error from the server's definitions, before any export."""

from __future__ import annotations

import re

import pytest
from jsoc_test_support import hmi_query, requests

from prefect_jsoc import JsocQuery, JsocSettings, validate
from prefect_jsoc.errors import (
    ExportTooLargeError,
    InvalidWavelengthError,
    JsocValidationError,
    MissingEmailError,
    NoRecordsError,
    UnknownKeywordError,
    UnknownPrimeKeyError,
    UnknownSegmentError,
    UnknownSeriesError,
    UnregisteredEmailError,
)
from prefect_jsoc.exports import stage_export
from prefect_jsoc.validation import validate_query

pytestmark = pytest.mark.usefixtures("prefect_harness")




def test_validate_task_returns_the_query_with_its_exact_record_set(emu, settings):
    q = JsocQuery(series="hmi.sharp_720s", primekeys={"harpnum": 377}, start="2011-02-15T00:00:00",
                  end="2011-02-15T01:00:00", segments=["field"])
    checked = validate(q, settings=settings)
    assert checked.recordset() == "hmi.sharp_720s[377][2011.02.15_00:00:34_TAI-2011.02.15_01:00:34_TAI]{field}"
    assert checked.cache_key() == q.cache_key()
    assert requests(emu, "checkAddress.sh") == 1
    assert emu.stats()["exports_submitted"] == 0


BAD = [
    (dict(series="hmi.M_45x"), UnknownSeriesError,
     "The series 'hmi.M_45x' does not exist on {url}. Series starting with 'hmi' include: hmi.M_45s"),
    (dict(primekeys={"HARPNUM": 1}), UnknownPrimeKeyError,
     "The series hmi.M_45s has no prime key 'HARPNUM': its prime keys are ['T_REC', 'CAMERA']. "
     "Fix or remove it in primekeys=."),
    (dict(segments=["field"]), UnknownSegmentError,
     "The series hmi.M_45s has no segment 'field': its segments are ['magnetogram']. Fix segments=."),
    (dict(filters=["EXPTIME>1"]), UnknownKeywordError,
     "The series hmi.M_45s has no keyword 'EXPTIME' (used in filters=). Its keywords include ["),
    (dict(wavelength=171), InvalidWavelengthError,
     "The series hmi.M_45s has no WAVELNTH prime key, so wavelength= cannot be used. Its prime keys are "
     "['T_REC', 'CAMERA']."),
]


@pytest.mark.parametrize(("change", "error", "message"), BAD, ids=[e.__name__ for _, e, _ in BAD])
def test_bad_inputs_fail_validation_and_export_nothing(emu, settings, change, error, message):
    q = hmi_query(**change)
    with pytest.raises(error, match=re.escape(message.format(url=settings.server_url))):
        validate_query(q, settings)
    with pytest.raises(error):
        stage_export(q, settings)  # stage validates too: nothing is ever exported for a bad query
    assert requests(emu, "jsoc_fetch:exp_request") == 0


def test_unregistered_email_is_refused_before_any_export(emu, settings):
    bad = settings.model_copy(update={"email": "nobody@unregistered.net"})
    with pytest.raises(UnregisteredEmailError, match=re.escape(
            "The notify e-mail n***@unregistered.net is not registered with JSOC (status 4).")):
        validate_query(hmi_query(), bad)
    with pytest.raises(UnregisteredEmailError):
        validate_query(hmi_query(notify="other@unregistered.net"), settings)
    with pytest.raises(UnregisteredEmailError):
        stage_export(hmi_query(), bad)
    assert requests(emu, "jsoc_fetch:exp_request") == 0


def test_export_over_100_gb_is_refused_from_the_size_estimate(emu, settings):
    emu.configure(file_size=2_000_000_000)  # 2 GB per record: 61 records are about 122 GB
    q = hmi_query(end="2014-01-01T00:45:00")
    with pytest.raises(ExportTooLargeError) as info:
        validate_query(q, settings)
    message = str(info.value)  # the size is an upper bound from the segments' dimensions
    assert re.match(r"The export of hmi\.M_45s 2014-01-01 00:00–00:45 would be up to \d{3},\d{3} MB \(61 records\), "
                    r"above JSOC's limit of 100,000 MB per request\. Split it into at least \d+ parts with "
                    r"split_interval\(query, every=\.\.\.\), or request fewer segments\.", message), message
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
    with pytest.raises(NoRecordsError, match=re.escape(
            "The query hmi.M_45s 2009-01-01 00:00–00:05 matches no records")):
        stage_export(empty, settings)
    assert requests(emu, "jsoc_fetch:exp_request") == 0


def test_validate_task_retries_transient_faults_but_not_validation_errors(emu, settings):
    emu.configure(fail_rate=0.2, seed=3)
    assert validate(hmi_query(), settings=settings).layout.primekeys == ("T_REC", "CAMERA")
    emu.configure(fail_rate=0.0)
    emu.reset()
    state = validate(hmi_query(segments=["field"]), settings=settings, return_state=True)
    assert state.is_failed()
    with pytest.raises(JsocValidationError):
        state.result()
    assert requests(emu, "jsoc_info:series_struct") <= 1  # one attempt: validation errors are not retried


def test_a_server_that_stays_down_costs_four_attempts_in_all(emu, settings):
    emu.configure(fail_rate=1.0)
    quick_retry = validate.with_options(retry_delay_seconds=0, retry_jitter_factor=None)
    state = quick_retry(hmi_query(), settings=settings, return_state=True)
    assert state.is_failed()
    # two attempts in the client (one retry), times two task attempts (one Prefect retry)
    assert requests(emu, "jsoc_info:series_struct") == 4
