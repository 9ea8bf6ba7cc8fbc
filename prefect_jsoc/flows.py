"""The library flows: ``jsoc_search`` and ``jsoc_fetch``.

An OR query (several series and/or several intervals) is split into blocks. ``jsoc_fetch``
validates every block first (nothing is exported if one is invalid), searches them for the UI's
record tables, packs compatible blocks into as few JSOC exports as JSOC accepts
(:mod:`prefect_jsoc.planning`), and maps one ``export`` task over the export units: each holds a
pending-export slot while its export stages, then downloads its blocks' files while the next unit's
export stages. JSOC's limits are Prefect global concurrency limits, held for every host alike.
"""

from __future__ import annotations

import contextvars
import threading
import time
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, unmapped
from prefect.futures import PrefectFuture, as_completed, wait
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
    registered_progress,
)
from prefect_jsoc.downloads import check_download_path
from prefect_jsoc.errors import JsocFetchError
from prefect_jsoc.fetching import STEP_WEIGHTS, fetch_export
from prefect_jsoc.limits import prepare_limits
from prefect_jsoc.planning import plan_exports
from prefect_jsoc.query import JsocQuery, ValidatedQuery, or_queries, queries_from
from prefect_jsoc.results import BlockResult, FetchResult, SearchSummary
from prefect_jsoc.settings import JsocSettings
from prefect_jsoc.tasks import search, validate

__all__ = ["jsoc_search", "jsoc_fetch", "QueryGrid", "Interval", "JsocFetchError", "as_blocks"]

#: Threads for one flow run. Tasks mostly wait on the network or on JSOC's slots; how hard JSOC is
#: hit is bounded by the export and connection limits, not by this number.
DEFAULT_MAX_WORKERS = 32


class Interval(BaseModel):
    """A time interval (UTC unless the strings say otherwise)."""

    start: datetime | str = Field(description="Start of the interval, e.g. 2014-01-01T00:00:00.")
    end: datetime | str = Field(description="End of the interval, e.g. 2014-01-01T01:00:00.")


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


Queries = JsocQuery | list[JsocQuery] | QueryGrid


def as_blocks(queries: Queries | Any) -> list[JsocQuery]:
    """Normalise the ``queries`` parameter to a list of distinct blocks, keeping their order.

    Accepts a ``JsocQuery``, a list of them (what ``JsocQuery.from_attrs`` returns), or a
    ``QueryGrid``; sunpy attrs raise a typed error naming ``JsocQuery.from_attrs``.
    """
    blocks = queries.expand() if isinstance(queries, QueryGrid) else queries_from(queries)
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


