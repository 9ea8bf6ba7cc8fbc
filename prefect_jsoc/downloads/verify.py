"""What makes a downloaded file acceptable: its size, its structure, and its FITS checksums.

FITS checksums (``DATASUM``/``CHECKSUM``, FITS standard 4.0 appendix J) are checked on every HDU
*as stored in the file*: a tile-compressed image is read as the binary table it is on disk
(astropy's ``disable_image_compression=True``), whose ``CHECKSUM``/``DATASUM`` cover every byte
of the table and its heap. ``ZHECKSUM``/``ZDATASUM`` (sums of the image before compression) are
not checked: recomputing them needs a bit-exact re-compression, which is where astropy reports
false mismatches, and the stored-table sums already cover each byte of the file.

The sums are computed here with numpy over the raw bytes rather than through astropy's
``checksum=True``, which reports mismatches only as warnings, and capturing warnings is not
thread-safe in Python before 3.14 (files are verified on several threads at once).
"""

from __future__ import annotations

import hashlib
import tarfile
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["FITS_BLOCK", "Inspection", "file_sha256", "inspect_file", "verify_file"]

FITS_BLOCK = 2880
_FITS_SUFFIXES = (".fits", ".fit", ".fts")
_READ = 8 << 20  # bytes read at a time while summing (a multiple of 4)
_ALL_ONES = 0xFFFFFFFF
_WARNINGS_GUARD = threading.Lock()


@dataclass
class Inspection:
    """The outcome of :func:`inspect_file`.

    Attributes:
        problem: None when the file is acceptable, else a short reason.
        size: The file's size in bytes.
        sha256: Hex SHA-256 of the whole file (when asked for and the file could be read).
        checks: What was checked, e.g. ``["size", "fits-structure", "fits-checksums:2"]``.
    """

    problem: str | None
    size: int = 0
    sha256: str | None = None
    checks: list[str] = field(default_factory=list)


def verify_file(path: Path, expected_size: int | None = None, *, name: str | None = None) -> str | None:
    """Check a downloaded file; return None when it is valid, else the reason it is not.

    FITS files (``.fits``, ``.fit``, ``.fts``) must start with ``SIMPLE``, open with astropy, be
    exactly as long as their headers declare (data padded to 2880 bytes), which catches
    truncation, and match the ``DATASUM``/``CHECKSUM`` of every HDU that carries them, which
    catches wrong bytes. ``.tar`` files must be tar files. Sizes must match ``expected_size``
    when known.

    Args:
        path: The file.
        expected_size: Size in bytes, if known.
        name: The name that decides the file type, when ``path`` is a temporary name.

    Returns:
        None, or a short reason such as ``"truncated: 5760 bytes, headers declare 11520"``.

    Example:
        ```python
        from pathlib import Path
        from prefect_jsoc.downloads import verify_file
        problem = verify_file(Path("hmi.m_45s.20140101_000045_TAI.3.magnetogram.fits"))
        ```
    """
    return inspect_file(path, expected_size, name=name).problem


def inspect_file(
    path: Path, expected_size: int | None = None, *, name: str | None = None, digest: bool = False
) -> Inspection:
    """Like :func:`verify_file`, also returning what was checked and (with ``digest``) the SHA-256."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return Inspection(f"cannot read it ({exc.strerror or exc})")
    checks = ["size"] if expected_size is not None else []
    if expected_size is not None and size != expected_size:
        return Inspection(f"size is {size} bytes, expected {expected_size}", size)
    if size == 0:
        return Inspection("the file is empty", size)
    low = (name or path.name).lower()
    if low.endswith(".part"):
        low = low[: -len(".part")]
    regions: list[tuple[int, int, int, int | None, bool]] = []
    if low.endswith(_FITS_SUFFIXES):
        problem, regions = _fits_layout(path, size)
        if problem:
            return Inspection(problem, size, checks=checks)
        checks.append("fits-structure")
    elif low.endswith(".tar"):
        if not tarfile.is_tarfile(path):
            return Inspection("not a tar file", size, checks=checks)
        checks.append("tar-structure")
    try:
        sha, problem = _read_and_sum(path, regions, digest)
    except OSError as exc:
        return Inspection(f"cannot read it ({exc.strerror or exc})", size, checks=checks)
    if problem:
        return Inspection(problem, size, checks=checks)
    summed = sum(1 for r in regions if r[3] is not None or r[4])
    if summed:
        checks.append(f"fits-checksums:{summed}")
    if digest:
        checks.append("sha256")
    return Inspection(None, size, sha, checks)


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in large blocks."""
    sha, _ = _read_and_sum(path, [], True)
    assert sha is not None
    return sha


