"""The error of the local Prefect API server."""

from __future__ import annotations

from prefect_jsoc.errors import JsocError

__all__ = ["LocalServerError"]


class LocalServerError(JsocError):
    """The local Prefect API server could not be started."""
