"""Every exception raised by prefect-jsoc, under one base class, :class:`JsocError`.

The groups need different reactions:

* :class:`JsocValidationError` (also a :class:`ValueError`): the query, an option or the
  configuration is wrong. Raised before any export is submitted; retrying cannot help, and the
  message says what to fix. (:mod:`.validation`)
* :class:`JsocTransientError`: a fault that may pass (HTTP 5xx/408/429, connection errors, JSOC's
  intermittent status 4 and status 6, a slow transfer). It is the only error the tasks retry
  (:func:`is_transient`), and a marker mixed into the export and download errors that may pass.
* :class:`JsocExportError`: JSOC refused, failed or lost an export, or it was not ready in time.
  :func:`export_error_for_status` picks the subclass from one table, :data:`STATUS_ERRORS`.
* :class:`JsocLimitError`: a JSOC limit (pending exports, download connections) kept a run waiting
  too long, or the Prefect server that keeps the limits failed. (:mod:`.export`)
* :class:`JsocDownloadError`: files could not be downloaded or written, or the download was
  stopped. (:mod:`.download`)
* Service and run errors: :class:`JsocConnectionError`, :class:`JsocProtocolError`,
  :class:`JsocQueryError`, :class:`CannotPackError`, :class:`LocalServerError`,
  :class:`JsocFetchError`. (:mod:`.base`)

Names: group bases (and names that would shadow a built-in, like ``JsocConnectionError``) start
with ``Jsoc``; every class ends in ``Error``. Every exception pickles with Python's default
mechanism (Prefect stores failed results): a constructor keeps its positional arguments in
``args``, and keyword attributes travel in the instance ``__dict__``.
"""

from __future__ import annotations

from prefect_jsoc.errors.base import (
    CannotPackError,
    JsocConnectionError,
    JsocError,
    JsocFetchError,
    JsocProtocolError,
    JsocQueryError,
    JsocTransientError,
    LocalServerError,
    is_transient,
)
from prefect_jsoc.errors.download import (
    DiskFullError,
    DownloadCancelledError,
    DownloadFailedError,
    DownloadTransientError,
    DownloadWriteError,
    JsocDownloadError,
    UnsafeFilenameError,
)
from prefect_jsoc.errors.export import (
    STATUS_ERRORS,
    ExportBadRequestError,
    ExportExpiredError,
    ExportFailedError,
    ExportLimitReachedError,
    ExportNeedsStaffError,
    ExportNotFoundError,
    ExportTimeoutError,
    ExportTooLargeError,
    ExportTransientError,
    JsocExportError,
    JsocLimitError,
    LimitUnavailableError,
    SlotTimeoutError,
    export_error_for_status,
)
from prefect_jsoc.errors.validation import (
    EmptyQueryError,
    IncompatibleOptionsError,
    InvalidCutoutError,
    InvalidDownloadPathError,
    InvalidEmailError,
    InvalidKeywordFilterError,
    InvalidOptionError,
    InvalidRecordSetError,
    InvalidSampleError,
    InvalidSeriesError,
    InvalidTimeRangeError,
    InvalidWavelengthError,
    JsocValidationError,
    LayoutRequiredError,
    MissingEmailError,
    NoRecordsError,
    RawAttrsError,
    UnknownKeywordError,
    UnknownPrimeKeyError,
    UnknownSegmentError,
    UnknownSeriesError,
    UnregisteredEmailError,
    UnsupportedQueryError,
)

__all__ = [
    # base, transient marker, service and run errors
    "JsocError",
    "JsocTransientError",
    "is_transient",
    "JsocConnectionError",
    "JsocProtocolError",
    "JsocQueryError",
    "CannotPackError",
    "LocalServerError",
    "JsocFetchError",
    # validation
    "JsocValidationError",
    "InvalidSeriesError",
    "UnknownSeriesError",
    "UnknownPrimeKeyError",
    "UnknownSegmentError",
    "UnknownKeywordError",
    "InvalidKeywordFilterError",
    "InvalidTimeRangeError",
    "InvalidWavelengthError",
    "InvalidSampleError",
    "InvalidEmailError",
    "MissingEmailError",
    "UnregisteredEmailError",
    "InvalidOptionError",
    "InvalidCutoutError",
    "IncompatibleOptionsError",
    "InvalidDownloadPathError",
    "EmptyQueryError",
    "UnsupportedQueryError",
    "RawAttrsError",
    "LayoutRequiredError",
    "InvalidRecordSetError",
    "NoRecordsError",
    # exports, and the status table
    "JsocExportError",
    "ExportTooLargeError",
    "ExportBadRequestError",
    "ExportExpiredError",
    "ExportNotFoundError",
    "ExportNeedsStaffError",
    "ExportFailedError",
    "ExportTransientError",
    "ExportTimeoutError",
    "STATUS_ERRORS",
    "export_error_for_status",
    # limits
    "JsocLimitError",
    "ExportLimitReachedError",
    "SlotTimeoutError",
    "LimitUnavailableError",
    # downloads
    "JsocDownloadError",
    "DownloadFailedError",
    "DownloadTransientError",
    "DownloadWriteError",
    "DiskFullError",
    "DownloadCancelledError",
    "UnsafeFilenameError",
]
