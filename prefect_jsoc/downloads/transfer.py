"""One round of transfers through parfive, with every wait bounded and every file finished on its own.

For each file, in parfive's event loop:

1. take the file's lock (:class:`~prefect_jsoc.downloads.ledger.PathLock`); if another writer holds
   it, leave the file for later (``busy``); once taken, skip the file if another writer verified it
   meanwhile, and remove temporary files that dead writers left;
2. download to a unique temporary name while a watchdog measures the rate: a file slower than
   ``min_download_rate`` over ``download_rate_window`` is abandoned as a transient fault;
3. as soon as the file is complete, verify it (size against ``Content-Length`` and the manifest,
   FITS structure and checksums), then rename it into place and write its verification record,
   on a worker thread, while the next transfer runs.

A write error (``ENOSPC``, ``EIO``, ...) stops the whole round at once. So does a stop request
(:func:`~prefect_jsoc.downloads.stop_downloads`, a cancelled Prefect flow run) or, in the main
thread, Ctrl-C. parfive's ``run_download`` swallows cancellation and returns normally, so stops
are recorded here and reported by the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from prefect_jsoc._log import get_logger
from prefect_jsoc.settings import JsocSettings

from .faults import describe_failure, is_disk_full, too_slow
from .jobs import FileJob, RoundResult
from .ledger import PathLock, is_verified, remove_stale_temporaries, temporary_path, write_record
from .parfive_hooks import TempName, current_job, downloader_class
from .verify import inspect_file

__all__ = ["CHUNK_SIZE", "FileJob", "RoundResult", "describe_failure", "is_disk_full", "run_round"]

#: Read chunk passed to parfive (its default of 1 KiB caps throughput near 100 MB/s).
CHUNK_SIZE = 1 << 20
#: How often a running round looks at its stop conditions, in seconds.
STOP_POLL = 0.1


class _Round:
    """The state of one round inside the event loop."""

    def __init__(
        self,
        jobs: list[FileJob],
        connections: int,
        settings: JsocSettings,
        should_stop: Callable[[], bool],
        overwrite: bool,
        on_done: Callable[[FileJob], None],
    ) -> None:
        self.jobs = jobs
        self.connections = connections
        self.settings = settings
        self.should_stop = should_stop
        self.overwrite = overwrite
        self.on_done = on_done
        self.result = RoundResult()
        self.stopping = False
        self.too_slow = False  # a file was abandoned as too slow: start no more files this round
        self.run_task: asyncio.Task[Any] | None = None
        self.finalizers: set[asyncio.Task[Any]] = set()

    # -- the round ------------------------------------------------------------------------------

    async def run(self) -> None:
        import aiohttp
        import parfive
        from parfive import SessionConfig

        config = SessionConfig(
            file_progress=False,
            headers={"User-Agent": f"prefect-jsoc parfive/{parfive.__version__} aiohttp/{aiohttp.__version__}"},
            timeouts=aiohttp.ClientTimeout(
                total=None, sock_connect=self.settings.request_timeout, sock_read=self.settings.request_timeout
            ),
        )
        downloader = downloader_class()(
            self, max_conn=self.connections, max_splits=1, progress=False, overwrite=True, config=config
        )
        for job in self.jobs:
            downloader.enqueue_file(
                job.file.url, path=job.target.parent, filename=TempName(job), overwrite=True, chunksize=CHUNK_SIZE
            )
        self.run_task = asyncio.ensure_future(downloader.run_download())
        try:
            while not self.run_task.done():
                await asyncio.wait({self.run_task}, timeout=STOP_POLL)
                if not self.stopping and self.should_stop():
                    self.stop()
        except asyncio.CancelledError:  # Ctrl-C in the main thread (asyncio.run cancels us)
            self.stop()
            await self.drain()
            raise
        await self.drain()

    def stop(self, *, requested: bool = True) -> None:
        """Stop the round: in-flight transfers are cancelled (parfive cleans up), queued ones never start."""
        if requested:
            self.result.stopped = True
        if not self.stopping:
            self.stopping = True
            if self.run_task is not None:
                self.run_task.cancel()

    async def drain(self) -> None:
        """Wait for parfive to finish cleaning up and for every started verification to end."""
        if self.run_task is not None:
            await asyncio.wait({self.run_task})
            if not self.run_task.cancelled() and self.run_task.exception() is not None:
                # Each file's outcome is on its job; parfive re-raises a dead writer's error here.
                get_logger().debug("parfive ended with %r", self.run_task.exception())
        while self.finalizers:
            await asyncio.wait(set(self.finalizers))

    # -- one file -------------------------------------------------------------------------------

    async def guarded(self, job: FileJob, call: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """Download one file with its lock, its rate watchdog, and verification on completion."""
        if self.stopping:
            return
        if self.too_slow:
            job.fail(
                "not started: another file of this round was slower than min_download_rate, so the server "
                "or the network is slow now; retried later as a transient fault",
                transient=True,
            )
            return
        lock = PathLock(job.target)
        try:
            job.target.parent.mkdir(parents=True, exist_ok=True)
            taken = lock.acquire()
        except OSError as exc:
            self.write_failed(job, exc, job.target)
            return
        if not taken:
            job.state = "busy"
            return
        job.lock = lock
        handed_over = False
        try:
            if not self.overwrite and await asyncio.to_thread(is_verified, job.target, job.product):
                job.state = "skipped"  # another writer finished it while we were queued
                return
            remove_stale_temporaries(job.target)
            job.temp = temporary_path(job.target)
            job.started = True
            job.writer_closed = asyncio.Event()
            job.task = asyncio.current_task()
            token = current_job.set(job)
            watchdog = asyncio.ensure_future(self.watch(job))
            error: Any = None
            try:
                await call()
            except asyncio.CancelledError:
                if job.reason is None and not self.stopping:
                    raise
                error = asyncio.CancelledError()
            except Exception as exc:  # parfive's FailedDownload, or the writer's OSError
                error = getattr(exc, "exception", exc)
            finally:
                watchdog.cancel()
                current_job.reset(token)
                if job.reason is not None and job.task is not None and job.task.cancelling():
                    job.task.uncancel()  # we cancelled it (too slow, write error), not the caller
            if error is None:  # complete: verified and kept even when the round is stopping
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(job.writer_closed.wait(), 10)  # parfive closes the file after returning
                task = asyncio.ensure_future(self.finalize(job))
                self.finalizers.add(task)
                task.add_done_callback(self.finalizers.discard)
                handed_over = True
            elif self.stopping and job.reason is None:
                job.state = "stopped"
            else:
                reason, transient = describe_failure(error)
                job.fail(reason, transient=transient)
        finally:
            if not handed_over:
                job.cleanup()

    async def watch(self, job: FileJob) -> None:
        """Abandon the transfer when it delivers less than ``min_download_rate`` over the window."""
        rate, window = self.settings.min_download_rate, self.settings.download_rate_window
        if rate > 0 and await too_slow(job, rate, window):
            self.too_slow = True

    def write_failed(self, job: FileJob, exc: OSError, path: Path) -> None:
        """A file could not be written: fail it and stop the whole round at once."""
        job.fail(f"cannot write {path}: {exc.strerror or exc}", transient=False)
        if self.result.write_error is None:
            self.result.write_error = (exc, path)
        if job.task is not None and not job.task.done() and job.task is not asyncio.current_task():
            job.task.cancel()
        self.stop(requested=False)

    async def finalize(self, job: FileJob) -> None:
        """Verify a complete temporary file, rename it into place and record it (on a thread)."""
        try:
            await asyncio.to_thread(self._place, job)
        except OSError as exc:
            self.write_failed(job, exc, job.target)
        finally:
            job.cleanup()
        if job.state == "done":
            with contextlib.suppress(Exception):
                self.on_done(job)

    def _place(self, job: FileJob) -> None:
        assert job.temp is not None
        try:
            self._verify_and_rename(job)
        except FileNotFoundError as exc:
            if exc.filename not in (str(job.temp), job.temp):
                raise
            # Only a writer on another host that could not see our lock removes our temporary file
            # (it takes it for a dead writer's); nothing wrong was exposed, so try again later.
            job.fail(f"the temporary file {job.temp.name} was removed by another download", transient=True)

    def _verify_and_rename(self, job: FileJob) -> None:
        assert job.temp is not None
        if not job.temp.exists():
            raise FileNotFoundError(2, "No such file or directory", str(job.temp))
        found = inspect_file(job.temp, job.file.size, name=job.target.name, digest=True)
        problem = found.problem
        if problem is None and job.announced is not None and found.size != job.announced:
            problem = f"size is {found.size} bytes, the server announced {job.announced} (Content-Length)"
        if problem is not None:
            # Bad bytes are retried like a dropped connection: a proxy's error page or a body damaged
            # in transit passes; bytes that are wrong every time still fail after the last retry.
            job.fail(f"downloaded file failed verification: {problem}", transient=True)
            return
        fd = os.open(job.temp, os.O_RDONLY)
        try:
            os.fsync(fd)  # the bytes are on disk before a record can say they were verified
        finally:
            os.close(fd)
        os.replace(job.temp, job.target)
        checks = [*found.checks, *(["content-length"] if job.announced is not None else [])]
        write_record(
            job.target,
            job.product,
            sha256=str(found.sha256),
            checks=checks,
            request_id=job.request_id,
            url=job.file.url,
            method=job.method,
            server_url=job.server_url,
            announced_size=job.announced,
        )
        job.state, job.nbytes = "done", found.size


def run_round(
    jobs: list[FileJob],
    connections: int,
    settings: JsocSettings,
    *,
    should_stop: Callable[[], bool],
    overwrite: bool,
    on_done: Callable[[FileJob], None],
) -> RoundResult:
    """Run one round over ``jobs`` on a fresh event loop; each job's ``state`` says how it went.

    Raises:
        KeyboardInterrupt: On Ctrl-C in the main thread, after the round was cleaned up.
    """
    interrupted = threading.Event()
    state = _Round(jobs, connections, settings, lambda: interrupted.is_set() or should_stop(), overwrite, on_done)
    _run_coroutine(state.run(), interrupted)
    if interrupted.is_set():
        state.result.stopped = True
    return state.result


def _run_coroutine(coro: Coroutine[Any, Any, Any], interrupted: threading.Event) -> Any:
    """Run a coroutine to completion on a fresh event loop that is closed afterwards.

    parfive's own ``download()`` leaves its loop (with signal handlers) unclosed, which later fails
    when the loop is garbage-collected in another thread. Inside a running loop (async code,
    notebooks), the coroutine runs on a helper thread; an interrupt of the caller then stops it.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(target,), name="prefect-jsoc-download", daemon=True)
    thread.start()
    try:
        thread.join()
    except BaseException:
        interrupted.set()  # the round polls it and stops
        thread.join(30)
        raise
    if "error" in box:
        raise box["error"]
    return box.get("value")
