"""Typed results of the library flows, for downstream tasks and for people reading the UI."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # astropy is imported lazily: this module is loaded by Prefect workers at start-up
    from astropy.table import Table

__all__ = ["BlockResult", "FetchResult", "SearchSummary", "STAGES"]

#: The five steps each block goes through, in order.
STAGES: tuple[str, ...] = ("validate", "search", "stage", "await_export", "download")


class BlockResult(BaseModel):
    """What happened to one block (one series over one interval) of a fetch.

    Attributes:
        label: Human name of the block, e.g. ``hmi.m_45s 2014-01-01 00:00–00:05``.
        series: The DRMS series name.
        start: Start of the block's interval (UTC), if the query has one.
        end: End of the block's interval (UTC), if the query has one.
        query_key: The stable digest of the normalised query (the cache key).
        records: Records the search found, or ``None`` if the search did not run.
        request_id: The JSOC export request id (``None`` for quick exports answered at once).
            Blocks packed into one export share it.
        shared_export: True when the block was packed into one export with other blocks.
        files: Local paths of the block's verified files.
        bytes: Total size of those files on disk.
        downloaded: Files transferred by this run.
        skipped: Files already present and valid, so not transferred again.
        timings: Wall time in seconds of each step: ``stage`` (including the wait for a pending-export
            slot), ``await_export`` (both shared by the blocks of one export) and ``download``.
        failed_step: The step that failed, if any.
        error: The error message of that step, if any.
        warning: Something the user should know although nothing failed (e.g. no records).
    """

    model_config = ConfigDict(frozen=True)

    label: str
    series: str
    start: datetime | None = None
    end: datetime | None = None
    query_key: str
    records: int | None = None
    request_id: str | None = None
    shared_export: bool = False
    files: list[Path] = Field(default_factory=list)
    bytes: int = 0
    downloaded: int = 0
    skipped: int = 0
    timings: dict[str, float] = Field(default_factory=dict)
    failed_step: str | None = None
    error: str | None = None
    warning: str | None = None

    @property
    def ok(self) -> bool:
        """True when every step of the block succeeded."""
        return self.error is None

    @classmethod
    def for_block(cls, block: Any, **fields: Any) -> BlockResult:
        """A result for a validated block (``ValidatedQuery``), with its label, range and record count."""
        query = getattr(block, "query", block)
        return cls(
            label=query.label,
            series=query.series,
            start=getattr(query, "start", None),
            end=getattr(query, "end", None),
            query_key=query.cache_key(),
            records=getattr(block, "record_count", None),
            **fields,
        )


class FetchResult(BaseModel):
    """The outcome of :func:`prefect_jsoc.flows.jsoc_fetch`: one :class:`BlockResult` per block.

    Attributes:
        server_url: The JSOC server the data came from.
        path: The download directory (or path template) the files went to.
        blocks: Per-block results, in the order the blocks were given.
        elapsed_seconds: Wall time of the whole fetch.
    """

    model_config = ConfigDict(frozen=True)

    server_url: str
    path: str
    blocks: list[BlockResult]
    elapsed_seconds: float = 0.0

    @property
    def files(self) -> list[Path]:
        """Every verified local file, block by block; a file two overlapping blocks share is listed once."""
        return list(dict.fromkeys(p for block in self.blocks for p in block.files))

    @property
    def total_bytes(self) -> int:
        """Bytes on disk of :attr:`files` (each file counted once)."""
        sizes: dict[Path, int] = {}
        for block in self.blocks:
            for path in block.files:
                if path not in sizes:
                    try:
                        sizes[path] = path.stat().st_size
                    except OSError:
                        sizes[path] = 0
        return sum(sizes.values()) if sizes else sum(block.bytes for block in self.blocks)

    @property
    def request_ids(self) -> list[str]:
        """The distinct export request ids, in block order (packed blocks share one)."""
        return list(dict.fromkeys(b.request_id for b in self.blocks if b.request_id))

    @property
    def warnings(self) -> list[str]:
        """Per-block warnings, such as blocks that matched no records."""
        return [f"{b.label}: {b.warning}" for b in self.blocks if b.warning]

    @property
    def failed(self) -> list[BlockResult]:
        """The blocks that did not complete."""
        return [block for block in self.blocks if not block.ok]

    @property
    def ok(self) -> bool:
        """True when every block completed."""
        return not self.failed

    def rows(self) -> list[dict[str, Any]]:
        """One plain dict per block, for tables in the UI, the CLI and notebooks."""
        return [
            {
                "block": b.label,
                "request_id": (b.request_id or ("(quick)" if b.ok and b.records else ""))
                + (" (shared)" if b.shared_export else ""),
                "records": b.records if b.records is not None else "",
                "files": len(b.files),
                "MB": round(b.bytes / 1e6, 2),
                "downloaded": b.downloaded,
                "skipped": b.skipped,
                **{f"{step} s": round(b.timings[step], 2) for step in STAGES if step in b.timings},
                "status": ("ok" if not b.warning else f"ok: {b.warning}")
                if b.ok
                else f"FAILED in {b.failed_step}: {b.error}",
            }
            for b in self.blocks
        ]


class SearchSummary(BaseModel):
    """The outcome of :func:`prefect_jsoc.flows.jsoc_search`: one search result per block."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    results: list[Any]  # list[SearchResult]; typed loosely so this module stays import-light

    @property
    def count(self) -> int:
        """Records found over all blocks."""
        return sum(r.count for r in self.results)

    def table(self) -> Table:
        """All blocks' records in one astropy table, with a ``block`` column naming the block."""
        from astropy.table import Table, vstack

        tables = []
        for result in self.results:
            table = result.table.copy() if result.table is not None else Table()
            if len(table):
                table["block"] = [result.query.label] * len(table)
                tables.append(table)
        return vstack(tables, metadata_conflicts="silent") if tables else Table()
