"""The download engine: parfive with a large read chunk, temporary names, verification, rename.

Every file is downloaded to ``.<name>.part`` next to its final name, verified (HTTP length is
enforced by aiohttp; FITS files must open with astropy and be exactly as long as their headers
declare, padded to 2880 bytes; tar files must be tar files; sizes must match when known), then
renamed with :func:`os.replace`. A partial file never sits under a final name, files already
present and valid are skipped, and failures are retried with backoff before
:class:`~prefect_jsoc.errors.JsocDownloadError` lists what is left.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import string
import tarfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefect_jsoc._log import get_logger as _logger
from prefect_jsoc.errors import InvalidOptionError, JsocDownloadError, UnsafeFilenameError
from prefect_jsoc.limits import download_slots
from prefect_jsoc.models import DownloadResult, ExportManifest, ManifestFile
from prefect_jsoc.settings import JsocSettings

__all__ = ["CHUNK_SIZE", "download_manifest", "resolve_target", "safe_filename", "verify_file"]


#: Read chunk passed to parfive (its default of 1 KiB caps throughput near 100 MB/s).
CHUNK_SIZE = 1 << 20
FITS_BLOCK = 2880
_FITS_SUFFIXES = (".fits", ".fit", ".fts")
ProgressCallback = Callable[[str, float, str], None]


def safe_filename(name: Any) -> str:
    """Check that a file name from the server cannot escape the target directory.

    Args:
        name: The name (from JSOC's ``filename``, or derived from a record).

    Returns:
        The name, unchanged.

    Raises:
        UnsafeFilenameError: When the name is empty, ``.``/``..``, starts with ``.`` or ``/``, or
            contains ``/``, ``\\``, NUL or another control character.

    Example:
        ```python
        from prefect_jsoc.downloads import safe_filename
        safe_filename("hmi.m_45s.20140101_000045_TAI.3.magnetogram.fits")   # fine
        safe_filename("../../.bashrc")                                      # UnsafeFilenameError
        ```
    """
    text = name if isinstance(name, str) else str(name)
    problem = None
    if not text:
        problem = "it is empty"
    elif text in (".", ".."):
        problem = "it names a directory"
    elif text.startswith("/"):
        problem = "it is an absolute path"
    elif "/" in text or "\\" in text:
        problem = "it contains a path separator"
    elif any(ord(c) < 32 or ord(c) == 127 for c in text):
        problem = "it contains NUL or control characters"
    elif text.startswith("."):
        problem = "it starts with '.' (hidden files and '..' are not accepted)"
    if problem:
        raise UnsafeFilenameError(
            f"Refusing the file name {text!r} from the server: {problem}, so it could escape the target "
            "directory or clash with temporary files. Report the export to JSOC; nothing was written."
        )
    return text


def _clean_field(value: Any) -> str:
    text = str(value)
    text = "".join("_" if (ord(c) < 32 or c in "/\\") else c for c in text)
    return "_" if text in ("", ".", "..") else text


def resolve_target(path: str | os.PathLike[str], file: ManifestFile, manifest: ExportManifest) -> Path:
    """Return the local path for one file, from a directory or a sunpy-like path template.

    A plain directory gets ``/{file}`` appended. Templates may use ``{file}`` (the safe file
    name), ``{series}``, ``{request_id}``, ``{label}``, ``{segment}``, ``{record}`` and every
    prime key of the record (``{T_REC}``, ``{CAMERA}``, ``{WAVELNTH}``, ...; also in lower case).
    Values are cleaned of path separators, and the result must stay inside the template's fixed
    leading directory.

    Args:
        path: Directory or template, e.g. ``"data/{series}/{file}"``; ``~`` is expanded.
        file: The manifest file.
        manifest: Its manifest.

    Returns:
        The absolute target path.

    Raises:
        UnsafeFilenameError: When the file name or the formatted path would escape the directory.
        InvalidOptionError: When the template uses a field this file does not have.

    Example:
        ```python
        from prefect_jsoc.downloads import resolve_target
        # resolve_target("data/{series}/{CAMERA}/{file}", manifest.files[0], manifest)
        ```
    """
    name = safe_filename(file.filename)
    template = os.path.expanduser(os.fspath(path))
    if "{" not in template:
        base = Path(template).resolve()
        return base / name
    fields: dict[str, str] = {}
    for key, value in file.keywords.items():
        fields[key] = _clean_field(value)
        fields.setdefault(key.lower(), _clean_field(value))
        fields.setdefault(key.upper(), _clean_field(value))
    fields.update(
        file=name,
        series=_clean_field(manifest.series),
        request_id=_clean_field(manifest.request_id or "quick"),
        label=_clean_field(manifest.label),
    )
    fields.setdefault("segment", "")
    fields.setdefault("record", _clean_field(file.record or ""))
    try:
        formatted = template.format(**fields)
    except (KeyError, IndexError) as exc:
        available = ", ".join(sorted("{" + k + "}" for k in fields))
        raise InvalidOptionError(
            f"The path template {template!r} uses {exc}, which the file {name!r} does not have. Available "
            f"fields: {available}."
        ) from None
    except ValueError as exc:
        raise InvalidOptionError(f"The path template {template!r} is not a valid format string: {exc}.") from None
    literal = template.split("{", 1)[0]
    base = Path(literal if literal.endswith(os.sep) else os.path.dirname(literal) or ".").resolve()
    target = Path(formatted)
    target = (target if target.is_absolute() else Path.cwd() / target).resolve()
    if target != base and base not in target.parents:
        raise UnsafeFilenameError(
            f"The path template {template!r} puts {name!r} at {target}, outside {base}; refusing to write there."
        )
    if target.is_dir() or formatted.endswith(("/", os.sep)):
        target = target / name
    return target


def verify_file(path: Path, expected_size: int | None = None) -> str | None:
    """Check a downloaded file; return None when it is valid, else the reason it is not.

    FITS files (``.fits``, ``.fit``, ``.fts``) must start with ``SIMPLE``, open with astropy, and
    be exactly as long as their headers declare (data padded to 2880 bytes), which catches
    truncation. ``.tar`` files must be tar files. Sizes must match ``expected_size`` when known.

    Args:
        path: The file.
        expected_size: Size in bytes, if known.

    Returns:
        None, or a short reason such as ``"truncated: 5760 bytes, headers declare 11520"``.

    Example:
        ```python
        from pathlib import Path
        from prefect_jsoc.downloads import verify_file
        problem = verify_file(Path("hmi.m_45s.20140101_000045_TAI.3.magnetogram.fits"))
        ```
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        return f"cannot read it ({exc.strerror or exc})"
    if expected_size is not None and size != expected_size:
        return f"size is {size} bytes, expected {expected_size}"
    if size == 0:
        return "the file is empty"
    low = path.name.lower()
    if low.endswith(".part"):
        low = low[: -len(".part")]
    if low.endswith(_FITS_SUFFIXES):
        return _verify_fits(path, size)
    if low.endswith(".tar"):
        return None if tarfile.is_tarfile(path) else "not a tar file"
    return None


def _verify_fits(path: Path, size: int) -> str | None:
    with open(path, "rb") as fh:
        head = fh.read(80)
    if not head.startswith(b"SIMPLE  ="):
        return "not a FITS file (no SIMPLE card)"
    if size % FITS_BLOCK:
        return f"truncated: {size} bytes is not a multiple of {FITS_BLOCK}"
    from astropy.io import fits

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path, memmap=False, lazy_load_hdus=False) as hdul:
                end = 0
                for i in range(len(hdul)):
                    info = hdul.fileinfo(i)
                    end = max(end, int(info["datLoc"]) + int(info["datSpan"]))
    except Exception as exc:  # astropy raises OSError, ValueError, VerifyError, ...
        return f"astropy cannot open it ({type(exc).__name__}: {exc})"
    if end != size:
        return f"truncated: {size} bytes, headers declare {end}"
    return None


