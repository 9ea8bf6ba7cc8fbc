"""One export unit as one Prefect task: stage -> await_export -> download of each of its blocks.

The ``export`` task calls the five-step tasks as nested task runs (called, never submitted: a task
that submits tasks and waits for them deadlocks a bounded thread pool). ``stage`` takes a
pending-export slot of the notify e-mail and ``await_export`` gives it back as soon as the export is
ready, so the next unit's submission starts while this unit downloads.

Recovery, all through Prefect's cache:

* ``stage`` is cached, so a re-run re-attaches to the request it submitted before;
* if that cached request has since expired or failed on JSOC's side, it is staged again once, with
  ``refresh_cache=True`` (which also replaces the cache entry);
* if JSOC refuses a packed record set, each block is exported on its own.
"""

from __future__ import annotations

import time
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.transactions import CommitMode, transaction

from prefect_jsoc._log import get_logger
from prefect_jsoc.artifacts import progress_for
from prefect_jsoc.errors import (
    ExportBadRequestError,
    ExportTimeoutError,
    ExportTooLargeError,
    JsocExportError,
    JsocTransientError,
)
from prefect_jsoc.exports import split_manifest
from prefect_jsoc.limits import download_slots
from prefect_jsoc.models import ExportManifest, ExportUnit
from prefect_jsoc.results import BlockResult
from prefect_jsoc.settings import JsocSettings
from prefect_jsoc.tasks import await_export, download, stage

__all__ = ["STEP_WEIGHTS", "fetch_export"]

#: How much of a block's progress bar each step is worth.
STEP_WEIGHTS = {"validate": 1.0, "search": 1.0, "stage": 1.0, "await_export": 2.0, "download": 5.0}


class _StepFailed(Exception):
    def __init__(self, step: str, error: BaseException, request_id: str | None = None) -> None:
        super().__init__(f"{step}: {error}")
        self.step, self.error, self.request_id = step, error, request_id


