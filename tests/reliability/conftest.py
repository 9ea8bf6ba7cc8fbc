"""Fixtures of the reliability suite: the shared emulator with small files, short task retry delays.

Every test here runs the real thing: the emulator over loopback HTTP, the unmodified drms and
parfive clients, and (in the modules that say so) a real Prefect API server from
``prefect_harness``. The per-test state directory and result store come from the top-level
``conftest.py`` (``isolated_state_dir``), so a test never re-attaches to another test's export.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from ._support import FILE_SIZE


@pytest.fixture()
def emu_config() -> dict[str, Any]:
    """Small files (8 KiB) and a short export delay; ``emu`` and ``settings`` are in the top conftest."""
    return {"export_delay": 0.5, "file_size": FILE_SIZE}


@pytest.fixture()
def short_task_retry_delays(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the tasks' retry policy (one retry, transient faults only) but wait 0.2 s, not 5-10 s.

    Prefect fixes retry delays when a task is declared, so the task objects the flows use are
    swapped for copies with a short delay for the duration of one test.
    """
    import prefect_jsoc.fetching as fetching
    import prefect_jsoc.flows as flows

    for module, names in ((flows, ("validate", "search")), (fetching, ("stage", "await_export", "download"))):
        for name in names:
            monkeypatch.setattr(module, name, getattr(module, name).with_options(retry_delay_seconds=0.2))


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.getMessage()}")


@pytest.fixture()
def run_log() -> Iterator[list[str]]:
    """Every line logged by flow runs, task runs and the library during the test."""
    handler = _Lines()
    loggers = [logging.getLogger(n) for n in ("prefect.flow_runs", "prefect.task_runs", "prefect_jsoc")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
