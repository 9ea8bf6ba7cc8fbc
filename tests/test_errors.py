"""The error model: one hierarchy, every exception survives pickling, one table from JSOC status to error.

Prefect stores a failed task's exception with pickle (or cloudpickle) and re-raises it in the flow,
possibly in another process, so every public exception must come back with its type, message and
attributes. ``export_error_for_status`` must give a typed error for every failed status JSOC documents.
"""

from __future__ import annotations

import inspect
import pickle
from typing import Any

import cloudpickle
import pytest

from prefect_jsoc import errors
from prefect_jsoc.errors import (
    STATUS_ERRORS,
    DownloadFailedError,
    DownloadWriteError,
    ExportBadRequestError,
    ExportFailedError,
    ExportNotFoundError,
    ExportTransientError,
    JsocError,
    JsocExportError,
    JsocFetchError,
    JsocTransientError,
    JsocValidationError,
    export_error_for_status,
    is_transient,
)
from prefect_jsoc.results import BlockResult, FetchResult

CLASSES = sorted(
    (obj for name in errors.__all__ if isinstance(obj := getattr(errors, name), type)),
    key=lambda cls: cls.__name__,
)

#: Keyword attributes a constructor takes, with a value that is not the default.
KEYWORDS: dict[str, Any] = {
    "retry_after": 7.5,
    "http_status": 503,
    "status": 4,
    "request_id": "JSOC_20240101_001",
    "server_message": "Bad record-set query 'x'.",
    "path": "/data/hmi/file.fits",
    "errno": 28,
}


def _fetch_result() -> FetchResult:
    done = BlockResult(label="hmi.m_45s 00:00-00:05", series="hmi.m_45s", query_key="a")
    failed = BlockResult(
        label="hmi.m_45s 00:05-00:10",
        series="hmi.m_45s",
        query_key="b",
        failed_step="await_export",
        error="Export JSOC_1 has expired (status 5). Stage again.",
    )
    return FetchResult(server_url="http://127.0.0.1:1/", path="/tmp/out", blocks=[done, failed])


def _instance(cls: type[Exception]) -> tuple[Exception, dict[str, Any]]:
    """An instance of ``cls`` built as the package builds it, and the attributes it must keep."""
    if issubclass(cls, JsocFetchError):
        result = _fetch_result()
        return cls(result), {"result": result}
    if issubclass(cls, DownloadFailedError):
        failures, paths = [("http://x/a.fits", "HTTP 500")], ["/tmp/out/b.fits"]
        return cls(failures, paths), {"failures": failures, "paths": paths}
    accepted = inspect.signature(cls.__init__).parameters
    kwargs = {name: value for name, value in KEYWORDS.items() if name in accepted}
    return cls(f"{cls.__name__} happened; do this to fix it.", **kwargs), kwargs


@pytest.mark.parametrize(
    "dumps, loads", [(pickle.dumps, pickle.loads), (cloudpickle.dumps, pickle.loads)], ids=["pickle", "cloudpickle"]
)
@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_public_exception_survives_pickling(cls, dumps, loads):
    exc, attributes = _instance(cls)
    exc.add_note("noted by the task")  # anything set on the instance travels too
    copy = loads(dumps(exc))
    assert type(copy) is cls
    assert str(copy) == str(exc) and str(copy)
    assert copy.args == exc.args
    assert copy.__notes__ == ["noted by the task"]
    for name, value in attributes.items():
        assert getattr(copy, name) == value, name
    assert is_transient(copy) == is_transient(exc)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_exception_is_a_jsoc_error_named_error_and_pickles_by_default(cls):
    assert issubclass(cls, JsocError)
    assert cls.__name__.endswith("Error")
    assert "__reduce__" not in vars(cls) and "__reduce_ex__" not in vars(cls)
    # A timeout of ours is no OSError: `except OSError` around file I/O must not swallow it.
    assert not issubclass(cls, OSError)


def test_validation_errors_are_value_errors_and_never_transient():
    validation = [cls for cls in CLASSES if issubclass(cls, JsocValidationError)]
    assert len(validation) > 20
    for cls in validation:
        assert issubclass(cls, ValueError) and not issubclass(cls, JsocTransientError), cls


