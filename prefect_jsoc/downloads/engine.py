"""``download_manifest``: every file of an export, verified, each renamed as soon as it is complete.

The guarantees, and where each is kept:

* **Never a wrong file under a final name.** Each writer downloads to its own temporary name, holds
  the file's lock while it writes, verifies the bytes (size against ``Content-Length`` and the
  manifest, FITS structure and ``DATASUM``/``CHECKSUM``) and only then renames them into place
  (:mod:`.transfer`, :mod:`.ledger`, :mod:`.verify`).
* **A skip means "this exact product was verified".** A present file is skipped only when its
  verification record describes the same product (protocol, record, file name) and the file is
  unchanged since (:func:`~prefect_jsoc.downloads.ledger.is_verified`).
* **Only missing files are fetched again.** Files are renamed one by one as they complete, so a
  killed or interrupted download keeps what it finished.
* **Every wait is bounded.** Reads by ``request_timeout``, slow transfers by ``min_download_rate``
  over ``download_rate_window``, waits for another writer of the same file by ``export_timeout``.
  A full disk or another write error stops the download at once (:class:`DiskFullError`,
  :class:`DownloadWriteError`).
* **Stops are prompt.** Ctrl-C or SIGTERM in the thread that downloads, :func:`stop_downloads`, or
  Prefect tearing the flow run down (cancellation from the UI, SIGTERM, Ctrl-C while the download
  runs on a task-runner thread) stop the transfers within a fraction of a second and remove their
  temporary files.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

from prefect_jsoc._log import get_logger as _logger
from prefect_jsoc.errors import (
    DiskFullError,
    DownloadCancelledError,
    DownloadFailedError,
    DownloadTransientError,
    DownloadWriteError,
    InvalidOptionError,
)
from prefect_jsoc.limits import download_slots
from prefect_jsoc.models import DownloadResult, ExportManifest
from prefect_jsoc.settings import JsocSettings

from .ledger import PathLock, Product, is_verified
from .paths import resolve_target
from .transfer import FileJob, is_disk_full, run_round

__all__ = ["ProgressCallback", "download_manifest", "stop_downloads"]

ProgressCallback = Callable[[str, float, str], None]
_BUSY_POLL = 0.25


class _StopSignal:
    """Whether a download should stop: :func:`stop_downloads`, or the Prefect flow run being torn down."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._prefect_events = _prefect_cancel_events()

    def is_set(self) -> bool:
        return self.event.is_set() or any(e.is_set() for e in self._prefect_events)

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds``; return True early when a stop is requested."""
        deadline = time.monotonic() + seconds
        while not self.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.event.wait(min(left, 0.1))
        return True


_active: set[_StopSignal] = set()
_active_guard = threading.Lock()


def stop_downloads() -> int:
    """Stop every download running in this process, promptly and cleanly.

    Each running :func:`download_manifest` cancels its transfers, removes their temporary files,
    keeps the files it already completed and verified, and raises :class:`DownloadCancelledError`.
    Downloads started afterwards are not affected. Signal handlers (a CLI's SIGINT/SIGTERM
    handler) may call it.

    Returns:
        How many downloads were asked to stop.

    Example:
        ```python
        import signal
        from prefect_jsoc.downloads import stop_downloads
        signal.signal(signal.SIGTERM, lambda *_: stop_downloads())
        ```
    """
    with _active_guard:
        signals = list(_active)
    for signal in signals:
        signal.event.set()
    return len(signals)


def _prefect_cancel_events() -> list[threading.Event]:
    """The cancel events of the task runner of the current Prefect flow run, if any.

    A sync task submitted to Prefect's ``ThreadPoolTaskRunner`` is never interrupted: when the
    flow run is torn down (SIGTERM from a worker cancelling it from the UI, Ctrl-C, a crash in
    the flow), the runner sets one ``threading.Event`` per task run and then waits for the threads
    to finish. The events are private (``_cancel_events``, Prefect 3.x), so this looks for them
    defensively and gives up quietly when they are not there.
    """
    try:
        from prefect.context import FlowRunContext

        context = FlowRunContext.get()
    except Exception:  # noqa: BLE001 - Prefect missing or not in a flow
        return []
    events = getattr(getattr(context, "task_runner", None), "_cancel_events", None)
    if not isinstance(events, dict):
        return []
    return [e for e in list(events.values()) if isinstance(e, threading.Event)]


def download_manifest(
    manifest: ExportManifest,
    path: str | os.PathLike[str],
    settings: JsocSettings | None = None,
    *,
    overwrite: bool = False,
    on_progress: ProgressCallback | None = None,
    sleep: Callable[[float], None] | None = None,
) -> DownloadResult:
    """Download every file of a manifest into ``path``, verified and idempotent.

    Files already present are skipped only when their verification record shows they are this
    product, unchanged since it was verified; every other file is downloaded to a temporary name,
    verified, and renamed into place as soon as it is complete. See the module docstring for the
    guarantees.

    Args:
        manifest: From ``await_export``.
        path: Target directory or path template (see :func:`~prefect_jsoc.downloads.resolve_target`).
        settings: Settings (``max_connections``, ``http_retries``, ``retry_backoff``,
            ``request_timeout``, ``min_download_rate``, ``download_rate_window``, ``export_timeout``).
        overwrite: Download again even files already present and verified.
        on_progress: Called as ``on_progress("download", fraction, detail)``.
        sleep: Sleep function between retry rounds (default: a wait that ends early on a stop).

    Returns:
        The paths (in manifest order) and counts of downloaded and skipped files.

    Raises:
        UnsafeFilenameError: When a file name would escape the target directory (before any
            download).
        InvalidOptionError: When the path template uses a field the files do not have, or puts
            two files at one path.
        DownloadTransientError: When files still fail after ``1 + http_retries`` rounds, all for
            reasons that may pass (too slow, connection lost, HTTP 5xx, bytes that failed
            verification); the tasks retry it.
        DownloadFailedError: When files still fail after every round, some for other reasons (HTTP
            404 and other client errors); it lists each URL and error.
        DiskFullError: When the disk is full; at once, with the temporary files removed.
        DownloadWriteError: When a file cannot be written for another reason.
        DownloadCancelledError: When a stop was requested (see :func:`stop_downloads`).

    Example:
        ```python
        from prefect_jsoc.downloads import download_manifest
        result = download_manifest(manifest, "data/{series}/{file}")
        print(result.downloaded, "downloaded,", result.skipped, "already present")
        ```
    """
    settings = JsocSettings.resolve(settings)
    jobs = _jobs(manifest, path)
    total = len(jobs)
    report = on_progress or (lambda stage, fraction, detail: None)
    finished: dict[int, Path] = {}
    todo: list[FileJob] = []
    skipped = 0
    for job in jobs:
        if not overwrite and is_verified(job.target, job.product):
            finished[job.index] = job.target
            skipped += 1
        else:
            todo.append(job)
    if skipped:
        _logger().info(
            "%d of %d files of %s are already present and verified; skipping them.", skipped, total, manifest.label
        )
    progress = {"count": skipped}
    progress_guard = threading.Lock()

    def file_done(job: FileJob) -> None:
        with progress_guard:
            progress["count"] += 1
            count = min(progress["count"], total)
        report("download", count / total if total else 1.0, f"{count}/{total} files")

    report("download", skipped / total if total else 1.0, f"{skipped}/{total} files")

    stop = _StopSignal()
    with _active_guard:
        _active.add(stop)
    started = time.monotonic()
    downloaded = bytes_downloaded = 0
    failures: dict[int, int] = {}
    errors: dict[int, tuple[str, bool]] = {}
    gave_up: list[FileJob] = []
    busy_since: dict[int, float] = {}
    rounds = 1 + settings.http_retries
    try:
        while todo:
            if stop.is_set():
                raise _cancelled(manifest, finished, todo)
            with download_slots(settings, wanted=len(todo)) as connections:
                _logger().info(
                    "Downloading %d file(s) of %s with %d connection(s).", len(todo), manifest.label, connections
                )
                result = run_round(
                    todo, connections, settings, should_stop=stop.is_set, overwrite=overwrite, on_done=file_done
                )
            if result.write_error is not None:
                raise _write_error(*result.write_error, manifest)
            remaining: list[FileJob] = []
            unstarted = {j.index for j in todo if j.state == "failed" and not j.started}
            failed_now = busy_now = False
            for job in todo:
                if job.state == "done":
                    finished[job.index] = job.target
                    downloaded += 1
                    bytes_downloaded += job.nbytes
                elif job.state == "skipped":
                    finished[job.index] = job.target
                    skipped += 1
                    file_done(job)
                elif job.state == "failed":
                    failures[job.index] = failures.get(job.index, 0) + 1
                    errors[job.index] = (job.reason or "failed", job.transient)
                    if failures[job.index] < rounds:
                        remaining.append(job)
                        failed_now = True
                    else:
                        gave_up.append(job)
                elif job.state == "busy":
                    since = busy_since.setdefault(job.index, time.monotonic())
                    if time.monotonic() - since > settings.export_timeout:
                        errors[job.index] = (
                            f"another download has been writing {job.target} for more than "
                            f"{settings.export_timeout:.0f} s (export_timeout)",
                            True,
                        )
                        gave_up.append(job)
                    else:
                        remaining.append(job)
                        busy_now = True
                else:  # not started, or stopped
                    remaining.append(job)
                job.reset()
            if result.stopped:
                raise _cancelled(manifest, finished, remaining + gave_up)
            # Files that were never started (a slow server stopped the round) go first next time,
            # so one file that is always slow cannot starve the others.
            todo = [j for j in remaining if j.index in unstarted] + [j for j in remaining if j.index not in unstarted]
            if not todo:
                break
            if failed_now:
                attempt = max(failures.get(j.index, 0) for j in todo)
                delay = settings.retry_backoff * (2 ** max(0, attempt - 1)) * random.uniform(0.75, 1.25)
                _logger().warning(
                    "%d file(s) of %s failed; retrying in %.1f s (round %d of %d).",
                    len(todo),
                    manifest.label,
                    delay,
                    attempt + 1,
                    rounds,
                )
                (sleep or stop.wait)(delay)
            elif busy_now:
                deadline = min(busy_since.values()) + settings.export_timeout
                skipped += _wait_for_other_writers(todo, finished, deadline, stop, manifest, file_done)
    finally:
        with _active_guard:
            _active.discard(stop)
        for job in jobs:
            job.cleanup()

    paths = [finished[j.index] for j in jobs if j.index in finished]
    if gave_up:
        failed = [(j.file.url, errors.get(j.index, ("failed", False))[0]) for j in gave_up]
        transient = all(errors.get(j.index, ("", False))[1] for j in gave_up)
        raise (DownloadTransientError if transient else DownloadFailedError)(failed, paths)
    bytes_total = 0
    for p in paths:
        try:
            bytes_total += p.stat().st_size
        except OSError:
            pass
    report("download", 1.0, f"{total}/{total} files")
    if downloaded:
        _logger().info(
            "Downloaded %d file(s) of %s (%.1f MB) in %.1f s; %d were already present.",
            downloaded,
            manifest.label,
            bytes_downloaded / 1e6,
            time.monotonic() - started,
            skipped,
        )
    return DownloadResult(
        paths=paths,
        downloaded=downloaded,
        skipped=skipped,
        bytes_downloaded=bytes_downloaded,
        bytes_total=bytes_total,
    )


def _jobs(manifest: ExportManifest, path: str | os.PathLike[str]) -> list[FileJob]:
    """One job per distinct target, in manifest order; refuses two files at one path."""
    jobs: list[FileJob] = []
    seen: dict[Path, str] = {}
    for f in manifest.files:
        target = resolve_target(path, f, manifest)
        if target in seen:
            if seen[target] != f.url:
                raise InvalidOptionError(
                    f"Two files of {manifest.label} would be written to {target} ({seen[target]} and {f.url}); "
                    "add {file} or a record keyword to the path template."
                )
            continue
        seen[target] = f.url
        jobs.append(
            FileJob(
                file=f,
                target=target,
                product=Product.of(f, manifest),
                index=len(jobs),
                request_id=manifest.request_id,
                method=manifest.method,
                server_url=manifest.server_url,
            )
        )
    return jobs


def _wait_for_other_writers(
    todo: list[FileJob],
    finished: dict[int, Path],
    deadline: float,
    stop: _StopSignal,
    manifest: ExportManifest,
    file_done: Callable[[FileJob], None],
) -> int:
    """Wait (outside the connection slots) until another writer finishes or frees one of ``todo``.

    Files the other writer verified move from ``todo`` to ``finished``; returns how many. Returns
    early on a stop request, and at ``deadline`` (``export_timeout`` after the wait began), after
    which the caller gives those files up.
    """
    _logger().info("%d file(s) of %s are being written by another download; waiting for it.", len(todo), manifest.label)
    verified = 0
    while True:
        ready = False
        for job in list(todo):
            if is_verified(job.target, job.product):
                finished[job.index] = job.target
                todo.remove(job)
                verified += 1
                file_done(job)
                ready = True
                continue
            probe = PathLock(job.target)
            try:
                if probe.acquire():
                    probe.release()
                    ready = True
            except OSError:
                ready = True  # the next round reports it
        if ready or not todo or time.monotonic() >= deadline or stop.wait(_BUSY_POLL):
            return verified


def _cancelled(manifest: ExportManifest, finished: dict[int, Path], left: list[FileJob]) -> DownloadCancelledError:
    return DownloadCancelledError(
        f"The download of {manifest.label} was stopped on request: {len(finished)} file(s) are complete and "
        f"verified, {len(left)} not downloaded. Nothing partial was kept; run it again to fetch only the "
        "missing files."
    )


def _write_error(exc: OSError, path: Path, manifest: ExportManifest) -> DownloadWriteError:
    where = path.parent
    if is_disk_full(exc):
        return DiskFullError(
            f"The disk is full: writing {path} failed ({exc.strerror or exc}). The download of {manifest.label} "
            f"stopped at once and its temporary files were removed; free space on the file system of {where} "
            "(or choose another download path) and run it again: files already complete are kept.",
            path=str(path),
            errno=exc.errno,
        )
    return DownloadWriteError(
        f"Cannot write {path}: {exc.strerror or exc} (errno {exc.errno}). The download of {manifest.label} "
        f"stopped and its temporary files were removed; check that {where} is writable, then run it again.",
        path=str(path),
        errno=exc.errno,
    )
