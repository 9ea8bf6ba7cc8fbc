"""Validation errors: the query, an option or the configuration is wrong (never retried).

Raised before any export is submitted: by the shape checks of :class:`~prefect_jsoc.query.JsocQuery`
(no network) and by the ``validate`` task (against the series definition on the server).
"""

from __future__ import annotations

from prefect_jsoc.errors.base import JsocError


class JsocValidationError(JsocError, ValueError):
    """A query, an option or the notify e-mail is not acceptable; the message says what to fix.

    Raised by the shape checks of :class:`~prefect_jsoc.query.JsocQuery` (no network) and by the
    ``validate`` task (against the series definition on the server), before anything is exported.
    """


class InvalidSeriesError(JsocValidationError):
    """A series name is missing or malformed (for example ``"hmi"``)."""


class UnknownSeriesError(InvalidSeriesError):
    """The server does not know the series."""


class UnknownPrimeKeyError(JsocValidationError):
    """A prime key is not one of the series' prime keys."""


class UnknownSegmentError(JsocValidationError):
    """A segment is not one of the series' segments."""


class UnknownKeywordError(JsocValidationError):
    """A keyword (in a filter or in ``keys=``) is not one of the series' keywords."""


class InvalidKeywordFilterError(JsocValidationError):
    """A keyword filter has no comparison, an unknown operator or an unsafe value."""


class InvalidTimeRangeError(JsocValidationError):
    """A start or end time cannot be parsed, or the range is empty or reversed."""


class InvalidWavelengthError(JsocValidationError):
    """A wavelength is not a spectral quantity, or the series has no WAVELNTH key."""


class InvalidSampleError(JsocValidationError):
    """A sampling cadence is not a positive duration."""


class InvalidEmailError(JsocValidationError):
    """A notify e-mail address is not a syntactically valid address."""


class MissingEmailError(InvalidEmailError):
    """An export needs a notify e-mail and none is configured."""


class UnregisteredEmailError(JsocValidationError):
    """The notify e-mail is not registered (or still pending) with JSOC."""


class InvalidOptionError(JsocValidationError):
    """``protocol``, ``method`` or another option has a value JSOC does not offer."""


class InvalidCutoutError(JsocValidationError):
    """The im_patch cut-out parameters are incomplete or out of range."""


class IncompatibleOptionsError(JsocValidationError):
    """Options contradict each other (``url_quick`` with ``fits``, a cut-out with ``as-is``)."""


class InvalidDownloadPathError(JsocValidationError):
    """A download path or path template cannot be written to."""


class EmptyQueryError(JsocValidationError):
    """A query selects nothing specific (no time, wavelength or prime key), or no query was given."""


class UnsupportedQueryError(JsocValidationError):
    """Something that is not a query (nor a list of queries or mappings) was passed as one."""


class RawAttrsError(JsocValidationError):
    """sunpy attrs were passed where queries are expected; convert them with ``JsocQuery.from_attrs``."""


class LayoutRequiredError(JsocValidationError):
    """A record set was asked of a query not validated against its series.

    Prime keys are placed by position, so only the series definition gives a record set JSOC
    accepts: use ``validate(query).recordset()`` or ``query.recordset(layout)``.
    """


class InvalidRecordSetError(JsocValidationError):
    """The server rejects the record-set string built from the query."""


class NoRecordsError(JsocValidationError):
    """The query matches no records, so there is nothing to export."""
