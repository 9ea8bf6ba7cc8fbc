"""Where a downloaded file goes: safe names from the server, path templates, and the path check.

Nothing here downloads. :func:`check_download_path` runs before an export is submitted, so a
download path that cannot work is refused while nothing has been asked of JSOC yet.
"""

from __future__ import annotations

import contextlib
import os
import re
import string
import tempfile
from pathlib import Path
from typing import Any

from prefect_jsoc.errors import InvalidDownloadPathError, InvalidOptionError, UnsafeFilenameError
from prefect_jsoc.models import ExportManifest, ManifestFile

__all__ = [
    "check_download_path",
    "clean_path_field",
    "parse_record",
    "quick_filename",
    "resolve_target",
    "safe_filename",
]

#: Characters that some file systems refuse in a name (Windows, SMB shares) or that shells mangle.
_UNSAFE_IN_NAMES = set('/\\:*?"<>|')
#: A DRMS or ISO time inside a value: ``2014.01.01_00:00:45`` or ``2014-01-01T00:00:45.5``.
_TIME_IN_VALUE = re.compile(r"\d{4}[.\-]\d{2}[.\-]\d{2}(?:[_T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


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


def clean_path_field(value: Any) -> str:
    """Turn a keyword value into text that is safe as (part of) a directory or file name.

    Times are written the way drms and sunpy name files: ``2014.01.01_00:00:45_TAI`` becomes
    ``20140101_000045_TAI`` and ``2014-01-01T00:00:00Z`` becomes ``20140101T000000Z``. Other
    characters that Windows or shells refuse (``/ \\ : * ? " < > |`` and control characters) become
    ``_``; an empty value, ``.`` or ``..`` becomes ``_``.

    Args:
        value: A keyword value, such as a record's ``T_REC``.

    Returns:
        The cleaned text.

    Example:
        ```python
        from prefect_jsoc.downloads import clean_path_field
        assert clean_path_field("2014.01.01_00:00:45_TAI") == "20140101_000045_TAI"
        ```
    """
    text = _TIME_IN_VALUE.sub(lambda m: re.sub(r"[.:\-]", "", m.group(0)), str(value))
    text = "".join("_" if (ord(c) < 32 or ord(c) == 127 or c in _UNSAFE_IN_NAMES) else c for c in text)
    return "_" if text in ("", ".", "..") else text


def _fixed_directory(template: str) -> str:
    """The leading directory of a template that no field can change (``data/`` of ``data/{series}``)."""
    literal = template.split("{", 1)[0]
    return literal if literal.endswith(os.sep) else (os.path.dirname(literal) or ".")


def resolve_target(path: str | os.PathLike[str], file: ManifestFile, manifest: ExportManifest) -> Path:
    """Return the local path for one file, from a directory or a sunpy-like path template.

    A plain directory gets ``/{file}`` appended. Templates may use ``{file}`` (the safe file
    name), ``{series}``, ``{request_id}``, ``{label}``, ``{segment}``, ``{record}`` and every
    prime key of the record (``{T_REC}``, ``{CAMERA}``, ``{WAVELNTH}``, ...; also in lower case).

    Field values are cleaned with :func:`clean_path_field`: times are compacted the way drms and
    sunpy name files (``{T_REC}`` of ``2014.01.01_00:00:45_TAI`` gives ``20140101_000045_TAI``),
    and characters that Windows or shells refuse (``/ \\ : * ? " < > |``) become ``_``, so every
    template gives names that work on every system. The result must stay inside the template's
    fixed leading directory.

    Args:
        path: Directory or template, e.g. ``"data/{series}/{T_REC}/{file}"``; ``~`` is expanded.
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
        # resolve_target("data/{series}/{T_REC}/{file}", manifest.files[0], manifest)
        # -> .../data/hmi.M_45s/20140101_000045_TAI/hmi.m_45s.20140101_000045_TAI.3.magnetogram.fits
        ```
    """
    name = safe_filename(file.filename)
    template = os.path.expanduser(os.fspath(path))
    if "{" not in template:
        base = Path(template).resolve()
        return base / name
    fields: dict[str, str] = {}
    for key, value in file.keywords.items():
        fields[key] = clean_path_field(value)
        fields.setdefault(key.lower(), clean_path_field(value))
        fields.setdefault(key.upper(), clean_path_field(value))
    fields.update(
        file=name,
        series=clean_path_field(manifest.series),
        request_id=clean_path_field(manifest.request_id or "quick"),
        label=clean_path_field(manifest.label),
    )
    fields.setdefault("segment", "")
    fields.setdefault("record", clean_path_field(file.record or ""))
    try:
        formatted = template.format(**fields)
    except (KeyError, IndexError) as exc:
        available = ", ".join(sorted("{" + k + "}" for k in fields))
        raise InvalidOptionError(
            f"The path template {template!r} uses {exc}, which the file {name!r} does not have. Available "
            f"fields: {available}."
        ) from exc
    except ValueError as exc:
        raise InvalidOptionError(f"The path template {template!r} is not a valid format string: {exc}.") from exc
    base = Path(_fixed_directory(template)).resolve()
    target = Path(formatted)
    target = (target if target.is_absolute() else Path.cwd() / target).resolve()
    if target != base and base not in target.parents:
        raise UnsafeFilenameError(
            f"The path template {template!r} puts {name!r} at {target}, outside {base}; refusing to write there."
        )
    if target.is_dir() or formatted.endswith(("/", os.sep)):
        target = target / name
    return target


# -- the check before exporting -----------------------------------------------------------------


def check_download_path(path: str | os.PathLike[str]) -> None:
    """Check that files can be written under a download path or template, before anything is exported.

    Refuses: an empty path; a template that is not a valid template (unbalanced braces,
    positional ``{}`` or ``{0}`` fields, attribute or index access such as ``{file.name}``, ``..``
    after a field); a path whose directory part names an existing file; a directory component
    longer than the file system allows (``ENAMETOOLONG``); a directory that cannot be written
    (read-only file system, permissions).

    Nothing permanent is created: the writability probe is a temporary file in the deepest
    directory that already exists, removed at once; missing directories are not created (they
    are created by the download). Whether a template field exists for the exported records is
    only known from the manifest, so that is checked by the download.

    Args:
        path: The directory or path template given to ``download``/``jsoc_fetch``; ``~`` is expanded.

    Raises:
        InvalidDownloadPathError: Saying what is wrong and how to fix it.

    Example:
        ```python
        from prefect_jsoc.downloads import check_download_path
        check_download_path("data/{series}/{T_REC}/{file}")   # fine in a writable working directory
        check_download_path("/etc/passwd/data")               # InvalidDownloadPathError
        ```
    """
    raw = os.fspath(path)
    text = os.path.expanduser(raw if isinstance(raw, str) else raw.decode())
    if not text.strip():
        raise InvalidDownloadPathError("The download path is empty; give a directory such as 'data/jsoc'.")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidDownloadPathError(
            f"The download path {text!r} contains NUL or control characters; give a plain directory name."
        )
    if "{" in text or "}" in text:
        _check_template(text)
    directory = Path(_fixed_directory(text) if "{" in text else text)
    directory = directory if directory.is_absolute() else Path.cwd() / directory
    existing = _check_components(text, directory)
    _check_writable(text, existing)


def _check_template(template: str) -> None:
    hint = "Write fields as {series} or {T_REC}, and a literal brace as {{ or }}."
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InvalidDownloadPathError(
            f"The path template {template!r} is not a valid template: {exc}. {hint}"
        ) from exc
    for _literal, field, spec, _conversion in parsed:
        if field is None:
            continue
        if field == "" or field.isdigit():
            raise InvalidDownloadPathError(
                f"The path template {template!r} has a positional field {{{field}}}; name the field, e.g. "
                "{file}, {series} or {T_REC}."
            )
        if not _FIELD_NAME.fullmatch(field) or (spec and "{" in spec):
            raise InvalidDownloadPathError(
                f"The path template {template!r} uses {{{field}}}: fields must be plain names such as "
                "{series} or {T_REC}, without attribute, index or nested fields."
            )
    rest = template[len(template.split("{", 1)[0]) :]
    if ".." in re.split(r"[\\/]", rest):
        raise InvalidDownloadPathError(
            f"The path template {template!r} has '..' after a field, which could place files outside its "
            "directory; write the parent directory before the first field instead."
        )


def _limit(directory: Path, name: str, default: int) -> int:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return int(os.pathconf(directory, name))
    return default


def _check_components(text: str, directory: Path) -> Path:
    """Walk ``directory`` down from its root; return the deepest part that exists (a directory)."""
    existing = Path(directory.anchor or os.sep)
    parts = directory.parts[1:]
    for i, part in enumerate(parts):
        name_max = _limit(existing, "PC_NAME_MAX", 255)
        if len(os.fsencode(part)) > name_max:
            raise InvalidDownloadPathError(
                f"The download path {text!r} has a directory name of {len(os.fsencode(part))} bytes "
                f"({part[:40]}...), longer than the {name_max} bytes the file system allows; use a shorter name."
            )
        candidate = existing / part
        try:
            is_dir = candidate.is_dir()
            present = is_dir or candidate.exists()
        except OSError as exc:
            raise InvalidDownloadPathError(
                f"The download path {text!r} cannot be used: {candidate}: {exc.strerror or exc}."
            ) from exc
        if not present:
            for later in parts[i + 1 :]:
                if len(os.fsencode(later)) > name_max:
                    raise InvalidDownloadPathError(
                        f"The download path {text!r} has a directory name of {len(os.fsencode(later))} bytes "
                        f"({later[:40]}...), longer than the {name_max} bytes the file system allows; use a "
                        "shorter name."
                    )
            break
        if not is_dir:
            raise InvalidDownloadPathError(
                f"The download path {text!r} cannot be a directory: {candidate} exists and is a file. Choose "
                "another path, or move that file."
            )
        existing = candidate
    path_max = _limit(existing, "PC_PATH_MAX", 4096)
    if len(os.fsencode(str(directory))) + 1 + 128 > path_max:  # room for a JSOC file name (about 60-100 bytes)
        raise InvalidDownloadPathError(
            f"The download path {text!r} is {len(os.fsencode(str(directory)))} bytes long; with file names "
            f"it would pass the {path_max}-byte limit of the file system. Use a shorter path."
        )
    return existing


def _check_writable(text: str, existing: Path) -> None:
    try:
        fd, probe = tempfile.mkstemp(prefix=".prefect-jsoc-probe-", dir=existing)
    except OSError as exc:
        raise InvalidDownloadPathError(
            f"The download path {text!r} is not writable: files cannot be created in {existing} "
            f"({exc.strerror or exc}). Choose a directory you can write to."
        ) from exc
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)


# -- drms-like local names for quick (as-is) exports ----------------------------------------------

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
            ext = base[-len(known) :]
    name = ".".join(parts) + ext
    allowed = set(string.ascii_letters + string.digits + "._-+")
    return "".join(c if c in allowed else "_" for c in name)
