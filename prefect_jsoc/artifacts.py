"""What the Prefect UI shows for a fetch: record tables, an export summary and live progress.

Artifacts are written from the flow's own thread (never from inside tasks), so a flow with hundreds
of blocks makes a bounded number of API calls: progress updates are rate-limited, and per-block
record tables are only published up to ``MAX_BLOCK_TABLES`` blocks.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from prefect_jsoc.results import FetchResult

__all__ = [
    "FlowProgress",
    "progress_for",
    "registered_progress",
    "add_progress_listener",
    "remove_progress_listener",
    "publish_block_records",
    "publish_records_summary",
    "publish_export_summary",
    "export_summary_markdown",
    "fetch_headline",
    "human_bytes",
    "artifact_key",
]

#: Per-block record tables are published for at most this many blocks (the summary covers the rest).
MAX_BLOCK_TABLES = 25
#: Rows shown in each per-block record table.
MAX_TABLE_ROWS = 50

ProgressListener = Callable[[float, str], None]
_listeners: list[ProgressListener] = []
_listeners_lock = threading.Lock()


def add_progress_listener(listener: ProgressListener) -> None:
    """Call ``listener(percent, description)`` whenever a fetch in this process makes progress.

    The CLI uses this to drive its progress bar; notebooks can use it too.
    """
    with _listeners_lock:
        _listeners.append(listener)


def remove_progress_listener(listener: ProgressListener) -> None:
    """Stop calling a listener added with :func:`add_progress_listener`."""
    with _listeners_lock:
        if listener in _listeners:
            _listeners.remove(listener)


def artifact_key(*parts: str) -> str:
    """A valid artifact key (lowercase letters, digits and dashes) made from ``parts``."""
    text = "-".join(parts).lower()
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9]+", "-", text)).strip("-")[:200]


class FlowProgress:
    """One progress artifact for a whole fetch, advanced by the tasks as steps of blocks finish.

    The ``export`` tasks of a fetch run in the flow's process (thread pool), where they find the
    progress through :func:`progress_for`; elsewhere (a Dask cluster) the flow advances it as units
    finish. Updates to the API are rate-limited; the final one is never skipped.

    Args:
        total: Total units of work.
        key: Artifact key (keyed artifacts keep a history in the Artifacts page).
        description: Text shown under the progress bar.
        min_interval: Seconds between two API updates.
    """

    def __init__(self, total: float, key: str, description: str, min_interval: float = 1.0) -> None:
        self.total = max(total, 1e-9)
        self.description = description
        self._done: dict[str, float] = {}
        self._lock = threading.Lock()
        self._min_interval = min_interval
        self._last_update = 0.0
        self._artifact_id = create_progress_artifact(progress=0.0, key=key, description=description)

    @property
    def percent(self) -> float:
        """Progress so far, 0 to 100."""
        return min(100.0, 100.0 * sum(self._done.values()) / self.total)

    def advance(self, part: str, units: float, description: str | None = None) -> None:
        """Add finished work of one part (an export unit, or ``"flow"``) and show it."""
        with self._lock:
            self._done[part] = self._done.get(part, 0.0) + units
            self._show(description)

    def at_least(self, part: str, units: float, description: str | None = None) -> None:
        """Make sure a part counts ``units`` (idempotent: a unit that already reported stays as it is)."""
        with self._lock:
            self._done[part] = max(self._done.get(part, 0.0), units)
            self._show(description)

    def finish(self, description: str) -> None:
        """Set the bar to 100 % with a final description."""
        with self._lock:
            self._done = {"all": self.total}
            self.description = description
            self._push()
        self._notify()

    def _show(self, description: str | None) -> None:
        if description:
            self.description = description
        now = time.monotonic()
        if now - self._last_update >= self._min_interval:
            self._push()
            self._last_update = now
        self._notify()

    def _push(self) -> None:
        try:
            update_progress_artifact(artifact_id=self._artifact_id, progress=self.percent, description=self.description)
        except Exception:  # progress is a courtesy; the fetch goes on
            pass

    def _notify(self) -> None:
        with _listeners_lock:
            listeners = list(_listeners)
        for listener in listeners:
            listener(self.percent, self.description)


class _NoProgress:
    """Stands in for a fetch's progress where it cannot be reached (another process)."""

    def advance(self, part: str, units: float, description: str | None = None) -> None:
        """Do nothing."""


_progress: dict[str, FlowProgress] = {}
_progress_lock = threading.Lock()


@contextmanager
def registered_progress(key: str, progress: FlowProgress) -> Iterator[FlowProgress]:
    """Make ``progress`` reachable by the tasks of this process under ``key`` while the block runs."""
    with _progress_lock:
        _progress[key] = progress
    try:
        yield progress
    finally:
        with _progress_lock:
            _progress.pop(key, None)


def progress_for(key: str | None) -> FlowProgress | _NoProgress:
    """The fetch progress registered under ``key`` in this process, or a stand-in that does nothing."""
    with _progress_lock:
        found = _progress.get(key or "")
    return found if found is not None else _NoProgress()


def _cell(value: Any) -> Any:
    """A JSON-friendly table cell."""
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    if hasattr(value, "item"):  # numpy scalar
        try:
            return value.item()
        except (ValueError, TypeError):
            pass
    return str(value)


def block_key(query: Any) -> str:
    """A short artifact key for one block: ``records-aia-lev1-euv-12s-20140101-0600-171``."""
    parts = ["records", query.series]
    if getattr(query, "start", None) is not None:
        parts.append(query.start.strftime("%Y%m%d-%H%M"))
    if getattr(query, "wavelength", None):
        parts.append("-".join(f"{w:g}" for w in query.wavelength))
    parts += [str(v) for v in getattr(query, "primekeys", {}).values()]
    return artifact_key(*parts)


