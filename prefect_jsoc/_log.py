"""Logging: the run logger helper, and the two fixes that keep a plain task call quiet.

A user who calls ``search(q)`` in a notebook (a task run without a flow run) should see their result
and Prefect's own run lines, nothing else. Two things in the stack printed more, and
:func:`keep_plain_calls_quiet` (run on import of ``prefect_jsoc``) fixes both, narrowly:

* **Prefect's "without a flow run id" warning.** Prefect logs a task run's closing line ("Finished in
  state Completed()") after the task-run context has exited. A task called outside a flow has no
  flow run id, so Prefect's API log handler cannot attribute that line, drops it, and warns
  ``UserWarning: Logger 'prefect.task_runs' attempted to send logs to the API without a flow run
  id``, once per call. A filter on the ``prefect.task_runs`` logger marks exactly those records
  (a task run id, no flow run id, no run context) with Prefect's ``send_to_api=False`` opt-out:
  the console still shows them, the API never could receive them, and the warning stays for any
  other record.
* **drms's root logging.** drms 0.9 calls ``logging.basicConfig(level=INFO)`` when imported. When it
  is imported before Prefect configures logging (``import sunpy.net`` first does that), Prefect
  sees a user handler on the root logger and leaves the root alone, so every library's INFO line
  (httpx logs each Prefect API request) reaches the terminal. The handler that call installed is
  removed and the root logger handed back to Prefect's configuration. A root handler the user
  configured is never touched.

A third fix waits at exit: Prefect sends a run's events (state changes) from a background worker,
and at interpreter exit it stops that worker and warns ``EventsWorker - Still processing items: N
items remaining...`` when events are still queued, which after a quick plain call they usually
are. Once a task run has logged, an exit hook (run before Prefect's, exit hooks run last-in
first-out) waits up to :data:`EXIT_WAIT_SECONDS` for the queued events to be sent. Nothing is
dropped or hidden: if the events are still not sent by then, Prefect's own drain and warning follow.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

_FALLBACK = logging.getLogger("prefect_jsoc")

# What drms's import-time ``logging.basicConfig(...)`` installs (drms/__init__.py, 0.9.x).
_DRMS_FORMAT = "%(asctime)s - %(name)s - %(levelname)s: %(message)s"
_DRMS_DATEFMT = "%Y-%m-%d %H:%M:%S"

#: Longest wait at interpreter exit for Prefect's queued run events to be sent.
EXIT_WAIT_SECONDS = 10.0
_exit_hook_registered = False
_exit_hook_lock = threading.Lock()


def get_logger() -> Any:
    """Return the current run's logger, or the package logger outside a run."""
    try:
        from prefect.context import FlowRunContext, TaskRunContext

        if TaskRunContext.get() is None and FlowRunContext.get() is None:
            return _FALLBACK
        from prefect.logging import get_run_logger

        return get_run_logger()
    except Exception:
        return _FALLBACK


class _KeepStandaloneTaskRecordsOffTheApi(logging.Filter):
    """Mark a standalone task run's after-context records as not for the API (see the module doc)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "task_run_id", None) and not getattr(record, "flow_run_id", None):
            from prefect.context import FlowRunContext, TaskRunContext

            if TaskRunContext.get() is None and FlowRunContext.get() is None:
                record.send_to_api = False
        _register_exit_wait()
        return True


def _register_exit_wait() -> None:
    """Register :func:`_wait_for_queued_events` once, after Prefect's events worker registered its own hook."""
    global _exit_hook_registered
    with _exit_hook_lock:
        if _exit_hook_registered:
            return
        _exit_hook_registered = True
    # Prefect drains its workers from threading's exit hooks, which run last-in first-out and before
    # ``atexit``; registering there (as Prefect does) puts this wait in front of that drain.
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        register(_wait_for_queued_events)


def _wait_for_queued_events(timeout: float | None = None) -> None:
    """Wait until Prefect's events workers have sent what they hold, for at most ``timeout`` seconds."""
    deadline = time.monotonic() + (EXIT_WAIT_SECONDS if timeout is None else timeout)
    try:  # Prefect internals (3.x): keep exit safe if they change
        from prefect._internal.concurrency.services import _QueueServiceBase
        from prefect.events.worker import EventsWorker

        workers = [s for s in list(_QueueServiceBase._instances.values()) if isinstance(s, EventsWorker)]
        for worker in workers:
            while worker._queue.unfinished_tasks and time.monotonic() < deadline:
                time.sleep(0.02)
    except Exception:
        return


def _is_drms_basic_config(handler: logging.Handler) -> bool:
    formatter = handler.formatter
    return (
        type(handler) is logging.StreamHandler
        and formatter is not None
        and formatter._fmt == _DRMS_FORMAT
        and formatter.datefmt == _DRMS_DATEFMT
    )


def undo_drms_root_logging() -> bool:
    """Remove the root handler drms's import installed, and give the root logger back to Prefect.

    Returns:
        True when there was such a handler.
    """
    root = logging.getLogger()
    installed_by_drms = [h for h in root.handlers if _is_drms_basic_config(h)]
    if not installed_by_drms:
        return False
    for handler in installed_by_drms:
        root.removeHandler(handler)
    if root.handlers:
        return True
    root.setLevel(logging.WARNING)  # Python's default, which basicConfig(level=INFO) replaced
    from prefect.logging import configuration

    if configuration.PROCESS_LOGGING_CONFIG:
        # Prefect configured logging while drms's handler was there, and so skipped the root logger.
        configuration.setup_logging(incremental=False)
    return True


def keep_plain_calls_quiet() -> None:
    """Apply both fixes of the module doc; cheap and idempotent, so it runs on every lazy import."""
    task_runs = logging.getLogger("prefect.task_runs")
    if not any(isinstance(f, _KeepStandaloneTaskRecordsOffTheApi) for f in task_runs.filters):
        task_runs.addFilter(_KeepStandaloneTaskRecordsOffTheApi())
    undo_drms_root_logging()
