"""The library flows: ``jsoc_search`` and ``jsoc_fetch``.

An OR query (several series and/or several intervals) is split into blocks. Every block gets its own
task run for each step (validate, search, stage, await_export, download), so the UI shows one
readable row per block and step. All blocks are validated before anything is exported; after that
each block moves on as soon as its previous step is done, so a finished export downloads while
other blocks are still staging. JSOC's limits hold throughout: the ``stage`` task takes a pending-
export slot per e-mail, and ``download`` takes download-connection slots.
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Union

from prefect import flow, get_run_logger, unmapped
from prefect.futures import PrefectFuture, wait
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, Field

from prefect_jsoc.artifacts import (
    MAX_BLOCK_TABLES,
    FlowProgress,
    artifact_key,
    publish_block_records,
    publish_export_summary,
    publish_records_summary,
)
from prefect_jsoc.errors import JsocError
from prefect_jsoc.query import JsocQuery, or_queries
from prefect_jsoc.results import STAGES, BlockResult, FetchResult, SearchSummary
from prefect_jsoc.settings import JsocSettings
from prefect_jsoc.tasks import await_export, download, search, stage, validate

__all__ = ["jsoc_search", "jsoc_fetch", "QueryGrid", "Interval", "JsocFetchError", "as_blocks"]

#: Threads for one flow run. Tasks mostly wait on the network or on JSOC's slots; how hard JSOC is
#: hit is bounded by the client's request limit and the export/connection slots, not by this number.
DEFAULT_MAX_WORKERS = 32

#: How much of the progress bar each step of a block is worth.
STEP_WEIGHTS = {"validate": 1.0, "search": 1.0, "stage": 1.0, "await_export": 2.0, "download": 5.0}


class JsocFetchError(JsocError):
    """Raised by ``jsoc_fetch`` when blocks failed; ``.result`` holds what did complete."""

    def __init__(self, result: FetchResult) -> None:
        self.result = result
        failed = result.failed
        first = failed[0]
        reason = (first.error or "").split(". ")[0]
        more = f"; +{len(failed) - 1} more" if len(failed) > 1 else ""
        super().__init__(
            f"{len(failed)} of {len(result.blocks)} blocks failed ({first.label} in {first.failed_step}: "
            f"{reason}{more}). See the jsoc-export-summary artifact; completed blocks are kept, and "
            "re-running the same fetch retries only what is missing."
        )


class Interval(BaseModel):
    """A time interval (UTC unless the strings say otherwise)."""

    start: Union[datetime, str] = Field(description="Start of the interval, e.g. 2014-01-01T00:00:00.")
    end: Union[datetime, str] = Field(description="End of the interval, e.g. 2014-01-01T01:00:00.")


class QueryGrid(BaseModel):
    """Every series over every interval: ``len(series) * len(intervals)`` blocks.

    ``options`` holds the other ``JsocQuery`` fields shared by all blocks (``segments``, ``sample``,
    ``wavelength``, ``keywords``, ``protocol``, ``method``, ...).
    """

    series: list[str] = Field(description="DRMS series names, e.g. ['hmi.m_45s', 'aia.lev1_euv_12s'].")
    intervals: list[Interval] = Field(description="Time intervals, each fetched for every series.")
    options: dict[str, Any] = Field(default_factory=dict, description="Other JsocQuery fields for every block.")

    def expand(self) -> list[JsocQuery]:
        """The blocks, series-major."""
        return or_queries(
            series=self.series,
            intervals=[(i.start, i.end) for i in self.intervals],
            **self.options,
        )


Queries = Union[JsocQuery, list[JsocQuery], QueryGrid]


def as_blocks(queries: Queries) -> list[JsocQuery]:
    """Normalise the ``queries`` parameter to a list of distinct blocks, keeping their order."""
    if isinstance(queries, QueryGrid):
        blocks = queries.expand()
    elif isinstance(queries, JsocQuery):
        blocks = [queries]
    else:
        blocks = list(queries)
    seen: set[str] = set()
    distinct = []
    for block in blocks:
        key = block.cache_key()
        if key not in seen:
            seen.add(key)
            distinct.append(block)
    return distinct


def _run_name(prefix: str) -> str:
    """``fetch · hmi.m_45s+aia.lev1_euv_12s · 4 blocks`` from the run's parameters."""
    try:
        blocks = as_blocks(flow_run.parameters["queries"])
    except Exception:  # noqa: BLE001 - a run name must never fail the run
        return prefix
    series = sorted({b.series for b in blocks})
    shown = "+".join(series[:3]) + (f"+{len(series) - 3} more" if len(series) > 3 else "")
    return f"{prefix} · {shown} · {len(blocks)} block{'s' if len(blocks) != 1 else ''}"