def test_transient_faults_are_the_retried_ones():
    assert is_transient(JsocTransientError("HTTP 503", http_status=503))
    assert is_transient(errors.DownloadTransientError([("http://x/a", "timed out")]))
    assert not is_transient(DownloadFailedError([("http://x/a", "HTTP 404")]))
    assert not is_transient(errors.ExportTimeoutError("not ready"))
    assert not is_transient(ValueError("x"))


def test_fetch_error_names_the_failed_block_and_keeps_the_result():
    result = _fetch_result()
    err = JsocFetchError(result)
    assert err.result is result
    assert str(err).startswith(
        "1 of 2 blocks failed (hmi.m_45s 00:05-00:10 in await_export: Export JSOC_1 has expired (status 5))"
    )


def test_write_errors_keep_path_and_errno():
    err = errors.DiskFullError("The disk is full.", path="/data/x.fits", errno=28)
    assert isinstance(err, DownloadWriteError) and isinstance(err, errors.JsocDownloadError)
    assert (err.path, err.errno) == ("/data/x.fits", 28)


def test_local_server_error_is_still_importable_from_local_server():
    from prefect_jsoc.local_server import LocalServerError

    assert LocalServerError is errors.LocalServerError


# -- The JSOC status table ------------------------------------------------------------------------

#: JSOC's export statuses, as documented in the protocol reference (jsoc-protocol.md §2.4, from the
#: server's jsoc_fetch.c and export.jsd, and drms's ExportRequest): 0 done, 1 and 2 pending, the rest fail.
SUCCESS_OR_PENDING = (0, 1, 2)
FAILED = (3, 4, 5, 6, 7, 12, 25, -1)


def test_the_table_covers_every_failed_status_jsoc_documents():
    assert set(STATUS_ERRORS) == set(FAILED)
    assert not set(STATUS_ERRORS) & set(SUCCESS_OR_PENDING)


@pytest.mark.parametrize("status", FAILED)
def test_each_failed_status_gives_its_typed_error(status):
    cls = STATUS_ERRORS[status][0]
    err = export_error_for_status(
        {"status": str(status), "error": "JSOC's own words"},
        request_id="JSOC_20240101_007",
        label="hmi.m_45s 2014-01-01",
    )
    assert type(err) is cls and issubclass(cls, JsocExportError)
    assert (err.status, err.request_id, err.server_message) == (status, "JSOC_20240101_007", "JSOC's own words")
    assert f"status {status}" in str(err)
    assert 'JSOC said: "JSOC\'s own words".' in str(err)
    assert "Export JSOC_20240101_007 for hmi.m_45s 2014-01-01" in str(err)
    assert is_transient(err) == (status == 6)


@pytest.mark.parametrize(
    "said, cls, transient",
    [
        ("Cant save new export-request hash", ExportTransientError, True),  # drms#56, intermittent
        ("invalid export DRMS record for ID `%s`JSOC_20240101_001", ExportNotFoundError, False),
        ("Bad RequestID 'x' provided.", ExportBadRequestError, False),
        ("Can not open RecordSet 100000 is too many records in one request.", ExportBadRequestError, False),
    ],
)
def test_status_4_is_told_apart_by_jsoc_text(said, cls, transient):
    err = export_error_for_status({"status": 4, "error": said, "requestid": "JSOC_20240101_001"})
    assert type(err) is cls and err.status == 4 and err.request_id == "JSOC_20240101_001"
    assert is_transient(err) is transient


def test_undocumented_or_missing_status_is_a_plain_failure():
    err = export_error_for_status({"status": 99})
    assert type(err) is ExportFailedError and "failed with JSOC status 99" in str(err)
    err = export_error_for_status({"error": "{braces} are kept"})
    assert type(err) is ExportFailedError and err.status is None and "{braces} are kept" in str(err)


def test_too_large_is_both_a_validation_and_an_export_error():
    err = export_error_for_status(
        {"status": 3, "requestid": "VOID", "error": "Request exceeds max byte limit of 100000MB"}
    )
    assert isinstance(err, JsocValidationError) and isinstance(err, JsocExportError)
    assert str(err).startswith("The export request is too large for JSOC (status 3).")