def _fits_layout(path: Path, size: int) -> tuple[str | None, list[tuple[int, int, int, int | None, bool]]]:
    """Check the FITS structure; return ``(problem, [(header_at, data_at, data_span, datasum, has_checksum)])``."""
    with open(path, "rb") as fh:
        head = fh.read(80)
    if not head.startswith(b"SIMPLE  ="):
        return "not a FITS file (no SIMPLE card)", []
    if size % FITS_BLOCK:
        return f"truncated: {size} bytes is not a multiple of {FITS_BLOCK}", []
    from astropy.io import fits

    regions: list[tuple[int, int, int, int | None, bool]] = []
    try:
        # catch_warnings swaps process-wide state: one thread at a time, so that concurrent
        # verifications cannot leave the caller's warning filters changed.
        with _WARNINGS_GUARD, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path, memmap=False, lazy_load_hdus=False, disable_image_compression=True) as hdul:
                for i, hdu in enumerate(hdul):
                    info = hdul.fileinfo(i)
                    header_at, data_at, span = int(info["hdrLoc"]), int(info["datLoc"]), int(info["datSpan"])
                    datasum = hdu.header.get("DATASUM")
                    if datasum is not None:
                        try:
                            datasum = int(str(datasum).strip())
                        except ValueError:
                            return f"HDU {i} has a DATASUM that is not a number ({datasum!r})", []
                    regions.append((header_at, data_at, span, datasum, "CHECKSUM" in hdu.header))
    except Exception as exc:  # astropy raises OSError, ValueError, VerifyError, ...
        return f"astropy cannot open it ({type(exc).__name__}: {exc})", []
    end = max((data_at + span for _, data_at, span, _, _ in regions), default=0)
    if end != size:
        return f"truncated: {size} bytes, headers declare {end}", []
    return None, regions


def _ones_complement(total: int) -> int:
    """Fold a sum of 32-bit words into a 32-bit ones' complement sum (end-around carry)."""
    while total >> 32:
        total = (total & _ALL_ONES) + (total >> 32)
    return total


def _read_and_sum(
    path: Path, regions: list[tuple[int, int, int, int | None, bool]], digest: bool
) -> tuple[str | None, str | None]:
    """One pass over the file: SHA-256 (if asked) and the ones' complement sum of each FITS region."""
    sha = hashlib.sha256() if digest else None
    wanted = [r for r in regions if r[3] is not None or r[4]]
    if sha is None and not wanted:
        return None, None
    # Each HDU contributes two sums: its header [header_at, data_at) and its data [data_at, data_at + span).
    bounds = sorted({b for h, d, s, _, _ in wanted for b in (h, d, d + s)})
    sums = dict.fromkeys(bounds, 0)  # region start -> raw (unfolded) sum
    offset = 0
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(_READ)
            if not chunk:
                break
            if sha is not None:
                sha.update(chunk)
            if bounds:
                _add_chunk(sums, bounds, offset, chunk)
            offset += len(chunk)
    for i, (header_at, data_at, span, datasum, has_checksum) in enumerate(wanted):
        data_sum = _ones_complement(sums.get(data_at, 0)) if span else 0
        if datasum is not None and data_sum != datasum:
            return None, f"FITS checksum mismatch in HDU {i}: DATASUM says {datasum}, the data sum to {data_sum}"
        if has_checksum:
            hdu_sum = _ones_complement(sums.get(header_at, 0) + data_sum)
            if hdu_sum != _ALL_ONES:
                return None, f"FITS checksum mismatch in HDU {i}: CHECKSUM does not match the header and data"
    return (sha.hexdigest() if sha is not None else None), None


def _add_chunk(sums: dict[int, int], bounds: list[int], offset: int, chunk: bytes) -> None:
    """Add the 32-bit big-endian words of ``chunk`` (at ``offset``) to the region each falls in."""
    end = offset + len(chunk)
    for start, stop in zip(bounds, bounds[1:]):
        lo, hi = max(start, offset), min(stop, end)
        if lo >= hi:
            continue
        piece = chunk[lo - offset : hi - offset]
        usable = len(piece) - len(piece) % 4  # regions start and end on 2880-byte blocks, so this is exact
        words = np.frombuffer(piece, dtype=">u4", count=usable // 4)
        sums[start] += int(words.sum(dtype=np.uint64))
