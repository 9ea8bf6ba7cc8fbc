"""The files of a download round: what to fetch for each, and what happened to it.

:class:`FileJob` is one file's state across a round (its target, temporary file, lock, outcome);
:class:`RoundResult` is what ended the round as a whole.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect_jsoc.models import ManifestFile

from .ledger import PathLock, Product

__all__ = ["FileJob", "RoundResult"]


@dataclass(eq=False)
class FileJob:
    """One file to download, and what happened to it in the current round.

    ``state`` is ``pending`` (not started), ``busy`` (another writer holds its lock), ``skipped``
    (another writer verified it meanwhile), ``done`` (verified and in place), ``failed`` or
    ``stopped``.
    """

    file: ManifestFile
    target: Path
    product: Product
    index: int
    request_id: str | None = None
    method: str = ""
    server_url: str = ""
    state: str = "pending"
    reason: str | None = None
    transient: bool = False
    started: bool = False
    nbytes: int = 0
    temp: Path | None = None
    lock: PathLock | None = None
    announced: int | None = None
    task: asyncio.Task[Any] | None = field(default=None, repr=False)
    writer_closed: asyncio.Event | None = field(default=None, repr=False)

    def reset(self) -> None:
        """Forget the last round (before the file is tried again)."""
        self.state, self.reason, self.transient, self.started, self.nbytes = "pending", None, False, False, 0
        self.temp, self.lock, self.announced, self.task, self.writer_closed = None, None, None, None, None

    def fail(self, reason: str, *, transient: bool) -> None:
        """Mark the file failed, keeping the first reason given."""
        if self.state not in ("failed", "stopped"):
            self.state, self.reason, self.transient = "failed", reason, transient

    def cleanup(self) -> None:
        """Remove this round's temporary file and release the lock (safe to call twice)."""
        if self.temp is not None:
            with contextlib.suppress(OSError):
                self.temp.unlink()
        if self.lock is not None:
            self.lock.release()


@dataclass
class RoundResult:
    """What a round ended with, besides each job's state.

    Attributes:
        write_error: The first write error (the round stopped because of it), and the path.
        stopped: True when the round was stopped on request (or interrupted).
    """

    write_error: tuple[OSError, Path] | None = None
    stopped: bool = False
