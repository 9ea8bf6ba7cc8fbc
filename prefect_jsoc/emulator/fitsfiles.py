"""Deterministic FITS files for records, generated on first use and cached on disk.

Two kinds exist per (record, segment): the *SUMS* file served for ``as-is`` exports and direct
``/SUM...`` downloads (a bare header, like JSOC's storage files), and the *export* file of
``fits`` exports, whose header carries the record's keywords. The image is a 16-bit pattern
derived from the record number and segment, so the same request always yields the same bytes.
The size of a SUMS file is known without generating it, which lets ``*size*`` and export sizes
be exact and lets a huge export be refused (status 3) without writing anything.

Every file carries ``DATASUM`` and ``CHECKSUM`` (FITS standard 4.0, appendix J), as JSOC's files
often do, so that clients can check content and not only shape. The cards' comments are fixed
text (astropy would write the current time), so the bytes stay the same from run to run.
"""

from __future__ import annotations

import math
import os
import tarfile
import threading
import uuid
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from astropy.io import fits

from .catalog import SegmentDef, SeriesDef
from .records import Record, keyword_raw, recnum, record_name

__all__ = ["FileStore", "image_shape", "sums_file_size"]

_BLOCK = 2880
_CHECKSUM_COMMENT = "HDU checksum (prefect-jsoc emulator)"


def image_shape(file_size: int) -> tuple[int, int]:
    """(rows, columns) of the 16-bit image whose file is about ``file_size`` bytes.

    ``file_size`` of 32 MiB gives 4096x4096, 8 MiB gives 2048x2048.
    """
    npix = max(256, file_size // 2)
    width = max(16, int(math.isqrt(npix)))
    return max(16, npix // width), width


def _padded(n: int) -> int:
    return -(-n // _BLOCK) * _BLOCK


def sums_file_size(file_size: int) -> int:
    """Exact size in bytes of a SUMS (as-is) file for the ``file_size`` setting."""
    rows, cols = image_shape(file_size)
    return _BLOCK + _padded(rows * cols * 2)


def _seed(number: int, segment: str) -> int:
    return (number * 7919 + zlib.crc32(segment.encode())) % 100_003


def _image(rows: int, cols: int, seed: int) -> np.ndarray:
    """The 16-bit test pattern: stripes inside a disk, ``BLANK`` (-32768) outside it."""
    x = np.arange(cols, dtype=np.int32)
    row_pattern = (x * 7 + seed) % 2048
    xc, yc = (cols - 1) / 2.0, (rows - 1) / 2.0
    radius2 = (0.45 * min(rows, cols)) ** 2
    dx2 = (x - xc) ** 2
    image = np.empty((rows, cols), dtype=">i2")
    step = max(1, 4_194_304 // cols)
    for start in range(0, rows, step):
        y = np.arange(start, min(rows, start + step), dtype=np.int32)
        block = row_pattern[None, :] + ((y * 13) % 2048)[:, None] - 2048
        outside = dx2[None, :] + ((y - yc) ** 2)[:, None] > radius2
        block[outside] = -32768
        image[start : start + len(y)] = block
    return image


def _write_fits(fh, header: fits.Header, rows: int, cols: int, seed: int) -> None:  # type: ignore[no-untyped-def]
    """Write the header and image with ``DATASUM``/``CHECKSUM`` (deterministic comments)."""
    hdu = fits.PrimaryHDU(data=_image(rows, cols, seed), header=header, do_not_scale_image_data=True)
    hdu.add_checksum(when=_CHECKSUM_COMMENT)
    hdu.writeto(fh, output_verify="silentfix")


def _base_header(rows: int, cols: int) -> fits.Header:
    header = fits.Header()
    header["SIMPLE"] = True
    header["BITPIX"] = 16
    header["NAXIS"] = 2
    header["NAXIS1"] = cols
    header["NAXIS2"] = rows
    header["BLANK"] = -32768
    return header


def _fits_name(name: str) -> str | None:
    fits_name = name.replace("__", "-").upper()
    if len(fits_name) > 8 or not all(c.isalnum() or c in "-_" for c in fits_name):
        return None
    return fits_name


def _export_header(series: SeriesDef, rec: Record, segment: SegmentDef, rows: int, cols: int) -> fits.Header:
    from .records import format_value

    header = _base_header(rows, cols)
    for kw in series.keywords:
        name = _fits_name(kw.name)
        if name is None or name in header:
            continue
        raw = keyword_raw(series, rec, kw)
        if raw is None:
            continue
        if kw.type == "time" or kw.type == "string":
            value: object = format_value(series, kw, raw)
        elif kw.type in ("int", "short", "longlong", "char"):
            value = int(raw)  # type: ignore[arg-type]
        else:
            value = float(raw)  # type: ignore[arg-type]
        header[name] = value
    header["RECNUM"] = recnum(series, rec)
    header["SEGMENT"] = segment.name
    header["RECORD"] = record_name(series, rec)[:68]
    return header


class FileStore:
    """Generates and caches the files of records and exports under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._locks: dict[Path, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, path: Path) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(path, threading.Lock())

    def _make(self, path: Path, header: fits.Header, rows: int, cols: int, seed: int) -> Path:
        with self._lock(path):
            if path.exists():
                return path
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
            with open(tmp, "wb") as fh:
                _write_fits(fh, header, rows, cols, seed)
            os.replace(tmp, path)
        return path

    def sums_file(self, series: SeriesDef, rec: Record, segment: SegmentDef, file_size: int) -> Path:
        """Path of the SUMS (as-is) file, generated if needed (blocking)."""
        number = recnum(series, rec)
        path = self.root / "sums" / str(file_size) / series.name.lower() / f"{number}.{segment.name}.fits"
        if path.exists():
            return path
        rows, cols = image_shape(file_size)
        return self._make(path, _base_header(rows, cols), rows, cols, _seed(number, segment.name))

    def export_file(self, series: SeriesDef, rec: Record, segment: SegmentDef, file_size: int) -> Path:
        """Path of the ``fits``-protocol file (keywords in the header), generated if needed."""
        number = recnum(series, rec)
        path = self.root / "fits" / str(file_size) / series.name.lower() / f"{number}.{segment.name}.fits"
        if path.exists():
            return path
        rows, cols = image_shape(file_size)
        header = _export_header(series, rec, segment, rows, cols)
        return self._make(path, header, rows, cols, _seed(number, segment.name))

    def text_file(self, request_id: str, name: str, make: Callable[[], str]) -> Path:
        """Path of a text file of an export (e.g. ``<id>.keywords.txt``), written if needed."""
        path = self.root / "exports" / request_id / name
        with self._lock(path):
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
                tmp.write_text(make(), encoding="ascii")
                os.replace(tmp, path)
        return path

    def tar_file(self, request_id: str, members: Iterable[tuple[str, Path]]) -> Path:
        """Path of the tar of an export, built from ``(name, path)`` pairs if needed."""
        path = self.root / "exports" / request_id / f"{request_id}.tar"
        with self._lock(path):
            if path.exists():
                return path
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
            with tarfile.open(tmp, "w") as tar:
                for name, member in members:
                    tar.add(member, arcname=name)
            os.replace(tmp, path)
        return path
