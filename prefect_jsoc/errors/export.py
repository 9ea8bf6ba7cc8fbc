"""Export errors, the limit errors, and the one table from JSOC's export status to an error.

:func:`export_error_for_status` turns a failed ``exp_request``/``exp_status`` reply into the class
:data:`STATUS_ERRORS` names for its status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prefect_jsoc.errors.base import JsocError, JsocTransientError
from prefect_jsoc.errors.validation import JsocValidationError


class JsocExportError(JsocError):
    """JSOC refused, failed or lost an export, or it was not ready in time.

    Attributes:
        status: The JSOC status code, when JSOC sent one.
        request_id: The export request id, when there is one.
        server_message: JSOC's own ``error`` text, when it sent one.
    """

    status: int | None = None
    request_id: str | None = None
    server_message: str | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        server_message: str | None = None,
    ):
        super().__init__(message)
        for name, value in (("status", status), ("request_id", request_id), ("server_message", server_message)):
            if value is not None:
                setattr(self, name, value)


class ExportTooLargeError(JsocValidationError, JsocExportError):
    """The export is too large for JSOC: by ``validate``'s estimate, or refused with status 3.

    Either way nothing was exported; split the query into smaller time ranges.
    """


class ExportBadRequestError(JsocExportError):
    """Status 4: JSOC considers the request invalid."""


class ExportExpiredError(JsocExportError):
    """Status 5: the export finished, but its files were deleted (JSOC keeps them 7 days)."""


class ExportNotFoundError(ExportExpiredError):
    """Status 4 "invalid export DRMS record": the server no longer knows the request id."""


class ExportNeedsStaffError(JsocExportError):
    """Status 25: the data are offline and JSOC staff must intervene."""


class ExportFailedError(JsocExportError):
    """Any other failed status (-1 cancelled, 12 test mode, or a status JSOC does not document)."""


class ExportTransientError(JsocExportError, JsocTransientError):
    """JSOC's intermittent status 4 ("Cant save new export-request hash") or status 6; retried."""


class ExportTimeoutError(JsocExportError):
    """The export was not ready within ``export_timeout``; it stays pending, and a re-run re-attaches."""


# -- Limits: JSOC's pending exports and download connections, kept as Prefect concurrency limits.


class JsocLimitError(JsocError):
    """A JSOC limit (pending exports, download connections) stopped the run, or its keeper failed."""


class ExportLimitReachedError(JsocExportError, JsocLimitError):
    """Status 7: too many pending exports for this e-mail or address, for longer than we wait."""


class SlotTimeoutError(JsocLimitError):
    """No slot of a JSOC limit (Prefect global concurrency limit) became free in time."""


class LimitUnavailableError(JsocLimitError):
    """The Prefect API that keeps JSOC's limits cannot create or grant a limit's slots."""


#: Every failed JSOC export status (``jsoc_fetch`` ``exp_request``/``exp_status``): the error class
#: and what to tell the user. 0 is success, 1 and 2 are pending; any other status gives
#: :class:`ExportFailedError`. Status 4 covers several faults, told apart by JSOC's text
#: (:data:`_STATUS4_BY_TEXT`). ``{what}`` names the export and ``{said}`` quotes JSOC.
STATUS_ERRORS: dict[int, tuple[type[JsocExportError], str]] = {
    3: (
        ExportTooLargeError,
        "{what} is too large for JSOC (status 3).{said} Split the query into smaller time "
        "ranges (see prefect_jsoc.split_interval) or request fewer segments.",
    ),
    4: (
        ExportBadRequestError,
        "{what} was rejected as a bad request (status 4).{said} Check the query with the "
        "validate task; if it passes, the server-side export failed and may be retried later.",
    ),
    5: (
        ExportExpiredError,
        "{what} has expired (status 5): JSOC deletes export results after 7 days.{said} "
        "Stage the query again to get a fresh export.",
    ),
    6: (ExportTransientError, "{what} cannot be located yet (status 6).{said} Polling continues."),
    7: (
        ExportLimitReachedError,
        "{what} was refused because too many exports are pending for this e-mail or "
        "address (status 7).{said} Wait for pending exports to finish, or lower concurrency.",
    ),
    12: (ExportFailedError, "{what} was made in JSOC's test mode (status 12) and will not run.{said}"),
    25: (
        ExportNeedsStaffError,
        "{what} needs JSOC staff (status 25), usually because the data are on tape.{said} "
        "Write to jsoc@sun.stanford.edu with the request id.",
    ),
    -1: (
        ExportFailedError,
        "{what} was cancelled: its JSOC process was terminated (status -1).{said} Stage the query again.",
    ),
}

#: Any status not in the table (or no status at all).
_OTHER_STATUS: tuple[type[JsocExportError], str] = (
    ExportFailedError,
    "{what} failed with JSOC status {shown!r}.{said}",
)

#: Status 4 replies that are not a bad request, recognised by a fragment of JSOC's text.
_STATUS4_BY_TEXT: tuple[tuple[str, type[JsocExportError], str], ...] = (
    (
        "save new export-request hash",
        ExportTransientError,
        "{what} hit JSOC's intermittent status 4.{said} "
        "This is a known server-side glitch; the request will be retried.",
    ),
    (
        "invalid export drms record",
        ExportNotFoundError,
        "{what} is unknown to the server (status 4), which "
        "happens when JSOC forgot or purged it.{said} Stage the query again to get a new request.",
    ),
)


def export_error_for_status(
    reply: Mapping[str, Any],
    *,
    request_id: str | None = None,
    label: str | None = None,
) -> JsocExportError:
    """Build the exception that matches a failed ``exp_request``/``exp_status`` reply.

    Args:
        reply: The JSON reply from ``jsoc_fetch`` (``status`` and usually ``error``).
        request_id: The request id the reply is about, if the reply itself lacks it.
        label: A human name of the query, used in the message.

    Returns:
        The :data:`STATUS_ERRORS` class of the status (an :class:`ExportTransientError`, which
        the tasks retry, for status 6 and the intermittent status 4), with ``status``,
        ``request_id`` and ``server_message`` set.

    Example:
        ```python
        from prefect_jsoc.errors import ExportExpiredError, export_error_for_status
        err = export_error_for_status({"status": 5, "error": "Request was completed but is now deleted"},
                                      request_id="JSOC_20240101_001")
        assert isinstance(err, ExportExpiredError) and err.status == 5
        ```
    """
    try:
        status: int | None = int(reply.get("status"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        status = None
    rid = request_id or reply.get("requestid") or None
    server_message = str(reply.get("error") or "").strip() or None
    what = f"Export {rid}" if rid and rid != "VOID" else "The export request"
    if label:
        what += f" for {label}"
    said = f' JSOC said: "{server_message}".' if server_message else ""
    shown = status if status is not None else reply.get("status")
    cls, text = STATUS_ERRORS.get(status, _OTHER_STATUS) if status is not None else _OTHER_STATUS
    if status == 4:
        low = (server_message or "").lower()
        cls, text = next(((c, t) for part, c, t in _STATUS4_BY_TEXT if part in low), (cls, text))
    return cls(
        text.format(what=what, said=said, shown=shown), status=status, request_id=rid, server_message=server_message
    )
