"""What sits next to a downloaded file: its temporary names, its lock, and the record of its verification.

* **Temporary names** are unique per writer: ``.<name>.<random>.part`` in the target's directory
  (the same file system, so the final :func:`os.replace` is atomic).
* **Locks** (:class:`PathLock`): one writer per final path. A lock is an advisory ``flock`` on
  ``.<name>.lock`` next to the target, held from the start of a transfer until the verified file
  is renamed; it excludes other processes on the host and other threads of this process, and the
  lock file is removed when released. (On a shared file system, other hosts may not see the lock;
  the final rename still only ever exposes a verified file, since each writer verifies its own
  temporary file before renaming it.)
* **Verification records** (:func:`write_record`, :func:`is_verified`): after a file is verified and
  renamed, ``.prefect-jsoc/<name>.json`` in its directory records what was verified: the product
  (protocol, series, record, file name; the URL when there is no record), the size, SHA-256, the
  checks made, the request id and URL it came from. A later download skips the file only if the
  record describes the same product and the file is unchanged since (same size and, if its
  modification time or inode changed, the same SHA-256). Records are written to a unique temporary
  name and renamed, so a crash leaves either the old record or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import os
import re
import secrets
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from prefect_jsoc.models import ExportManifest, ManifestFile

from .verify import file_sha256

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows falls back to the filelock package
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "RECORD_DIR",
    "RECORD_FORMAT",
    "PathLock",
    "Product",
    "is_verified",
    "lock_path",
    "read_record",
    "record_path",
    "remove_stale_temporaries",
    "temporary_path",
    "write_record",
]

#: Hidden directory, inside each download directory, holding the verification records.
RECORD_DIR = ".prefect-jsoc"
#: Value of the ``format`` field of every record.
RECORD_FORMAT = "prefect-jsoc/verified-download/1"
_LONGEST_STEM = 180  # keeps ".<name>.<random>.part" and "<name>.json" under the usual 255-byte limit


def _stem(name: str) -> str:
    """``name``, shortened with a digest when hidden siblings of it would exceed file-name limits."""
    if len(name.encode()) <= _LONGEST_STEM:
        return name
    return name[:100] + "~" + hashlib.sha256(name.encode()).hexdigest()[:16]


def temporary_path(target: Path) -> Path:
    """A new, unique temporary name for a download of ``target``, in the same directory."""
    return target.with_name(f".{_stem(target.name)}.{secrets.token_hex(6)}.part")


def lock_path(target: Path) -> Path:
    """The lock file of ``target``."""
    return target.with_name(f".{_stem(target.name)}.lock")


def record_path(target: Path) -> Path:
    """The verification record of ``target``."""
    return target.parent / RECORD_DIR / f"{_stem(target.name)}.json"


def remove_stale_temporaries(target: Path) -> int:
    """Remove temporary files of ``target`` left by writers that died; call only while holding its lock.

    Returns:
        How many were removed.
    """
    removed = 0
    # ours (".<name>.<12 hex>.part") and those of versions before 0.2 (".<name>.part")
    pattern = re.compile(re.escape(f".{_stem(target.name)}") + r"(?:\.[0-9a-f]{12})?\.part")
    with contextlib.suppress(OSError):
        for entry in os.scandir(target.parent):
            if pattern.fullmatch(entry.name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
    return removed


# -- locks ---------------------------------------------------------------------------------------

_held: set[str] = set()
_held_guard = threading.Lock()


class PathLock:
    """An exclusive, non-blocking lock on one final path (see the module docstring).

    Example:
        ```python
        lock = PathLock(Path("data/x.fits"))
        if lock.acquire():
            try:
                ...  # download, verify, rename
            finally:
                lock.release()
        ```
    """

    def __init__(self, target: Path) -> None:
        self.target = target
        self.path = lock_path(target)
        self._fd: int | None = None
        self._fallback: Any = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None or self._fallback is not None

    def acquire(self) -> bool:
        """Take the lock if it is free; return whether it was taken (never waits).

        Raises:
            OSError: When the lock file cannot be created (for example, the directory is not writable).
        """
        key = str(self.path)
        with _held_guard:
            if key in _held:  # another thread of this process (flock on NFS would not tell us)
                return False
            _held.add(key)
        try:
            taken = self._acquire_file()
        except BaseException:
            with _held_guard:
                _held.discard(key)
            raise
        if not taken:
            with _held_guard:
                _held.discard(key)
        return taken

    def _acquire_file(self) -> bool:
        if fcntl is None:  # pragma: no cover - Windows
            from filelock import FileLock, Timeout

            lock = FileLock(str(self.path))
            try:
                lock.acquire(timeout=0)
            except Timeout:
                return False
            self._fallback = lock
            return True
        for _ in range(100):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    return False
                raise
            # The holder before us removes the file when it releases: make sure the path still
            # names the file we locked, else we locked a file nobody else can see.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._fd = fd
                return True
            os.close(fd)
        return False  # pragma: no cover - only under extreme contention

    def release(self) -> None:
        """Release the lock (and remove the lock file); a no-op when it is not held."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)  # while still holding it, so no one locks a removed file
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        elif self._fallback is not None:  # pragma: no cover - Windows
            self._fallback.release()
            self._fallback = None
        else:
            return
        with _held_guard:
            _held.discard(str(self.path))


