"""The files of a completed export: named, checked and keyed from JSOC's reply, then split over blocks.

:func:`build_files` turns an export reply into :class:`~prefect_jsoc.models.ManifestFile` entries
(download URL, safe local name, the record's prime-key values for path templates);
:func:`split_manifest` gives each block of a packed export the files of its own records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urljoin

from prefect_jsoc._log import get_logger
from prefect_jsoc.downloads import parse_record, quick_filename, safe_filename
from prefect_jsoc.models import ExportManifest, ExportUnit, ManifestFile
from prefect_jsoc.replies import as_int

__all__ = ["build_files", "split_manifest"]

_EXTENSIONS = (".fits.gz", ".fits", ".fts", ".fit", ".jpg", ".png", ".mpg", ".mp4", ".txt", ".tar")


def _segment_from_filename(name: str) -> str | None:
    """The segment of ``<series>.<prime keys>.<segment>.fits`` (drms's file name format), if any."""
    low = name.lower()
    for ext in _EXTENSIONS:
        if low.endswith(ext):
            stem = name[: -len(ext)]
            return stem.rsplit(".", 1)[-1] or None if "." in stem else None
    return None


def build_files(
    reply: dict[str, Any], server_url: str, primekeys: Sequence[str] = (), series: str = ""
) -> list[ManifestFile]:
    """Turn a completed export reply (``exp_status`` status 0, or a quick ``exp_request``) into files.

    * fits/url exports: ``<server><dir>/<filename>``, named as the server named them;
    * quick as-is exports (no ``dir``): the absolute SUMS path, named like drms does from the
      record (``hmi.m_45s.20140101_000045_TAI.3.magnetogram.fits``);
    * tar exports: the single tar file.

    Rows without a file (``NoDataFile``) are dropped. Every local name is checked with
    :func:`~prefect_jsoc.downloads.safe_filename`, and repeated names get ``.1``, ``.2`` suffixes.
    Each file's ``keywords`` hold its record's prime-key values, ``series`` and ``segment``, for
    path templates.

    Args:
        reply: The JSON reply.
        server_url: Base URL for downloads.
        primekeys: The series' prime keys, in order.
        series: The series name, for files whose record does not say.

    Returns:
        The files.

    Raises:
        UnsafeFilenameError: When the server sent a name that could escape the target directory.
    """
    base = server_url.rstrip("/") + "/"
    tar = str(reply.get("tarfile") or "").strip()
    directory = str(reply.get("dir") or "").strip()
    if tar:
        name = safe_filename(tar.rsplit("/", 1)[-1])
        return [ManifestFile(url=urljoin(base, tar.lstrip("/")), filename=name, keywords={"series": series})]
    files: list[ManifestFile] = []
    used: dict[str, int] = {}
    for row in reply.get("data") or []:
        if not isinstance(row, dict):
            continue
        filename = str(row.get("filename") or "").strip()
        record = row.get("record")
        if not filename or filename == "NoDataFile" or (record and str(record).startswith("movie")):
            continue
        if directory:
            name = safe_filename(filename)
            url = urljoin(base, f"{directory.strip('/')}/{filename}")
        else:
            url = urljoin(base, filename.lstrip("/"))
            name = safe_filename(quick_filename(record, filename))
        if name in used:
            used[name] += 1
            stem, dot, ext = name.partition(".fits") if ".fits" in name else (name, "", "")
            name = f"{stem}.{used[name]}{dot}{ext}"
            get_logger().warning("Two files of the export are both named %s; saving one as %s.", filename, name)
        else:
            used[name] = 0
        record_series, values, segment = parse_record(str(record) if record else None)
        keywords: dict[str, str] = {"series": record_series or series}
        keywords.update(zip(primekeys, values))
        segment = segment or _segment_from_filename(filename.rsplit("/", 1)[-1])
        if segment:
            keywords["segment"] = segment
        files.append(
            ManifestFile(
                url=url,
                filename=name,
                record=str(record) if record else None,
                size=as_int(row.get("size")),
                keywords=keywords,
            )
        )
    return files


def split_manifest(manifest: ExportManifest, unit: ExportUnit) -> list[ExportManifest]:
    """Give each block of a packed export the files of its own records.

    A file whose record lies in two overlapping blocks belongs to both; a file no block claims (the
    server returned more than asked) goes to the first block, with a warning, so nothing is lost.

    Args:
        manifest: The export's manifest.
        unit: The export unit the manifest belongs to.

    Returns:
        One manifest per block of ``unit``, in the unit's order.
    """
    blocks = unit.blocks
    shares: list[list[ManifestFile]] = [[] for _ in blocks]
    if len(blocks) == 1:
        shares[0] = list(manifest.files)
    else:
        for file in manifest.files:
            values = parse_record(file.record)[1] if file.record else []
            owners = [i for i, block in enumerate(blocks) if values and block.selects(values)]
            if not owners:
                get_logger().warning(
                    "Export %s returned %s, which none of its blocks asked for; keeping it with %s.",
                    manifest.request_id,
                    file.record or file.filename,
                    blocks[0].label,
                )
                owners = [0]
            for i in owners:
                shares[i].append(file)
    return [
        manifest.model_copy(update={"label": block.label, "query_key": block.cache_key(), "files": share})
        for block, share in zip(blocks, shares)
    ]
