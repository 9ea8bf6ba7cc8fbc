"""Reading JSOC's JSON replies: fields sent as numbers or strings, request ids, success and error text.

JSOC's CGI programs are not consistent about types (``status`` is a string in completed export
replies, ``size`` may be either); these helpers read a field the same way everywhere.
"""

from __future__ import annotations

import re
from typing import Any

import drms

from prefect_jsoc.errors import JsocProtocolError

__all__ = ["as_float", "as_int", "drms_error_text", "error_text", "json_object", "request_id_of", "succeeded"]


def as_int(value: Any, default: int | None = None) -> int | None:
    """``value`` as an int, or ``default`` when it is missing or not a number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def as_float(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing or not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def request_id_of(reply: dict[str, Any]) -> str | None:
    """The export request id of an ``exp_request`` or ``exp_status`` reply, if it has one."""
    return str(reply.get("requestid") or reply.get("reqid") or "").strip() or None


def json_object(reply: Any, what: str) -> dict[str, Any]:
    """``reply`` itself when it is a JSON object.

    Raises:
        JsocProtocolError: When JSOC's ``what`` answered something else.
    """
    if not isinstance(reply, dict):
        raise JsocProtocolError(f"JSOC {what} answered {type(reply).__name__}, not a JSON object.")
    return reply


def succeeded(reply: dict[str, Any]) -> bool:
    """True when a ``jsoc_info`` reply has status 0."""
    return reply.get("status") in (0, "0")


def error_text(reply: dict[str, Any]) -> tuple[str, Any]:
    """JSOC's error text and status from an error reply."""
    return str(reply.get("error") or "DRMS query failed.").strip(), reply.get("status")


def drms_error_text(exc: drms.DrmsQueryError) -> tuple[str, Any]:
    """JSOC's error text and status from drms's error (drms appends ``" [status=N]"`` to the text)."""
    m = re.fullmatch(r"(.*?)\s*\[status=(-?\d+)\]", str(exc), re.DOTALL)
    return (m[1], int(m[2])) if m else (str(exc), None)
