"""The ``index.json`` of a completed export, with the faults that lie in it (hostile names, wrong sizes)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .config import EmulatorConfig
from .export_records import Export, ExportFile, protocol_kind
from .fitsfiles import sums_file_size
from .stats import Stats

__all__ = ["index_document"]


def index_document(e: Export, files: list[ExportFile], cfg: EmulatorConfig, stats: Stats) -> dict[str, Any]:
    """The ``index.json`` of a completed export (all header values are strings).

    Args:
        e: The export.
        files: Its files (see :func:`~.export_records.export_files`).
        cfg: The current settings; ``hostile_filenames`` and ``wrong_length="index"`` falsify the rows.
        stats: Where an injected fault is counted.
    """
    exptime = datetime.fromtimestamp(e.completes_at, tz=UTC).strftime("%Y.%m.%d_%H:%M:%S_UT")
    doc: dict[str, Any] = {
        "version": "1",
        "requestid": e.request_id,
        "method": e.method,
        "protocol": e.protocol,
        "wait": "0",
        "count": str(len(files)),
        "size": str(e.size_mb),
        "exptime": exptime,
        "dir": e.dir,
        "status": "0",
        "keywords": "**IN FITS FILES**"
        if protocol_kind(e.protocol) == "fits"
        else f"{e.dir}/{e.request_id}.keywords.txt",
    }
    if e.is_tar:
        doc["tarfile"] = f"{e.dir}/{e.tar_name}"
    doc["data"] = [{"record": f.record, "filename": _hostile(f.filename, cfg.hostile_filenames)} for f in files]
    if cfg.hostile_filenames:
        stats.fault("hostile_filenames")
    if cfg.wrong_length == "index":
        stats.fault("wrong_length")
        lie = str(max(1, sums_file_size(cfg.file_size) - 2880))
        for row in doc["data"]:
            row["size"] = lie
    return doc


def _hostile(name: str, mode: str | None) -> str:
    """A file name that tries to escape the download directory (``hostile_filenames``)."""
    if mode == "dotdot":
        return f"../../{name}"
    if mode == "absolute":
        return f"/tmp/{name}"
    if mode == "control":
        stem, dot, ext = name.rpartition(".")
        return f"{stem}\n\x1b[2K{dot}{ext}" if dot else f"{name}\n\x1b[2K"
    return name
