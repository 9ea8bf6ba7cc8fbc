"""Serialisable results passed between the tasks (small, picklable and JSON-friendly).

The flow-level results (``BlockResult``, ``FetchResult``) live in :mod:`prefect_jsoc.results`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from prefect_jsoc.query import JsocQuery

__all__ = [
    "DownloadResult",
    "ExportHandle",
    "ExportManifest",
    "ManifestFile",
    "SearchResult",
]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class SearchResult(BaseModel):
    """What ``search`` returns: the record count and the records' keywords.

    Attributes:
        query: The query that was searched.
        count: Number of matching records (from the server's record-set summary).
        table: The records as an astropy ``Table`` (one row per record). Excluded from JSON,
            kept when pickled (Prefect's default result serializer).
        keywords: The keyword columns that were requested. (Not called ``keys``: Prefect converts
            models with ``dict(model)``, which would mistake a ``keys`` attribute for a mapping.)
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    query: JsocQuery
    count: int
    table: Any = Field(default=None, exclude=True, repr=False)
    keywords: list[str] = Field(default_factory=list)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SearchResult):
            return NotImplemented
        return self.model_dump() == other.model_dump() and _tables_equal(self.table, other.table)

    __hash__ = None  # type: ignore[assignment]

    def __getstate__(self) -> dict[str, Any]:
        # Pickled (Prefect's cached result): text columns as ASCII bytes, a quarter of numpy's
        # 4-byte unicode, so a 100,000-record result is written and read back ~3x faster.
        state = super().__getstate__()
        table = state["__dict__"].get("table")
        if table is not None:
            state = {**state, "__dict__": {**state["__dict__"], "table": _PackedTable.pack(table)}}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        table = state["__dict__"].get("table")
        if isinstance(table, _PackedTable):
            state = {**state, "__dict__": {**state["__dict__"], "table": table.unpack()}}
        super().__setstate__(state)


class _PackedTable:
    """An astropy Table whose ASCII unicode columns are stored as bytes (see ``SearchResult``)."""

    def __init__(self, table: Any, packed: set[str]) -> None:
        self.table, self.packed = table, packed

    @classmethod
    def pack(cls, table: Any) -> Any:
        packed: set[str] = set()
        try:
            out = table.copy(copy_data=False)
            for name in table.colnames:
                col = table[name]
                if getattr(col, "dtype", None) is not None and col.dtype.kind == "U":
                    try:
                        out.replace_column(name, col.astype(col.dtype.str.replace("U", "S")), copy=False)
                    except UnicodeEncodeError:
                        continue
                    packed.add(name)
        except Exception:  # noqa: BLE001 - fall back to the table as it is
            return table
        return cls(out, packed)

    def unpack(self) -> Any:
        for name in self.packed:
            col = self.table[name]
            self.table.replace_column(name, col.astype(col.dtype.str.replace("S", "U")), copy=False)
        return self.table


def _tables_equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    try:
        return a.colnames == b.colnames and len(a) == len(b) and all(
            list(map(str, a[c])) == list(map(str, b[c])) for c in a.colnames
        )
    except Exception:  # pragma: no cover - defensive
        return False


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


class ExportHandle(BaseModel):
    """What ``stage`` returns: enough to find (and, if it expired, re-create) the export.

    Attributes:
        request_id: JSOC request id, or None for a ``url_quick`` export answered at once.
        query_key: ``query.cache_key()``.
        label: Human name of the query.
        series: Series name.
        recordset: The record-set string that was exported.
        method: Export method (``url``, ``url_quick``, ``url-tar``).
        protocol: Export protocol (``fits`` or ``as-is``).
        server_url: The server the export lives on.
        submitted_at: When it was submitted (UTC).
        status: JSOC status at submission (0 done, 1/2 pending).
        files: The files, when the export completed at submission (``url_quick``).
        size_mb: JSOC's size estimate in MB, when it gave one.
        record_count: Number of records JSOC counted, when it gave one.
        query: The query itself (used to re-stage once if the export expires).
    """

    model_config = ConfigDict(frozen=True)

    request_id: str | None
    query_key: str
    label: str
    series: str
    recordset: str
    method: str
    protocol: str
    server_url: str
    submitted_at: dt.datetime = Field(default_factory=_utcnow)
    status: int = 2
    files: list[ManifestFile] = Field(default_factory=list)
    size_mb: float | None = None
    record_count: int | None = None
    query: JsocQuery | None = None

    @property
    def is_complete(self) -> bool:
        """True when the export needs no waiting (a quick export answered with its files)."""
        return self.status == 0 and self.request_id is None


class ExportManifest(BaseModel):
    """What ``await_export`` returns: the files of a finished export.

    Attributes:
        request_id: The request id that finished (it differs from the handle's when an expired
            export was re-staged), or None for a quick export.
        query_key: ``query.cache_key()``.
        label: Human name of the query.
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
