"""What the emulator's request handlers share: the :class:`EmulatorState` and the request log's entries."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .config import EmulatorConfig
from .exports import ExportManager
from .faults import FaultInjector
from .fitsfiles import FileStore
from .stats import Stats

__all__ = ["EmulatorState", "LOG_SIZE", "STATE", "log_entry"]

LOG_SIZE = 10_000  # requests kept in the log


@dataclass
class EmulatorState:
    """Everything the handlers share; lives under :data:`STATE` in the application."""

    config: EmulatorConfig
    stats: Stats
    faults: FaultInjector
    exports: ExportManager
    store: FileStore
    log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOG_SIZE))

    def set_config(self, config: EmulatorConfig) -> None:
        """Swap the settings; a new seed restarts the fault generators."""
        if config.seed != self.config.seed:
            self.faults.reseed(config.seed)
        self.config = config


STATE = web.AppKey("state", EmulatorState)


def log_entry(kind: str, what: str, **fields: Any) -> dict[str, Any]:
    """A new log entry stamped with the current wall-clock time.

    ``t`` is the Unix time of arrival (a float, microseconds), ``at`` the same instant as
    ISO-8601 UTC with milliseconds (``2025-11-25T10:00:00.123Z``).
    """
    now = time.time()
    at = datetime.fromtimestamp(now, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return {"t": now, "at": at, "kind": kind, "what": what, "fault": None, **fields}
