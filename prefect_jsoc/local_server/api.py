"""Point this process's Prefect client at the configured API, or at a local server run for a block."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

from prefect_jsoc.local_server.environment import configured_api_url
from prefect_jsoc.local_server.process import LocalPrefectServer

__all__ = ["api_url_for_this_process", "drain_prefect_workers", "local_prefect_api"]


@contextlib.contextmanager
def api_url_for_this_process(api_url: str) -> Iterator[None]:
    """Point this process's Prefect client at ``api_url`` (threads included), then restore everything.

    Links to the UI ("View at ...") point where ``prefect server start`` serves it, since the local
    server has no UI and is gone after the command; the runs are in the same database.
    """
    import prefect.context
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, get_current_settings, temporary_settings

    updates: dict[object, str] = {PREFECT_API_URL: api_url}
    settings = get_current_settings()
    if "ui_url" not in settings.model_fields_set:
        updates[PREFECT_UI_URL] = f"http://{settings.server.api.host}:{settings.server.api.port}"
    saved = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = api_url  # for any subprocess started meanwhile
    try:
        with temporary_settings(updates=updates):  # type: ignore[arg-type]
            # New threads start with an empty contextvars context and read the global settings
            # context, so replace that too (as Prefect's own test harness does).
            saved_global = prefect.context.GLOBAL_SETTINGS_CONTEXT
            prefect.context.GLOBAL_SETTINGS_CONTEXT = prefect.context.get_settings_context()
            try:
                yield
            finally:
                prefect.context.GLOBAL_SETTINGS_CONTEXT = saved_global
    finally:
        if saved is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = saved


def drain_prefect_workers(timeout: float = 5.0) -> None:
    """Send the logs and events Prefect still holds in memory to the API, waiting at most ``timeout``."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):
            worker.drain_all(timeout=timeout, at_exit=False)


@contextlib.contextmanager
def local_prefect_api(
    startup_timeout: float | None = None, while_starting: Callable[[], object] | None = None
) -> Iterator[str]:
    """Use the configured Prefect API, or run a :class:`LocalPrefectServer` for the duration of the block.

    While the block runs, this process (and only this process and its children) talks to the local
    server; Prefect's logs and events are flushed to it before it stops.

    Args:
        startup_timeout: Seconds to wait for a local server; default
            ``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS``.
        while_starting: Work to do while the server starts (for example slow imports); it runs in
            any case, before the block.

    Yields:
        The API URL in use.

    Raises:
        LocalServerError: When a local server was needed and did not start.
    """
    configured = configured_api_url()
    if configured:
        if while_starting is not None:
            while_starting()
        yield configured
        return
    server = LocalPrefectServer(startup_timeout=startup_timeout)
    server.launch()
    try:
        if while_starting is not None:
            while_starting()
    except BaseException:
        server.stop()
        raise
    server.wait_until_ready()  # on failure it stops the server itself, keeping the server's log
    try:
        with api_url_for_this_process(server.api_url):
            try:
                yield server.api_url
            finally:
                drain_prefect_workers()
    finally:
        server.stop()