def _part_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.part")


def _run_coroutine(coro: Any) -> Any:
    """Run a coroutine to completion on a fresh event loop that is closed afterwards.

    parfive's own ``download()`` leaves its loop (with signal handlers) unclosed, which later fails
    when the loop is garbage-collected in another thread. Inside a running loop (async code,
    notebooks), the coroutine runs on a helper thread instead.
    """
    import asyncio
    import threading

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="prefect-jsoc-download", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _run_parfive(
    todo: list[tuple[ManifestFile, Path]],
    connections: int,
    settings: JsocSettings,
    on_file: Callable[[], None],
) -> dict[str, str | None]:
    """Download ``todo`` to their temporary names; return url -> error text (None on success)."""
    import aiohttp
    import parfive
    from parfive import Downloader, SessionConfig

    def done(filepath: Any, url: str, exc: Any) -> None:
        with contextlib.suppress(Exception):
            on_file()

    config = SessionConfig(
        file_progress=False,
        headers={"User-Agent": f"prefect-jsoc parfive/{parfive.__version__} aiohttp/{aiohttp.__version__}"},
        timeouts=aiohttp.ClientTimeout(
            total=None, sock_connect=settings.request_timeout, sock_read=settings.request_timeout
        ),
        done_callbacks=[done],
    )
    dl = Downloader(max_conn=connections, max_splits=1, progress=False, overwrite=True, config=config)
    outcome: dict[str, str | None] = {}
    for f, target in todo:
        target.parent.mkdir(parents=True, exist_ok=True)
        part = _part_path(target)
        dl.enqueue_file(f.url, path=part.parent, filename=part.name, overwrite=True, chunksize=CHUNK_SIZE)
        outcome[f.url] = "not attempted"
    results = _run_coroutine(dl.run_download())
    for url in results.urls:
        outcome[url] = None
    for err in results.errors:
        outcome[err.url] = f"{type(err.exception).__name__}: {err.exception}" if err.exception else "failed"
    return outcome


