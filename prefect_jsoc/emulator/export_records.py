"""What a staged export is: its request id, its record, and the files it holds once it completes."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .catalog import SegmentDef, SeriesDef
from .record_selection import RecordSet
from .records import Record, keyword_string, recnum, record_name

__all__ = [
    "DEFAULT_FILENAMEFMT",
    "Export",
    "ExportFile",
    "IdAllocator",
    "export_files",
    "export_segments",
    "format_filename",
    "keywords_text",
    "protocol_kind",
]

DEFAULT_FILENAMEFMT = "{seriesname}.{recnum:%d}.{segment}"


class IdAllocator:
    """Makes ``JSOC_YYYYMMDD_NNN`` request ids that stay unique across restarts.

    The daily serial never goes below the tenths of seconds elapsed since UTC midnight, so a
    fresh process (or a restarted server) cannot hand out an id an earlier one used, and the
    last serial is also kept in ``state_file`` when one is given.
    """

    def __init__(self, state_file: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._state_file = state_file
        self._day, self._serial = "", 0
        if state_file is not None and state_file.exists():
            try:
                day, serial = state_file.read_text().split()
                self._day, self._serial = day, int(serial)
            except ValueError:
                pass

    def next(self, now: float) -> tuple[str, int]:
        """A new ``(request_id, export storage-unit number)`` pair."""
        moment = datetime.fromtimestamp(now, tz=UTC)
        day = moment.strftime("%Y%m%d")
        floor = int((moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1e6) * 10)
        with self._lock:
            last = self._serial if day == self._day else -1
            self._day, self._serial = day, max(last + 1, floor)
            serial = self._serial
            if self._state_file is not None:
                self._state_file.parent.mkdir(parents=True, exist_ok=True)
                self._state_file.write_text(f"{day} {serial}\n")
        sunum = int(f"9{day[2:]}{serial:07d}")
        return f"JSOC_{day}_{serial:03d}", sunum


@dataclass
class ExportFile:
    """One file of an export: its name, the record it holds and how to make it."""

    filename: str
    record: str
    series: SeriesDef
    rec: Record
    segment: SegmentDef
    kind: str  # "sums" (as-is bytes) or "fits" (keywords in the header)


@dataclass
class Export:
    """A staged export request."""

    request_id: str
    sunum: int
    email: str
    ip: str
    method: str
    protocol: str
    filenamefmt: str | None
    process: str
    recordset: RecordSet
    limit: int
    submitted: float
    delay: float
    rcount: int
    size_mb: int
    digest: str
    polls: int = 0
    files: list[ExportFile] | None = None
    by_name: dict[str, ExportFile] = field(default_factory=dict)

    @property
    def dir(self) -> str:
        """The export's directory, e.g. ``/SUM12/D91411240504001/S00000``."""
        return f"/SUM{1 + self.sunum % 99}/D{self.sunum}/S00000"

    @property
    def completes_at(self) -> float:
        """Wall time at which the export completes."""
        return self.submitted + self.delay

    @property
    def is_tar(self) -> bool:
        """True for ``url-tar`` exports."""
        return self.method.endswith("-tar")

    @property
    def tar_name(self) -> str:
        """Name of the tar file inside :attr:`dir`."""
        return f"{self.request_id}.tar"


def protocol_kind(protocol: str) -> str | None:
    """``as-is`` or ``fits`` for an export protocol this server supports, else ``None``."""
    head = protocol.split(",")[0].strip().lower()
    if head in ("as-is", "su-as-is", "su"):
        return "as-is"
    if head == "fits":
        return "fits"
    return None


_FMT_TOKEN = re.compile(r"\{([^{}:]+)(?::([^{}]*))?\}")


def format_filename(fmt: str | None, series: SeriesDef, rec: Record, segment: SegmentDef, counter: int) -> str:
    """Apply a JSOC ``filenamefmt`` (``{seriesname}``, ``{recnum:%d}``, ``{segment}``, ``{KEY}``,
    ``{KEY:A}``, ``{#}``) to one file of a record."""
    fmt = fmt or DEFAULT_FILENAMEFMT

    def sub(m: re.Match[str]) -> str:
        name, spec = m[1].strip(), (m[2] or "").strip()
        if name == "seriesname":
            return series.name
        if name == "recnum":
            return str(recnum(series, rec))
        if name == "segment":
            return segment.filename
        if name == "#":
            return str(counter)
        kw = series.keyword(name)
        if kw is None:
            return name
        value = keyword_string(series, rec, kw)
        if spec.upper() == "A":
            value = value.replace(".", "").replace(":", "")
        return value

    return re.sub(r"\s+", "", _FMT_TOKEN.sub(sub, fmt))


def export_segments(rs: RecordSet) -> list[SegmentDef]:
    """The segments a record set exports: those of its ``{...}`` list, or all of the series'."""
    s = rs.series
    if rs.segments:
        return [s.segment(n) for n in rs.segments]  # type: ignore[misc]
    return list(s.segments)


def export_files(e: Export) -> list[ExportFile]:
    """The files of a staged export, named by its ``filenamefmt`` (computed once, kept on ``e``)."""
    if e.files is None:
        s = e.recordset.series
        kind = "fits" if protocol_kind(e.protocol) == "fits" else "sums"
        out: list[ExportFile] = []
        counter = 0
        for rec in e.recordset.records(e.limit):
            for seg in export_segments(e.recordset):
                counter += 1
                name = format_filename(e.filenamefmt, s, rec, seg, counter)
                spec = record_name(s, rec, seg.name if kind == "sums" else None)
                if "|" in e.process:
                    spec = spec.replace(s.name, f"{s.name}_mod", 1)
                out.append(ExportFile(name, spec, s, rec, seg, kind))
        e.files = out
        e.by_name = {f.filename: f for f in out}
    return e.files


def keywords_text(e: Export, files: list[ExportFile]) -> str:
    """The ``<requestid>.keywords.txt`` table of an ``as-is`` export: one line per record."""
    s = e.recordset.series
    lines = ["\t".join(["RECORD", *(kw.name for kw in s.keywords)])]
    seen = set()
    for f in files:
        if f.rec in seen:
            continue
        seen.add(f.rec)
        values = [keyword_string(s, f.rec, kw) for kw in s.keywords]
        lines.append("\t".join([record_name(s, f.rec), *values]))
    return "\n".join(lines) + "\n"
