"""One logger helper: Prefect's run logger inside a flow or task run (so lines reach the UI),
the ``prefect_jsoc`` standard logger everywhere else."""

from __future__ import annotations

import logging
from typing import Any

_FALLBACK = logging.getLogger("prefect_jsoc")


def get_logger() -> Any:
    """Return the current run's logger, or the package logger outside a run."""
    try:
        from prefect.context import TaskRunContext, FlowRunContext

        if TaskRunContext.get() is None and FlowRunContext.get() is None:
            return _FALLBACK
        from prefect.logging import get_run_logger

        return get_run_logger()
    except Exception:
        return _FALLBACK