def _search_run_name() -> str:
    return _run_name("search")


def _fetch_run_name() -> str:
    return _run_name("fetch")


def _raise_validation_failures(blocks: list[JsocQuery], futures: list[PrefectFuture]) -> None:
    """Raise the first validation error (all of them are logged) so nothing gets exported."""
    logger = get_run_logger()
    errors = []
    for block, future in zip(blocks, futures):
        if future.state.is_failed():
            try:
                future.result()
            except Exception as exc:  # noqa: BLE001 - re-raised below
                errors.append(exc)
                logger.error("Block %s is invalid: %s", block.label, exc)
    if errors:
        if len(errors) > 1:
            logger.error("%d of %d blocks are invalid; nothing was exported.", len(errors), len(blocks))
        raise errors[0]


@flow(
    name="jsoc-search",
    flow_run_name=_search_run_name,
    task_runner=ThreadPoolTaskRunner(max_workers=DEFAULT_MAX_WORKERS),
)
def jsoc_search(
    queries: Queries,
    keys: list[str] | None = None,
    settings: JsocSettings | None = None,
) -> SearchSummary:
    """Search JSOC for one query, a list of queries, or every series over every interval.

    Each block is validated and searched in its own task run; the records of each block are
    published as a table artifact.

    Args:
        queries: A ``JsocQuery``, a list of them, or a ``QueryGrid`` (series x intervals).
        keys: Keywords to return (default: ``T_REC``, ``TELESCOP``, ``INSTRUME``, ``WAVELNTH``,
            ``CAR_ROT``); ``["**ALL**"]`` returns every keyword.
        settings: Server and politeness settings; default ``JsocSettings.resolve()``.

    Returns:
        A ``SearchSummary`` with one ``SearchResult`` per block and ``.table()`` over all of them.

    Example:
        ```python
        from prefect_jsoc import JsocQuery
        from prefect_jsoc.flows import jsoc_search

        found = jsoc_search(JsocQuery(series="hmi.m_45s", start="2014-01-01T00:00:00",
                                      end="2014-01-01T01:00:00"))
        print(found.count, found.table()[:5])
        ```
    """
    settings = JsocSettings.resolve(settings)
    blocks = as_blocks(queries)
    logger = get_run_logger()
    logger.info("Searching %d block(s) on %s.", len(blocks), settings.server_url)
    validated = validate.map(blocks, settings=unmapped(settings))
    wait(validated)
    _raise_validation_failures(blocks, validated)
    found = search.map(validated, keys=unmapped(keys), settings=unmapped(settings))
    results = found.result()
    publish_records_summary(results, settings.server_url)
    if len(results) <= MAX_BLOCK_TABLES:
        for result in results:
            publish_block_records(result.query, result.table, result.count)
    summary = SearchSummary(results=results)
    logger.info("Found %d records in %d block(s).", summary.count, len(results))
    return summary


@dataclass
class _Chain:
    """The futures of one block's steps and when each one finished."""

    query: JsocQuery
    futures: dict[str, PrefectFuture] = field(default_factory=dict)
    finished_at: dict[str, float] = field(default_factory=dict)