def _validated(blocks: list[JsocQuery], settings: JsocSettings, export: bool) -> list[ValidatedQuery]:
    """Validate every block in its own task run; raise the first error (all are logged) so nothing is exported."""
    futures = validate.map(blocks, settings=unmapped(settings), export=export)
    wait(futures)
    logger = get_run_logger()
    errors = []
    for block, future in zip(blocks, futures):
        if future.state.is_failed() or future.state.is_crashed():
            try:
                future.result()
            except Exception as exc:  # noqa: BLE001 - re-raised below
                errors.append(exc)
                logger.error("Block %s is invalid: %s", block.label, exc)
    if errors:
        if len(errors) > 1:
            logger.error("%d of %d blocks are invalid; nothing was exported.", len(errors), len(blocks))
        raise errors[0]
    return [f.result() for f in futures]


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
    validated = _validated(blocks, settings, export=False)
    found = search.map(validated, keys=unmapped(keys), settings=unmapped(settings))
    results = found.result()
    publish_records_summary(results, settings.server_url)
    if len(results) <= MAX_BLOCK_TABLES:
        for result in results:
            publish_block_records(result.query, result.table, result.count)
    summary = SearchSummary(results=results)
    logger.info("Found %d records in %d block(s).", summary.count, len(results))
    return summary


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
    pack: bool = True,
) -> FetchResult:
    """Search, export and download JSOC data for one query, a list, or series x intervals.

    Blocks that differ only in their time range (or another single prime key) are packed into one
    JSOC export, so an 8-day OR query costs one export wait, not eight; each block still gets its
    own files, row in the result and line in the export summary. Downloads of a finished export
    overlap with the staging of the next.

    Restart-safe: a re-run re-attaches to the same JSOC exports (``stage`` is cached on what is
    exported) and downloads only files that are missing or not verified.

    Args:
        queries: A ``JsocQuery``, a list of them (e.g. from ``JsocQuery.from_attrs``), or a
            ``QueryGrid`` (series x intervals).
        path: Download directory, or a path template with ``{file}`` and record keywords.
        keys: Keywords to search for (see ``jsoc_search``).
        settings: Server and politeness settings; default ``JsocSettings.resolve()``.
        overwrite: Download files again even if a verified copy exists.
        fail_on_error: Raise ``JsocFetchError`` (after finishing every other block) if any block
            failed. With ``False`` the result lists the failures instead.
        pack: Pack compatible blocks into one export (``False``: one export per block).

    Returns:
        A ``FetchResult``: per block the request id (shared by packed blocks), record count, local
        files, bytes, timings, and a warning for blocks with no records.

    Raises:
        JsocValidationError: A block is invalid, no notify e-mail is set, or the download path is
            unusable; raised before anything is exported.
        JsocFetchError: Some blocks failed (only with ``fail_on_error=True``).

    Example:
        ```python
        from prefect_jsoc.flows import QueryGrid, jsoc_fetch

        result = jsoc_fetch(
            QueryGrid(series=["hmi.m_45s"],
                      intervals=[{"start": "2014-01-01T00:00", "end": "2014-01-01T00:02"},
                                 {"start": "2014-01-02T00:00", "end": "2014-01-02T00:02"}],
                      options={"segments": ["magnetogram"]}),
            path="data/jsoc",
        )
        print(result.files, result.request_ids)   # one export for both days
        ```
    """
    started = time.monotonic()
    settings = JsocSettings.resolve(settings)
    blocks = as_blocks(queries)
    check_download_path(path)
    logger = get_run_logger()
    logger.info(
        "Fetching %d block(s) from %s into %s (at most %d pending export(s) per e-mail, %d download "
        "connection(s), over every host).",
        len(blocks),
        settings.server_url,
        path,
        settings.max_pending_exports,
        settings.max_connections,
    )
    progress = FlowProgress(
        total=len(blocks) * sum(STEP_WEIGHTS.values()),
        key=artifact_key("jsoc-fetch-progress"),
        description=f"Validating {len(blocks)} block(s)",
    )
    progress_key = str(flow_run.id or id(progress))
    with registered_progress(progress_key, progress):
        # The Prefect limits are created while the blocks are validated, not by the first stage (which
        # waits on ensure_limit's lock if they are not ready yet). The thread runs in a copy of this
        # context, so it sees the same Prefect settings (API URL).
        threading.Thread(
            target=contextvars.copy_context().run,
            args=(prepare_limits, settings, _notify_emails(blocks, settings)),
            daemon=True,
        ).start()
        validated = _validated(blocks, settings, export=True)
        progress.advance("flow", len(blocks) * STEP_WEIGHTS["validate"], f"Validated {len(blocks)} block(s)")
        searches = search.map(validated, keys=unmapped(keys), settings=unmapped(settings))
        units = plan_exports(validated, pack=pack)
        with_records = sum(len(u.blocks) for u in units)
        logger.info(
            "%d block(s) with records go into %d export(s)%s.",
            with_records,
            len(units),
            f"; {len(blocks) - with_records} block(s) have no records" if with_records < len(blocks) else "",
        )
        futures = fetch_export.map(
            units,
            path=unmapped(path),
            settings=unmapped(settings),
            overwrite=unmapped(overwrite),
            progress_key=unmapped(progress_key),
        )
        unit_of = {id(future): unit for future, unit in zip(futures, units)}
        found = _search_results(searches, validated)
        progress.advance("flow", len(blocks) * STEP_WEIGHTS["search"])
        by_block: dict[str, BlockResult] = {}
        published = False
        for future in as_completed(futures):
            unit = unit_of[id(future)]
            for block_result in _unit_results(future, unit):
                by_block[block_result.query_key] = block_result
            progress.at_least(
                unit.label, _unit_weight(unit), f"{len(by_block)} of {with_records} block(s) done; last: {unit.label}"
            )
            if not published:  # while the next export stages, not after the last download
                _publish_records(found, settings, len(blocks))
                published = True
        if not published:
            _publish_records(found, settings, len(blocks))

    result = FetchResult(
        server_url=settings.server_url,
        path=str(path),
        blocks=[by_block.get(v.cache_key()) or _empty_block(v) for v in validated],
        elapsed_seconds=time.monotonic() - started,
    )
    publish_export_summary(result)
    complete = len(result.blocks) - len(result.failed)
    progress.finish(
        f"{complete} of {len(result.blocks)} block(s) complete: {len(result.files)} files, "
        f"{result.total_bytes / 1e6:.1f} MB in {result.elapsed_seconds:.1f} s"
    )
    for block in result.failed:
        logger.error("Block %s failed in %s: %s", block.label, block.failed_step, block.error)
    for warning in result.warnings:
        logger.warning("%s", warning)
    logger.info(
        "Fetched %d of %d block(s): %d files, %.1f MB, %d JSOC export(s), in %.1f s.",
        complete,
        len(result.blocks),
        len(result.files),
        result.total_bytes / 1e6,
        len(result.request_ids),
        result.elapsed_seconds,
    )
    if result.failed and fail_on_error:
        raise JsocFetchError(result)
    return result


