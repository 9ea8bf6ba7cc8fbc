"""Serialisable results passed between the tasks (small, picklable and JSON-friendly).

The flow-level results (``BlockResult``, ``FetchResult``) live in :mod:`prefect_jsoc.results`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from prefect_jsoc.query import JsocQuery, ValidatedQuery

__all__ = [
    "DownloadResult",
    "ExportHandle",
    "ExportManifest",
    "ExportUnit",
    "ManifestFile",
    "SearchResult",
]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class SearchResult(BaseModel):
    """What ``search`` returns: the record count and the records' keywords.

    Attributes:
        query: The query that was searched.
        count: Number of matching records (from the server's record-set summary).
        table: The records as an astropy ``Table`` (one row per record); ``len(result)`` and
            ``result[i]`` / ``result["T_REC"]`` reach it directly. Excluded from JSON, kept when
            pickled (Prefect's default result serializer).
        keywords: The keyword columns that were requested. (Not called ``keys``: Prefect converts
            models with ``dict(model)``, which would mistake a ``keys`` attribute for a mapping.)
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    query: JsocQuery
    count: int
    table: Any = Field(default=None, exclude=True, repr=False)
    keywords: list[str] = Field(default_factory=list)

    def __len__(self) -> int:
        """The number of records in ``table`` (``count`` may be larger if the server limited the rows)."""
        return 0 if self.table is None else len(self.table)

    def __getitem__(self, item: Any) -> Any:
        """Index the records table: ``result[0]``, ``result["T_REC"]``, ``result[:5]``."""
        if self.table is None:
            raise IndexError("this search result has no records table")
        return self.table[item]


class ManifestFile(BaseModel):
    """One file of a finished export.

    Attributes:
        url: Where to download it.
        filename: A safe local file name (checked: no directories, ``..`` or control characters).
        record: The DRMS record it comes from (``hmi.M_45s[2014.01.01_00:00:45_TAI][3]``), or
            None for a tar file.
        size: Size in bytes when known, else None.
        keywords: Values parsed from the record for path templates: each prime key (``T_REC``,
            ``CAMERA``, ...), ``segment`` when present, and ``series``.
    """

    model_config = ConfigDict(frozen=True)

    url: str
    filename: str
    record: str | None = None
    size: int | None = None
    keywords: dict[str, str] = Field(default_factory=dict)


class ExportUnit(BaseModel):
    """Blocks that share one JSOC export: one series and options, their prime-key values in one record set.

    Attributes:
        blocks: The validated blocks, in a canonical order.
        recordset: The record set sent to JSOC (the blocks' items joined where they differ).
    """

    model_config = ConfigDict(frozen=True)

    blocks: tuple[ValidatedQuery, ...]
    recordset: str

    @property
    def query(self) -> JsocQuery:
        """The first block's query: series, method, protocol and cut-out are the same for all."""
        return self.blocks[0].query

    @property
    def series(self) -> str:
        """The series name."""
        return self.query.series

    @property
    def label(self) -> str:
        """The first block's label, plus how many more blocks share the export."""
        more = len(self.blocks) - 1
        return self.blocks[0].label + (f" +{more} block{'s' if more > 1 else ''}" if more else "")

    @property
    def record_count(self) -> int:
        """Records of all blocks (an upper bound when blocks overlap)."""
        return sum(b.record_count or 0 for b in self.blocks)

    def cache_key(self) -> str:
        """A stable digest of what is exported: record set, method, protocol and processing."""
        blob = json.dumps(
            {
                "v": 1,
                "ds": self.recordset,
                "method": self.query.method,
                "protocol": self.query.protocol,
                "process": self.query.process(),
            },
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:32]


class ExportHandle(BaseModel):
    """What ``stage`` returns: enough to poll the export, and to tell a re-attachment from a new one.

    Attributes:
        request_id: JSOC request id, or None for a ``url_quick`` export answered at once.
        unit_key: ``ExportUnit.cache_key()`` of what was exported.
        label: Human name of the export.
        series: Series name.
        recordset: The record set that was exported.
        method: Export method (``url``, ``url_quick``, ``url-tar``).
        protocol: Export protocol (``fits`` or ``as-is``).
        server_url: The server the export lives on.
        submitted_at: When it was submitted (UTC).
        status: JSOC status at submission (0 done, 1/2 pending).
        wait: JSOC's estimate of seconds until the export is ready, when it gave one.
        files: The files, when the export completed at submission (``url_quick``).
        size_mb: JSOC's size estimate in MB, when it gave one.
        record_count: Number of records JSOC counted, when it gave one.
        reattached: True when JSOC answered with a request an earlier run had submitted.
        primekeys: The series' prime keys, used to read file records.
        slot_limit: The Prefect limit of the notify e-mail's pending exports (a digest, no e-mail).
        lease_id: The lease of the pending-export slot ``stage`` took; ``await_export`` releases it.
    """

    model_config = ConfigDict(frozen=True)

    request_id: str | None
    unit_key: str
    label: str
    series: str
    recordset: str
    method: str
    protocol: str
    server_url: str
    submitted_at: dt.datetime = Field(default_factory=_utcnow)
    status: int = 2
    wait: float | None = None
    files: list[ManifestFile] = Field(default_factory=list)
    size_mb: float | None = None
    record_count: int | None = None
    reattached: bool = False
    primekeys: tuple[str, ...] = ()
    slot_limit: str | None = None
    lease_id: str | None = None

    @property
    def is_complete(self) -> bool:
        """True when the export needs no waiting (a quick export answered with its files)."""
        return self.status == 0 and self.request_id is None


class ExportManifest(BaseModel):
    """What ``await_export`` returns: the files of a finished export (or of one block of it).

    Attributes:
        request_id: The request id that finished, or None for a quick export.
        query_key: The cache key of the export unit (or of the block, for a block's share).
        label: Human name of the export or block.
        series: Series name.
        method: Export method.
        protocol: Export protocol.
        files: The files to download.
        size_mb: JSOC's total size in MB, when it said.
        staging_seconds: Seconds from submission to completion as seen by the client.
        server_url: The server the files are on.
    """

    model_config = ConfigDict(frozen=True)

    request_id: str | None
    query_key: str
    label: str
    series: str
    method: str
    protocol: str
    files: list[ManifestFile] = Field(default_factory=list)
    size_mb: float | None = None
    staging_seconds: float = 0.0
    server_url: str = ""

    @property
    def urls(self) -> list[str]:
        """The download URLs, in manifest order."""
        return [f.url for f in self.files]


class DownloadResult(BaseModel):
    """What ``download`` returns.

    Attributes:
        paths: Local paths of every file of the manifest (downloaded now or already present).
        downloaded: Number of files downloaded in this call.
        skipped: Number of files already present and valid (not downloaded again).
        bytes_downloaded: Bytes written by this call.
        bytes_total: Total size of all files in ``paths``.
    """

    model_config = ConfigDict(frozen=True)

    paths: list[Path] = Field(default_factory=list)
    downloaded: int = 0
    skipped: int = 0
    bytes_downloaded: int = 0
    bytes_total: int = 0
