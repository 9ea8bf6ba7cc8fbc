"""Where prefect-jsoc hooks into parfive: a temporary name per file, and a guarded downloader.

parfive's ``filename`` callable (:class:`TempName`) records the announced ``Content-Length`` and
names the temporary file; :func:`downloader_class` is the ``parfive.Downloader`` subclass that runs
each transfer inside the round's guard and notices when parfive's writer dies.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .jobs import FileJob

if TYPE_CHECKING:
    from .transfer import _Round

__all__ = ["TempName", "current_job", "downloader_class"]

#: The job whose transfer runs in the current task; parfive's writer task inherits it.
current_job: contextvars.ContextVar[FileJob | None] = contextvars.ContextVar("prefect_jsoc_job", default=None)


class TempName:
    """parfive's ``filename`` callable: notes the announced ``Content-Length`` and names the temporary file."""

    def __init__(self, job: FileJob) -> None:
        self.job = job

    def __call__(self, first: Any, second: Any) -> Path:
        """The temporary path of the job, noting the response's ``Content-Length`` on the way."""
        # parfive 2.x calls it as (response, url); its docstring says (url, response).
        response = second if isinstance(first, str) else first
        length = getattr(response, "headers", {}).get("Content-Length") if response is not None else None
        with contextlib.suppress(TypeError, ValueError):
            self.job.announced = int(length) if length is not None else None
        assert self.job.temp is not None
        return self.job.temp


@functools.cache
def downloader_class() -> type:
    """The ``parfive.Downloader`` subclass (defined on first use: parfive is imported lazily)."""
    import parfive

    class GuardedDownloader(parfive.Downloader):  # type: ignore[misc]
        """parfive with a per-file guard around each transfer, and a writer whose failure is seen.

        The one workaround for parfive (2.1-2.3): its ``_get_http`` puts downloaded chunks on an
        unbounded queue that a separate writer task drains, and then waits on ``queue.join()``.
        When the writer dies (``ENOSPC`` on ``write``/``flush``), nothing ever calls
        ``task_done()`` again, so the download waits forever while the chunks pile up in memory:
        the "full disk hangs the fetch" defect. Wrapping the writer lets the round see the error
        and cancel the file (and the round) at once. Both overrides call parfive's own methods.
        """

        def __init__(self, transfer: _Round, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._transfer = transfer

        async def _get_http(self, session: Any, *, url: str, filepath_partial: Any, **kwargs: Any) -> Any:
            job = getattr(filepath_partial, "job", None)
            call = functools.partial(super()._get_http, session, url=url, filepath_partial=filepath_partial, **kwargs)
            if job is None:  # pragma: no cover - every file of a round has a guard
                return await call()
            await self._transfer.guarded(job, call)
            return url, str(job.target)

        async def _write_worker(self, queue: Any, file_pb: Any, filepath: Any) -> None:
            job = current_job.get()
            try:
                await super()._write_worker(queue, file_pb, filepath)
            except OSError as exc:
                if job is not None:
                    self._transfer.write_failed(job, exc, job.target)
                raise
            finally:
                if job is not None and job.writer_closed is not None:
                    job.writer_closed.set()

    return GuardedDownloader
