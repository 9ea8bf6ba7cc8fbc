"""What the Prefect UI shows for a fetch: record tables, an export summary and live progress.

Artifacts are written from the flow's own thread (never from inside tasks), so a flow with hundreds
of blocks makes a bounded number of API calls: progress updates are rate-limited, and per-block
record tables are only published up to ``MAX_BLOCK_TABLES`` blocks.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from prefect_jsoc.results import STAGES, FetchResult

__all__ = [
    "FlowProgress",
    "add_progress_listener",
    "remove_progress_listener",
    "publish_block_records",
    "publish_records_summary",
    "publish_export_summary",
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
    """One progress artifact for a whole fetch, advanced as steps of blocks finish.

    Args:
        total: Total units of work.
        key: Artifact key (keyed artifacts keep a history in the Artifacts page).
        description: Text shown under the progress bar.
        min_interval: Seconds between two API updates; the final update is never skipped.
    """

    def __init__(self, total: float, key: str, description: str, min_interval: float = 1.0) -> None:
        self.total = max(total, 1e-9)
        self.done = 0.0
        self.description = description
        self._min_interval = min_interval
        self._last_update = 0.0
        self._artifact_id = create_progress_artifact(progress=0.0, key=key, description=description)

    @property
    def percent(self) -> float:
        """Progress so far, 0 to 100."""
        return min(100.0, 100.0 * self.done / self.total)

    def advance(self, units: float, description: str | None = None) -> None:
        """Add finished work; push it to the UI if enough time has passed."""
        self.done += units
        if description:
            self.description = description
        now = time.monotonic()
        if now - self._last_update >= self._min_interval or self.done >= self.total:
            self._push()
            self._last_update = now
        self._notify()

    def finish(self, description: str) -> None:
        """Set the bar to 100 % with a final description."""
        self.done = self.total
        self.description = description
        self._push()
        self._notify()

    def _push(self) -> None:
        update_progress_artifact(
            artifact_id=self._artifact_id, progress=self.percent, description=self.description
        )

    def _notify(self) -> None:
        with _listeners_lock:
            listeners = list(_listeners)
        for listener in listeners:
            listener(self.percent, self.description)


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


def publish_block_records(label: str, table: Any, count: int) -> None:
    """Publish one block's records as a table artifact (first ``MAX_TABLE_ROWS`` rows)."""
    columns = list(table.colnames) if table is not None else []
    rows = [
        {name: _cell(row[name]) for name in columns}
        for row in (table[:MAX_TABLE_ROWS] if table is not None else [])
    ]
    shown = f"first {len(rows)} of {count}" if count > len(rows) else f"all {count}"
    create_table_artifact(
        key=artifact_key("jsoc-records", label),
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


def _human_bytes(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"  # pragma: no cover


def export_summary_markdown(result: FetchResult) -> str:
    """The markdown shown as the fetch's export summary (also printed by the CLI's ``--summary``)."""
    ok = len(result.blocks) - len(result.failed)
    downloaded = sum(b.downloaded for b in result.blocks)
    skipped = sum(b.skipped for b in result.blocks)
    lines = [
        f"## JSOC fetch: {ok} of {len(result.blocks)} blocks complete",
        "",
        f"- **Server:** `{result.server_url}`",
        f"- **Saved to:** `{result.path}`",
        f"- **Files:** {len(result.files)} ({_human_bytes(result.total_bytes)}); "
        f"{downloaded} downloaded now, {skipped} already present and verified",
        f"- **Wall time:** {result.elapsed_seconds:.1f} s",
        "",
        "| block | request id | records | files | size | "
        + " | ".join(f"{step} (s)" for step in STAGES)
        + " | status |",
        "|---|---|---:|---:|---:|" + "---:|" * len(STAGES) + "---|",
    ]
    for b in result.blocks:
        timings = " | ".join(
            f"{b.timings[step]:.1f}" if step in b.timings else "–" for step in STAGES
        )
        status = "✅ ok" if b.ok else f"❌ **{b.failed_step}**: {_escape(b.error or '')}"
        request = b.request_id or ("quick (no request)" if b.ok and b.records else "–")
        records = "–" if b.records is None else str(b.records)
        lines.append(
            f"| {_escape(b.label)} | `{request}` | {records} | {len(b.files)} | "
            f"{_human_bytes(b.bytes)} | {timings} | {status} |"
        )
    if result.failed:
        lines += ["", "### Failures", ""]
        lines += [f"- **{_escape(b.label)}** ({b.failed_step}): {_escape(b.error or '')}" for b in result.failed]
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def publish_export_summary(result: FetchResult) -> None:
    """Publish the fetch's export summary as a markdown artifact."""
    create_markdown_artifact(
        key="jsoc-export-summary",
        markdown=export_summary_markdown(result),
        description="JSOC exports: request ids, sizes, durations and failures",
    )


def block_rows(results: Sequence[Any]) -> list[dict[str, Any]]:
    """Rows for a records-per-block table printed by the CLI."""
    return [{"block": r.query.label, "records": r.count} for r in results]