# -- verification records ------------------------------------------------------------------------


@dataclass(frozen=True)
class Product:
    """What a file is, independently of which export delivered it.

    Two exports of the same records with the same protocol deliver the same product (JSOC gives
    each export a new request id and URL, so those are recorded but not compared). ``as-is`` and
    ``fits`` files of one record are different products, even under the same name.
    """

    protocol: str
    series: str
    record: str | None
    filename: str
    url: str | None
    size: int | None

    @classmethod
    def of(cls, file: ManifestFile, manifest: ExportManifest) -> Product:
        """The product of one manifest file."""
        return cls(
            protocol=(manifest.protocol or "").strip().lower(),
            series=(manifest.series or "").strip().lower(),
            record=file.record,
            filename=file.filename,
            url=None if file.record else file.url,  # a tar or other file without a record
            size=file.size,
        )

    def matches(self, doc: dict[str, Any]) -> bool:
        """True if a record describes this product."""
        product = doc.get("product") or {}
        same = all(product.get(k) == v for k, v in asdict(self).items() if k != "size")
        return same and (self.size is None or doc.get("size") == self.size)


def read_record(target: Path) -> dict[str, Any] | None:
    """The verification record of ``target``, or None when there is none (or it is unreadable)."""
    try:
        doc = json.loads(record_path(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("format") == RECORD_FORMAT else None


def write_record(target: Path, product: Product, *, sha256: str, checks: list[str], **provenance: Any) -> None:
    """Record that ``target`` (already renamed into place) was verified as ``product``.

    Args:
        target: The final file.
        product: What it is.
        sha256: Its SHA-256 (hex).
        checks: What was verified, from :func:`~prefect_jsoc.downloads.verify.inspect_file`.
        **provenance: Where it came from: ``request_id``, ``url``, ``method``, ``server_url``,
            ``announced_size``.

    Raises:
        OSError: When the record cannot be written.
    """
    st = os.stat(target)
    doc = {
        "format": RECORD_FORMAT,
        "file": target.name,
        "size": st.st_size,
        "sha256": sha256,
        "mtime_ns": st.st_mtime_ns,
        "inode": st.st_ino,
        "checks": checks,
        "product": asdict(product),
        "verified_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **provenance,
    }
    path = record_path(target)
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        tmp.write_text(json.dumps(doc, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def forget_record(target: Path) -> None:
    """Remove the record of ``target`` (before a new file replaces it)."""
    with contextlib.suppress(OSError):
        record_path(target).unlink()


def is_verified(target: Path, product: Product) -> bool:
    """True when ``target`` holds ``product`` exactly as it was verified (see the module docstring).

    When only the modification time or inode changed (a copy, ``touch``), the SHA-256 decides, and
    the record is refreshed so the next check is cheap again.
    """
    doc = read_record(target)
    if doc is None or not product.matches(doc):
        return False
    try:
        st = os.stat(target)
    except OSError:
        return False
    if st.st_size != doc.get("size"):
        return False
    if st.st_mtime_ns == doc.get("mtime_ns") and st.st_ino == doc.get("inode"):
        return True
    try:
        if file_sha256(target) != doc.get("sha256"):
            return False
    except OSError:
        return False
    with contextlib.suppress(OSError):
        extra = {
            k: v
            for k, v in doc.items()
            if k not in ("format", "file", "size", "sha256", "mtime_ns", "inode", "checks", "product", "verified_at")
        }
        write_record(target, product, sha256=str(doc["sha256"]), checks=list(doc.get("checks") or []), **extra)
    return True