def download_manifest(
    manifest: ExportManifest,
    path: str | os.PathLike[str],
    settings: JsocSettings | None = None,
    *,
    overwrite: bool = False,
    on_progress: ProgressCallback | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DownloadResult:
    """Download every file of a manifest into ``path``, verified and idempotent.

    Args:
        manifest: From ``await_export``.
        path: Target directory or path template (see :func:`resolve_target`).
        settings: Settings (``max_connections``, ``http_retries``, ``retry_backoff``, timeouts).
        overwrite: Download again even files already present and valid.
        on_progress: Called as ``on_progress("download", fraction, detail)``.
        sleep: Sleep function between retry rounds.

    Returns:
        The paths (in manifest order) and counts of downloaded and skipped files.

    Raises:
        UnsafeFilenameError: When a file name would escape the target directory (before any
            download).
        JsocDownloadError: When files still fail after ``1 + http_retries`` rounds; it lists each
            URL and error.

    Example:
        ```python
        from prefect_jsoc.downloads import download_manifest
        result = download_manifest(manifest, "data/{series}/{file}")
        print(result.downloaded, "downloaded,", result.skipped, "already present")
        ```
    """
    settings = JsocSettings.resolve(settings)
    targets = [(f, resolve_target(path, f, manifest)) for f in manifest.files]
    seen: dict[Path, str] = {}
    for f, target in targets:
        if target in seen and seen[target] != f.url:
            raise InvalidOptionError(
                f"Two files of {manifest.label} would be written to {target} ({seen[target]} and {f.url}); "
                "add {file} or a record keyword to the path template."
            )
        seen[target] = f.url

    total = len(targets)
    report = on_progress or (lambda stage, fraction, detail: None)
    final: dict[Path, Path] = {}
    todo: list[tuple[ManifestFile, Path]] = []
    skipped = 0
    for f, target in targets:
        if target.exists() and not overwrite:
            problem = verify_file(target, f.size)
            if problem is None:
                final[target] = target
                skipped += 1
                continue
            _logger().warning("%s is present but not valid (%s); downloading it again.", target, problem)
        todo.append((f, target))
    if skipped:
        _logger().info("%d of %d files of %s are already present and valid; skipping them.", skipped, total, manifest.label)
    done_count = [skipped]
    report("download", done_count[0] / total if total else 1.0, f"{done_count[0]}/{total} files")

    started = time.monotonic()
    downloaded = 0
    bytes_downloaded = 0
    errors: dict[str, str] = {}
    rounds = 1 + settings.http_retries
    attempt = 0
    while todo and attempt < rounds:
        attempt += 1
        if attempt > 1:
            delay = settings.retry_backoff * (2 ** (attempt - 2)) * random.uniform(0.75, 1.25)
            _logger().warning(
                "%d file(s) of %s failed; retrying in %.1f s (round %d of %d).",
                len(todo), manifest.label, delay, attempt, rounds,
            )
            sleep(delay)

        def on_file() -> None:
            done_count[0] += 1
            report("download", min(done_count[0], total) / total, f"{min(done_count[0], total)}/{total} files")

        with download_slots(settings, wanted=len(todo)) as connections:
            _logger().info(
                "Downloading %d file(s) of %s with %d connection(s).", len(todo), manifest.label, connections
            )
            outcome = _run_parfive(todo, connections, settings, on_file)
        remaining: list[tuple[ManifestFile, Path]] = []
        for f, target in todo:
            part = _part_path(target)
            error = outcome.get(f.url, "not attempted")
            if error is None:
                error = verify_file(part, f.size)
                if error is None:
                    nbytes = part.stat().st_size
                    os.replace(part, target)
                    final[target] = target
                    downloaded += 1
                    bytes_downloaded += nbytes
                    continue
                error = f"downloaded file failed verification: {error}"
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
            errors[f.url] = error
            done_count[0] -= 1
            remaining.append((f, target))
        todo = remaining

    paths = [final[t] for _, t in targets if t in final]
    if todo:
        raise JsocDownloadError([(f.url, errors.get(f.url, "failed")) for f, _ in todo], paths)
    bytes_total = 0
    for p in paths:
        with contextlib.suppress(OSError):
            bytes_total += p.stat().st_size
    report("download", 1.0, f"{total}/{total} files")
    if downloaded:
        _logger().info(
            "Downloaded %d file(s) of %s (%.1f MB) in %.1f s; %d were already present.",
            downloaded, manifest.label, bytes_downloaded / 1e6, time.monotonic() - started, skipped,
        )
    return DownloadResult(
        paths=paths,
        downloaded=downloaded,
        skipped=skipped,
        bytes_downloaded=bytes_downloaded,
        bytes_total=bytes_total,
    )


# drms-like local names for quick (as-is) exports ------------------------------------------------

_RECORD_RE = re.compile(r"^\s*([A-Za-z][\w.]*)((?:\[[^\]]*\])*)\s*(?:\{([^}]*)\})?\s*$")
_TIMEISH_RE = re.compile(r"^\d{4}[.\-]\d{1,2}[.\-]\d{1,2}")


def parse_record(record: str | None) -> tuple[str | None, list[str], str | None]:
    """Split ``series[pk1][pk2]{segment}`` into ``(series, [pk1, pk2], segment)``."""
    if not record:
        return None, [], None
    m = _RECORD_RE.match(record)
    if not m:
        return None, [], None
    series, brackets, segment = m.groups()
    values = re.findall(r"\[([^\]]*)\]", brackets or "")
    return series, values, (segment.strip() or None) if segment else None


def quick_filename(record: str | None, server_name: str) -> str:
    """Build a drms-like local name for a quick export file, e.g.

    ``hmi.m_45s.20140101_000045_TAI.3.magnetogram.fits`` for the record
    ``hmi.M_45s[2014.01.01_00:00:45_TAI][3]{magnetogram}`` stored as ``/SUM1/.../magnetogram.fits``.
    Falls back to the server file's base name when the record cannot be parsed.
    """
    base = server_name.rsplit("/", 1)[-1]
    series, values, segment = parse_record(record)
    if not series:
        return base
    parts = [series.lower()]
    for v in values:
        v = v.strip()
        if not v:
            continue
        if _TIMEISH_RE.match(v):
            v = v.replace(".", "").replace(":", "").replace("-", "")
        parts.append(v)
    if segment:
        parts.append(segment)
    ext = ""
    for known in (".fits", ".fits.gz", ".fts", ".fit", ".txt", ".jpg", ".png", ".mpg", ".mp4", ".tar"):
        if base.lower().endswith(known):
            ext = base[-len(known):]
    name = ".".join(parts) + ext
    allowed = set(string.ascii_letters + string.digits + "._-+")
    return "".join(c if c in allowed else "_" for c in name)


def check_download_path(path: str | os.PathLike[str]) -> None:
    """TEMPORARY (lead): the download-path check; the download engine's owner replaces it."""
    template = os.path.expanduser(os.fspath(path))
    literal = template.split("{", 1)[0]
    base = Path(literal if "{" in template else template)
    probe = base
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise InvalidOptionError(f"The download path {template!r} is not usable: {probe} is a file, not a directory.")
