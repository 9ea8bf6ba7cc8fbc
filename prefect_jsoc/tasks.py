"""The five Prefect tasks, declared over the plain functions that do the work.

Each task is its plain function plus what Prefect adds: a name, readable run names, retries and
caching. ``task.fn`` is the plain function (also importable from its module), usable without Prefect:

============  =====================================================  ===================
task          plain function                                         cached
============  =====================================================  ===================
validate      :func:`prefect_jsoc.validation.validate_query`          no
search        :func:`prefect_jsoc.validation.search_records`          1 h, query + keys
stage         :func:`prefect_jsoc.exports.stage_export`               24 h, export content
await_export  :func:`prefect_jsoc.exports.wait_for_export`            no (notices expiry)
download      :func:`prefect_jsoc.downloads.download_manifest`        no (skips verified)
============  =====================================================  ===================

Retries: only transient faults (HTTP 5xx/429/503, connection errors, timeouts, JSOC's intermittent
status 4) are retried, once, with backoff and jitter, on top of the client's own single retry: a
fault costs at most four HTTP attempts. Validation errors and JSOC's permanent statuses fail at once.
"""

from __future__ import annotations

import os
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from prefect_jsoc.caching import (
    SEARCH_CACHE_EXPIRATION,
    STAGE_CACHE_EXPIRATION,
    STAGE_CACHE_POLICY,
    search_key,
)
from prefect_jsoc.downloads import download_manifest
from prefect_jsoc.errors import JsocTransientError
from prefect_jsoc.exports import stage_export, wait_for_export
from prefect_jsoc.validation import search_records, validate_query

__all__ = ["await_export", "download", "retry_transient_only", "run_name", "search", "stage", "validate"]

#: Prefect retries a task once after a transient fault (the client already retried the call once).
TASK_RETRIES = 1
#: First delay of a task retry, in seconds (``PREFECT_JSOC_TASK_RETRY_DELAY``; read at import,
#: because Prefect fixes retry delays when a task is declared).
TASK_RETRY_DELAY = float(os.environ.get("PREFECT_JSOC_TASK_RETRY_DELAY", "5"))


def retry_transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry only :class:`~prefect_jsoc.errors.JsocTransientError`."""
    try:
        state.result()
    except JsocTransientError:
        return True
    except BaseException:
        return False
    return False


def _label(value: Any) -> str:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    label = getattr(value, "label", None)
    if isinstance(label, str) and label:
        return label
    query = getattr(value, "query", None)
    return str(getattr(query, "label", "") or "?")


def run_name(prefix: str, parameter: str) -> Any:
    """A ``task_run_name`` callable: ``"stage · hmi.M_45s 2014-01-01 00:00–00:05"``."""

    def name(parameters: dict[str, Any]) -> str:
        try:
            return f"{prefix} · {_label(parameters.get(parameter))}"
        except Exception:  # a run name must never fail a run
            return prefix

    name.__name__ = f"{prefix}_run_name"
    return name


_retries: dict[str, Any] = dict(
    retries=TASK_RETRIES,
    retry_delay_seconds=exponential_backoff(backoff_factor=TASK_RETRY_DELAY),
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_transient_only,
)

validate = task(name="validate", task_run_name=run_name("validate", "query"), cache_policy=NO_CACHE, **_retries)(
    validate_query
)

search = task(
    name="search",
    task_run_name=run_name("search", "query"),
    cache_key_fn=search_key,
    cache_expiration=SEARCH_CACHE_EXPIRATION,
    **_retries,
)(search_records)

stage = task(
    name="stage",
    task_run_name=run_name("stage", "unit"),
    cache_policy=STAGE_CACHE_POLICY,
    cache_expiration=STAGE_CACHE_EXPIRATION,
    **_retries,
)(stage_export)

await_export = task(
    name="await_export", task_run_name=run_name("await_export", "handle"), cache_policy=NO_CACHE, **_retries
)(wait_for_export)

download = task(name="download", task_run_name=run_name("download", "manifest"), cache_policy=NO_CACHE, **_retries)(
    download_manifest
)