@flow(
    name="jsoc-fetch",
    flow_run_name=_fetch_run_name,
    task_runner=ThreadPoolTaskRunner(max_workers=DEFAULT_MAX_WORKERS),
)
def jsoc_fetch(
    queries: Queries,
    path: str = "data/jsoc",
    keys: list[str] | None = None,
    settings: JsocSettings | None = None,
    overwrite: bool = False,
    fail_on_error: bool = True,
) -> FetchResult:
    """Search, export and download JSOC data for one query, a list, or series x intervals.

    Restart-safe: a re-run of the same query re-attaches to the same JSOC export (the ``stage``
    task is cached on the normalised query) and downloads only files that are missing or invalid.

    Args:
        queries: A ``JsocQuery``, a list of them, or a ``QueryGrid`` (series x intervals).
        path: Download directory, or a path template with ``{file}`` and record keywords.
        keys: Keywords to search for (see ``jsoc_search``).
        settings: Server and politeness settings; default ``JsocSettings.resolve()``.
        overwrite: Download files again even if a valid copy exists.
        fail_on_error: Raise ``JsocFetchError`` (after finishing every other block) if any block
            failed. With ``False`` the result lists the failures instead.

    Returns:
        A ``FetchResult``: per block the request id, record count, local files, bytes and timings.

    Raises:
        JsocValidationError: A block is invalid; raised before anything is exported.
        JsocFetchError: Some blocks failed (only with ``fail_on_error=True``).

    Example:
        ```python
        from prefect_jsoc.flows import QueryGrid, jsoc_fetch

        result = jsoc_fetch(
            QueryGrid(series=["hmi.m_45s", "aia.lev1_euv_12s"],
                      intervals=[{"start": "2014-01-01T00:00", "end": "2014-01-01T00:02"}],
                      options={"segments": ["magnetogram"]}),
            path="data/jsoc",
        )
        print(result.files)
        ```
    """
    started = time.monotonic()
    settings = JsocSettings.resolve(settings)
    blocks = as_blocks(queries)
    logger = get_run_logger()
    logger.info(
        "Fetching %d block(s) from %s into %s (at most %d pending export(s), %d download connection(s)).",
        len(blocks), settings.server_url, path, settings.max_pending_exports, settings.max_connections,
    )
    progress = FlowProgress(
        total=len(blocks) * sum(STEP_WEIGHTS.values()),
        key=artifact_key("jsoc-fetch-progress"),
        description=f"Validating {len(blocks)} block(s)",
    )

    validated = validate.map(blocks, settings=unmapped(settings))
    wait(validated)
    progress.advance(len(blocks) * STEP_WEIGHTS["validate"], f"Validated {len(blocks)} block(s)")
    _raise_validation_failures(blocks, validated)

    pipeline_start = time.monotonic()
    finished: queue.SimpleQueue[tuple[_Chain, str, PrefectFuture]] = queue.SimpleQueue()

    def submit(chain: _Chain, step: str, upstream: PrefectFuture) -> None:
        """Submit one step of a block; its completion lands on ``finished`` (from any runner's thread)."""
        if step == "search":
            future = search.submit(upstream, keys=keys, settings=settings)
        elif step == "stage":
            future = stage.submit(upstream, settings=settings)
        elif step == "await_export":
            future = await_export.submit(upstream, settings=settings)
        else:
            future = download.submit(upstream, path, settings=settings, overwrite=overwrite)
        chain.futures[step] = future
        future.add_done_callback(lambda done: finished.put((chain, step, done)))

    chains: list[_Chain] = []
    for query, checked in zip(blocks, validated):
        chain = _Chain(query=query)
        chain.futures["validate"] = checked
        chain.finished_at["validate"] = pipeline_start
        chains.append(chain)
        submit(chain, "search", checked)

    # Each block's next step is submitted only once its previous step has completed, so a block
    # that failed has no never-started runs, and a finished export downloads at once.
    active = len(chains)
    downloads_done = 0
    while active:
        chain, step, future = finished.get()
        future.wait()  # records the final state on the future; `.state` would otherwise ask the API, which lags
        chain.finished_at[step] = time.monotonic()
        completed = future.state.is_completed()
        if step == "search" and completed and len(blocks) <= MAX_BLOCK_TABLES:
            found = future.result()
            publish_block_records(found.query, found.table, found.count)
        if step == "download":
            downloads_done += completed
        following = STAGES.index(step) + 1
        if completed and following < len(STAGES):
            submit(chain, STAGES[following], future)
        else:
            active -= 1
        progress.advance(
            STEP_WEIGHTS[step] if completed else sum(STEP_WEIGHTS[s] for s in STAGES[STAGES.index(step):]),
            f"{downloads_done} of {len(blocks)} block(s) downloaded; last: {step} of {chain.query.label}",
        )

    result = FetchResult(
        server_url=settings.server_url,
        path=str(path),
        blocks=[_block_result(chain) for chain in chains],
        elapsed_seconds=time.monotonic() - started,
    )
    searches = [c.futures["search"].result() for c in chains if c.futures["search"].state.is_completed()]
    publish_records_summary(searches, settings.server_url)
    publish_export_summary(result)
    complete = len(result.blocks) - len(result.failed)
    progress.finish(
        f"{complete} of {len(result.blocks)} block(s) complete: {len(result.files)} files, "
        f"{result.total_bytes / 1e6:.1f} MB in {result.elapsed_seconds:.1f} s"
    )
    for block in result.failed:
        logger.error("Block %s failed in %s: %s", block.label, block.failed_step, block.error)
    logger.info(
        "Fetched %d of %d block(s): %d files, %.1f MB, in %.1f s.",
        complete, len(result.blocks), len(result.files), result.total_bytes / 1e6, result.elapsed_seconds,
    )
    if result.failed and fail_on_error:
        raise JsocFetchError(result)
    return result