def publish_block_records(query: Any, table: Any, count: int) -> None:
    """Publish one block's records as a table artifact (first ``MAX_TABLE_ROWS`` rows)."""
    label = query.label
    columns = list(table.colnames) if table is not None else []
    rows = [
        {name: _cell(row[name]) for name in columns} for row in (table[:MAX_TABLE_ROWS] if table is not None else [])
    ]
    shown = f"first {len(rows)} of {count}" if count > len(rows) else f"all {count}"
    create_table_artifact(
        key=block_key(query),
        table=rows or [{"records": 0}],
        description=f"**{label}**: {count} records found ({shown} shown).",
    )


def publish_records_summary(results: Iterable[Any], server_url: str) -> None:
    """Publish a table with one row per block: records found and the time span they cover."""
    rows = []
    for result in results:
        table = result.table
        first = last = ""
        if table is not None and len(table) and "T_REC" in table.colnames:
            first, last = str(table["T_REC"][0]), str(table["T_REC"][-1])
        rows.append(
            {
                "block": result.query.label,
                "series": result.query.series,
                "records": result.count,
                "first T_REC": first,
                "last T_REC": last,
            }
        )
    create_table_artifact(
        key="jsoc-records-per-block",
        table=rows or [{"block": "(none)", "records": 0}],
        description=f"Records found per block on {server_url}",
    )


def human_bytes(size: float) -> str:
    """``216 kB``, ``1.5 MB``: sizes as people read them (SI units, as JSOC reports them)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" or size >= 100 else f"{size:.3g} {unit}"
        size /= 1000
    return f"{size:.0f} TB"  # pragma: no cover


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _reason(error: str) -> str:
    """JSOC's own words when the message quotes them, else the message's first sentence."""
    if 'JSOC said: "' in error:
        return "JSOC said: " + error.split('JSOC said: "', 1)[1].split('"', 1)[0].rstrip(".")
    return error.split(". ")[0]


def fetch_headline(result: FetchResult) -> str:
    """``3 of 4 blocks complete, 1 failed in stage``: the one line a person reads first."""
    ok = len(result.blocks) - len(result.failed)
    text = f"{ok} of {len(result.blocks)} blocks complete"
    empty = sum(1 for b in result.blocks if b.ok and not b.records)
    if empty:
        text += f", {empty} with no records"
    if result.failed:
        steps = "/".join(sorted({b.failed_step or "?" for b in result.failed}))
        text += f", {len(result.failed)} failed in {steps}"
    return text


#: Column titles of the per-step timing table (validate and search run for all blocks at once).
_STEP_TITLES = {"stage": "stage (incl. wait for a slot)", "await_export": "JSOC staging", "download": "download"}


def export_summary_markdown(result: FetchResult) -> str:
    """The markdown of the export summary artifact (narrow enough for the run page's artifact pane)."""
    downloaded = sum(b.downloaded for b in result.blocks)
    skipped = sum(b.skipped for b in result.blocks)
    lines = [
        f"## JSOC fetch: {fetch_headline(result)}",
        "",
        f"**From** `{result.server_url}` **into** `{result.path}`: {len(result.files)} files, "
        f"{human_bytes(result.total_bytes)} in {result.elapsed_seconds:.1f} s "
        f"({downloaded} downloaded now, {skipped} already there and verified), "
        f"{len(result.request_ids)} JSOC export(s) for {len(result.blocks)} block(s).",
        "",
        "| block | records | files | size | JSOC request | status |",
        "|---|---:|---:|---:|---|---|",
    ]
    for b in result.blocks:
        request = f"`{b.request_id}`" if b.request_id else ("quick" if b.ok and b.records else "–")
        status = ("✅ ok" if not b.warning else "⚠️ no records") if b.ok else f"❌ **{b.failed_step}**"
        lines.append(
            f"| {_escape(b.label)} | {'–' if b.records is None else b.records} | {len(b.files) or '–'} | "
            f"{human_bytes(b.bytes) if b.bytes else '–'} | {request} | {status} |"
        )
    if any(b.shared_export for b in result.blocks):
        lines += ["", "Blocks with the same request id were packed into one JSOC export."]
    if result.warnings:
        lines += ["", "### Warnings", ""] + [f"- {_escape(w)}" for w in result.warnings]
    if result.failed:
        lines += ["", "### Failures", ""]
        lines += [
            f"- **{_escape(b.label)}**, in **{b.failed_step}**: {_escape(_reason(b.error or ''))}"
            for b in result.failed
        ]
    lines += [
        "",
        "### Seconds per step",
        "",
        "| block | " + " | ".join(_STEP_TITLES.values()) + " |",
        "|---|" + "---:|" * len(_STEP_TITLES),
    ]
    for b in result.blocks:
        cells = [f"{b.timings[s]:.1f}" if s in b.timings else "–" for s in _STEP_TITLES]
        lines.append(f"| {_escape(b.label)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def publish_export_summary(result: FetchResult) -> None:
    """Publish the fetch's export summary as a markdown artifact; its description is the headline."""
    create_markdown_artifact(
        key="jsoc-export-summary",
        markdown=export_summary_markdown(result),
        description=f"{fetch_headline(result)}: {len(result.files)} files, "
        f"{human_bytes(result.total_bytes)}, {result.elapsed_seconds:.1f} s",
    )