def _message(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _stage_and_await(
    unit: ExportUnit, settings: JsocSettings, timings: dict[str, float], progress: Any
) -> ExportManifest:
    """Stage (or re-attach to) the unit's export and wait for it; re-stage a cached one that died."""
    step, mark, request_id = "stage", time.monotonic(), None
    try:
        state = _staged(unit, settings)
        handle = state.result()
        request_id = handle.request_id
        timings["stage"] = time.monotonic() - mark
        progress.advance(unit.label, STEP_WEIGHTS["stage"] * len(unit.blocks))
        step, mark = "await_export", time.monotonic()
        try:
            manifest = await_export(handle, settings=settings)
        except JsocExportError as exc:
            if state.name != "Cached" or isinstance(exc, (ExportTimeoutError, JsocTransientError)):
                raise  # a pending export is not dead: re-staging would only wait for it again
            said = getattr(exc, "server_message", None) or _message(exc).split(". ")[0]
            get_logger().warning(
                "Export %s for %s came from an earlier run, but JSOC can no longer serve it (%s); staging it again.",
                handle.request_id,
                unit.label,
                said,
            )
            step = "stage"
            handle = _staged(unit, settings, refresh=True).result()
            request_id = handle.request_id
            step, mark = "await_export", time.monotonic()
            manifest = await_export(handle, settings=settings)
        timings["await_export"] = time.monotonic() - mark
        progress.advance(unit.label, STEP_WEIGHTS["await_export"] * len(unit.blocks))
        return manifest
    except Exception as exc:
        raise _StepFailed(step, exc, request_id) from exc


def _staged(unit: ExportUnit, settings: JsocSettings, refresh: bool = False) -> Any:
    """Run ``stage`` as a nested task whose cache entry is written (and lock freed) as soon as it ends.

    A task called inside another task joins that task's transaction, which would defer the cache
    write until the whole ``export`` task finished: a crash while awaiting would lose the request id.
    """
    task = stage.with_options(refresh_cache=True) if refresh else stage
    with transaction(commit_mode=CommitMode.EAGER):
        return task(unit, settings=settings, return_state=True)


def _failed(
    block: Any, step: str, exc: BaseException, timings: dict[str, float], request_id: str | None = None
) -> BlockResult:
    return BlockResult.for_block(
        block, request_id=request_id, timings=dict(timings), failed_step=step, error=_message(exc)
    )


def run_unit(
    unit: ExportUnit, path: str, settings: JsocSettings, overwrite: bool = False, progress_key: str | None = None
) -> list[BlockResult]:
    """Export one unit and download its blocks' files; return one result per block (never raises).

    Args:
        unit: The export unit.
        path: Download directory or path template.
        settings: Resolved settings.
        overwrite: Download files again even when a verified copy exists.
        progress_key: Key of the fetch's progress bar in this process, if any.

    Returns:
        One :class:`~prefect_jsoc.results.BlockResult` per block of ``unit``, in order.
    """
    progress = progress_for(progress_key)
    timings: dict[str, float] = {}
    try:
        manifest = _stage_and_await(unit, settings, timings, progress)
    except _StepFailed as failure:
        exc = failure.error
        if len(unit.blocks) > 1 and isinstance(exc, (ExportBadRequestError, ExportTooLargeError)):
            get_logger().warning(
                "JSOC refused the packed export of %d blocks of %s (%s); exporting each block on its own.",
                len(unit.blocks),
                unit.series,
                _message(exc).split(". ")[0],
            )
            singles = [ExportUnit(blocks=(b,), recordset=b.recordset()) for b in unit.blocks]
            return [r for single in singles for r in run_unit(single, path, settings, overwrite, progress_key)]
        get_logger().error("%s failed in %s: %s", unit.label, failure.step, _message(exc))
        return [_failed(b, failure.step, exc, timings, failure.request_id) for b in unit.blocks]

    shares = list(zip(unit.blocks, split_manifest(manifest, unit)))
    if len(shares) > 1:  # one acquisition of the download connections for all blocks of the export
        wanted = max(len(share.files) for _, share in shares)
        with download_slots(settings, wanted=wanted):
            return _download_blocks(unit, shares, manifest.request_id, path, settings, overwrite, timings, progress)
    return _download_blocks(unit, shares, manifest.request_id, path, settings, overwrite, timings, progress)


def _download_blocks(
    unit: ExportUnit,
    shares: list[tuple[Any, Any]],
    request_id: str,
    path: str,
    settings: JsocSettings,
    overwrite: bool,
    timings: dict[str, float],
    progress: Any,
) -> list[BlockResult]:
    results = []
    for block, share in shares:
        mark = time.monotonic()
        try:
            got = download(share, path, settings=settings, overwrite=overwrite)
        except Exception as exc:
            results.append(_failed(block, "download", exc, timings, request_id))
            get_logger().error("Downloading %s failed: %s", block.label, _message(exc))
            continue
        finally:
            progress.advance(unit.label, STEP_WEIGHTS["download"])
        results.append(
            BlockResult.for_block(
                block,
                request_id=request_id,
                shared_export=len(unit.blocks) > 1,
                files=list(got.paths),
                bytes=got.bytes_total,
                downloaded=got.downloaded,
                skipped=got.skipped,
                timings={**timings, "download": time.monotonic() - mark},
            )
        )
    return results


def _unit_run_name(parameters: dict[str, Any]) -> str:
    try:
        return f"export · {parameters['unit'].label}"
    except Exception:  # a run name must never fail a run
        return "export"


@task(name="export", task_run_name=_unit_run_name, cache_policy=NO_CACHE)
def fetch_export(
    unit: ExportUnit, path: str, settings: JsocSettings, overwrite: bool = False, progress_key: str | None = None
) -> list[BlockResult]:
    """Export one unit of blocks and download each block's files (see :func:`run_unit`).

    Args:
        unit: The export unit (from :func:`prefect_jsoc.planning.plan_exports`).
        path: Download directory or path template.
        settings: Resolved settings.
        overwrite: Download files again even when a verified copy exists.
        progress_key: Key of the fetch's progress bar in this process, if any.

    Returns:
        One result per block; failed blocks carry the failed step and the error.
    """
    return run_unit(unit, path, settings, overwrite, progress_key)