def _block_result(chain: _Chain) -> BlockResult:
    """Turn one block's finished futures into a ``BlockResult``."""
    values: dict[str, Any] = {}
    failed_step = error = None
    timings: dict[str, float] = {}
    previous_end = chain.finished_at["validate"]
    for step in STAGES:
        if step not in chain.futures:
            break  # an earlier step failed, so this one was never submitted
        state = chain.futures[step].state
        if step in chain.finished_at and step != "validate":
            timings[step] = max(0.0, chain.finished_at[step] - previous_end)
            previous_end = chain.finished_at[step]
        if state.is_completed():
            values[step] = chain.futures[step].result()
        elif failed_step is None:
            failed_step = step
            if state.is_failed() or state.is_crashed():
                try:
                    chain.futures[step].result()
                except Exception as exc:  # noqa: BLE001 - reported, not raised
                    error = str(exc) or type(exc).__name__
            else:
                error = f"did not run ({state.name})"
    found = values.get("search")
    manifest = values.get("await_export")
    handle = values.get("stage")
    fetched = values.get("download")
    files = list(fetched.paths) if fetched is not None else []
    return BlockResult(
        label=chain.query.label,
        series=chain.query.series,
        start=getattr(chain.query, "start", None),
        end=getattr(chain.query, "end", None),
        query_key=chain.query.cache_key(),
        records=found.count if found is not None else None,
        request_id=(manifest.request_id if manifest is not None else getattr(handle, "request_id", None)),
        files=files,
        bytes=fetched.bytes_total if fetched is not None else 0,
        downloaded=fetched.downloaded if fetched is not None else 0,
        skipped=fetched.skipped if fetched is not None else 0,
        timings=timings,
        failed_step=failed_step,
        error=error,
    )