def _unit_weight(unit: Any) -> float:
    return len(unit.blocks) * sum(STEP_WEIGHTS[s] for s in ("stage", "await_export", "download"))


def _unit_results(future: PrefectFuture, unit: Any) -> list[BlockResult]:
    """The block results of one ``export`` task; every block failed if the task itself crashed."""
    try:
        return list(future.result())
    except Exception as exc:  # noqa: BLE001 - reported per block
        return [
            BlockResult.for_block(b, failed_step="export", error=str(exc) or type(exc).__name__) for b in unit.blocks
        ]


def _empty_block(block: ValidatedQuery) -> BlockResult:
    """The result of a block that matched no records: nothing exported, with a warning."""
    return BlockResult.for_block(
        block,
        warning="no records in this range (nothing to export); check the time range and prime keys",
    )


def _notify_emails(blocks: list[JsocQuery], settings: JsocSettings) -> list[str]:
    """The notify e-mails the blocks' exports will use (validation reports a missing one)."""
    out = []
    for block in blocks:
        try:
            out.append(settings.notify_email(block.notify_address()))
        except Exception:  # noqa: BLE001, S112 - validate raises it with its context
            continue
    return out


def _publish_records(found: list[Any], settings: JsocSettings, blocks: int) -> None:
    """The records summary and, for a handful of blocks, one records table per block."""
    publish_records_summary([r for r in found if r is not None], settings.server_url)
    if blocks <= MAX_BLOCK_TABLES:
        for r in found:
            if r is not None:
                publish_block_records(r.query, r.table, r.count)


def _search_results(futures: Any, blocks: list[ValidatedQuery]) -> list[Any]:
    """The search results for the record tables; a failed search only costs its table."""
    out = []
    for block, future in zip(blocks, futures):
        try:
            out.append(future.result())
        except Exception as exc:  # noqa: BLE001 - the records table is a courtesy
            get_run_logger().warning("The records table of %s is missing: %s", block.label, exc)
            out.append(None)
    return out
