"""The export state machine of ``jsoc_fetch``: request ids, status codes, limits, dedup, expiry.

Checks run in jsoc_fetch's order for ``op=exp_request`` (status in brackets): notify address [4],
pending limits per e-mail and per client address [7], method and protocol [4], record set [4],
record count [4], size [3], transient hash failure (fault) [4], duplicate of an export made
within ``dedup_window`` (same id, [2]), offline data [25], then either the quick path
(``url_quick`` + ``as-is``: [0] at once, no request id) or a new staged request [2]. Because the
pending check comes first, an e-mail whose export is still pending gets [7] even when asking for
the same export again, as on JSOC (``CheckUserLoad`` runs before the duplicate check).

A staged request reports 1 on ``exp_status`` until ``export_delay`` has passed, then 0 with the
``index.json`` document, and 5 once ``export_retention`` has passed since completion. ``wait`` in
the replies is JSOC's EstTime minus now: the whole seconds (rounded up) until the export is ready.

The records themselves (request ids, files, file names) are in :mod:`.export_records`; the
``index.json`` of a completed export is in :mod:`.export_index`.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from .catalog import SegmentDef
from .config import EmulatorConfig
from .export_index import index_document
from .export_records import (
    Export,
    ExportFile,
    IdAllocator,
    export_files,
    export_segments,
    format_filename,
    keywords_text,
    protocol_kind,
)
from .faults import FaultInjector
from .fitsfiles import sums_file_size
from .record_selection import RecordSet
from .records import recnum, record_name, sums_dir
from .recordset import RecordSetError, parse_recordset
from .stats import Stats, email_digest

# Export, ExportFile, IdAllocator and format_filename are re-exported: they lived here before.
__all__ = ["Export", "ExportFile", "ExportManager", "IdAllocator", "format_filename"]

_ID_RE = re.compile(r"^JSOC_\d{8}_\d+(_IN|_X_IN)?$")
_CONTACT = "jsoc_help@jsoc.stanford.edu"


class ExportManager:
    """Holds the exports of one server run and answers ``exp_request``/``exp_status``.

    Args:
        config: Returns the current settings (they may change while the server runs).
        stats: Counters to update.
        ids: Request-id allocator shared across restarts.
        faults: Source of the transient ``status4`` fault.
        clock: Wall-clock source, replaceable in tests.
    """

    def __init__(
        self,
        config: Callable[[], EmulatorConfig],
        stats: Stats,
        ids: IdAllocator,
        faults: FaultInjector | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._stats = stats
        self._faults = faults or FaultInjector(0)
        self._ids = ids
        self._clock = clock
        self._lock = threading.RLock()
        self._exports: dict[str, Export] = {}
        self._by_sunum: dict[int, Export] = {}
        self._by_digest: dict[str, Export] = {}

    def forget(self) -> None:
        """Drop every export (ids already handed out are never reused)."""
        with self._lock:
            self._exports.clear()
            self._by_sunum.clear()
            self._by_digest.clear()

    # --- bookkeeping -------------------------------------------------------------------------

    def _pending(self, now: float, *, email: str | None = None, ip: str | None = None) -> list[Export]:
        return [
            e
            for e in self._exports.values()
            if now < e.completes_at
            and (email is None or e.email.lower() == email.lower())
            and (ip is None or e.ip == ip)
        ]

    def pending_now(self) -> int:
        """Number of staged exports not completed yet."""
        with self._lock:
            return len(self._pending(self._clock()))

    def by_sunum(self, sunum: int) -> Export | None:
        """The export whose directory has storage-unit number ``sunum``."""
        return self._by_sunum.get(sunum)

    def is_registered(self, email: str) -> bool:
        """True if ``email`` may export (registered address or domain)."""
        cfg = self._config()
        email = email.strip().lower()
        if email in (e.lower() for e in cfg.registered_emails):
            return True
        domain = email.rpartition("@")[2]
        return bool(domain) and domain in (d.lower() for d in cfg.registered_domains)

    # --- exp_request -------------------------------------------------------------------------

    def request(self, params: dict[str, str], ip: str, note: dict[str, Any] | None = None) -> dict[str, Any]:
        """Answer ``op=exp_request``; the reply's ``status`` is counted in the stats.

        Args:
            params: The decoded query parameters.
            ip: The client's address (for the per-address pending limit).
            note: If given, filled with what the log records of this call: ``email``,
                ``email_digest``, ``outcome`` (``created``, ``duplicate``, ``quick`` or
                ``refused``) and, for a staged export, ``completes_at``.
        """
        with self._lock:
            reply, outcome, export = self._request(params, ip)
            if outcome == "created" and export is not None:
                self._stats.created(
                    export.request_id,
                    export.email,
                    export.submitted,
                    export.completes_at,
                    export.rcount,
                    export.size_mb,
                )
            elif outcome == "duplicate" and export is not None:
                self._stats.duplicate(export.request_id, params.get("notify", "").strip())
        self._stats.status_reply("exp_request", int(reply["status"]))
        if note is not None:
            notify = params.get("notify", "").strip()
            note.update(email=notify, email_digest=email_digest(notify) if notify else None, outcome=outcome)
            if export is not None:
                note["completes_at"] = export.completes_at
        return reply

    def _request(self, params: dict[str, str], ip: str) -> tuple[dict[str, Any], str, Export | None]:
        """The reply, the outcome and the export it concerns.

        The order of the checks is jsoc_fetch's: the e-mail, then the pending limits (so a user
        with a pending export gets status 7 even for a duplicate or a malformed request), then
        the record set, size, duplicate detection and offline data.
        """
        cfg = self._config()
        now = self._clock()
        notify = params.get("notify", "").strip()
        if not notify:
            return (
                {"status": 4, "error": "Email address for notification was not specfied. It is required."},
                "refused",
                None,
            )
        if not self.is_registered(notify):
            return (
                {
                    "status": 4,
                    "error": "Cannot process your request. email address has been neither validated nor registered",
                },
                "refused",
                None,
            )
        waiting = self._pending(now, email=notify)
        if len(waiting) >= cfg.max_pending_per_email:
            ids = ",".join(e.request_id for e in waiting)
            return (
                {
                    "status": 7,
                    "error": (
                        f"User {notify} has {len(waiting)} pending export requests ({ids}); please wait until at "
                        "least one request has completed before submitting a new one."
                    ),
                },
                "refused",
                None,
            )
        if len(self._pending(now, ip=ip)) >= cfg.max_pending_per_ip:
            return (
                {
                    "status": 7,
                    "error": (
                        f"There are too many requests from {notify}; please wait until one or more requests have "
                        "completed before submitting a new one."
                    ),
                },
                "refused",
                None,
            )
        method = params.get("method", "url").strip().lower() or "url"
        protocol = params.get("protocol", "as-is").strip() or "as-is"
        kind = protocol_kind(protocol)
        if method not in ("url_quick", "url", "url-tar"):
            return {"status": 4, "error": f"Export method '{method}' is not supported."}, "refused", None
        if kind is None:
            return (
                {"status": 4, "error": f"Export protocol '{protocol}' is not supported by this server."},
                "refused",
                None,
            )
        ds = params.get("ds", "").strip()
        try:
            rs = parse_recordset(ds)
        except RecordSetError as exc:
            return {"status": 4, "error": _recordset_error(exc, ds)}, "refused", None
        process = params.get("process", "n=0")
        limit = _process_limit(process)
        count = rs.count(limit)
        if count > cfg.max_export_records:
            return (
                {"status": 4, "error": f"Can not open RecordSet {count} is too many records in one request."},
                "refused",
                None,
            )
        if count == 0:
            return {"status": 4, "error": "There are no files in this RecordSet"}, "refused", None
        segments = export_segments(rs)
        size_mb = max(1, math.ceil(count * len(segments) * sums_file_size(cfg.file_size) / 1_048_576))
        if size_mb > cfg.size_limit_mb:
            return (
                {
                    "requestid": "VOID",
                    "method": method,
                    "protocol": protocol,
                    "wait": 0,
                    "status": 3,
                    "count": count,
                    "size": size_mb,
                    "error": f"Request exceeds max byte limit of {int(cfg.size_limit_mb)}MB",
                },
                "refused",
                None,
            )
        if self._faults.roll("status4", cfg.status4_rate):
            self._stats.fault("status4")
            return {"status": 4, "error": "Cant save new export-request hash."}, "refused", None
        staged_method = "url" if method == "url_quick" and kind != "as-is" else method
        digest = _digest(rs, limit, params.get("filenamefmt"), process, protocol, staged_method)
        dup = self._by_digest.get(digest)
        if (
            dup is not None
            and now - dup.submitted < cfg.dedup_window
            and staged_method != "url_quick"
            and now < dup.completes_at + cfg.export_retention
        ):
            return self._block(dup, 2, now), "duplicate", dup
        if cfg.offline:
            self._stats.fault("offline")
            request_id, _ = self._ids.next(now)
            return (
                {
                    "status": 25,
                    "requestid": request_id,
                    "method": staged_method,
                    "protocol": protocol,
                    "wait": 0,
                    "rcount": count,
                    "size": size_mb,
                    "error": (
                        "One or more data files are offline; please send a request for help to "
                        f"jsoc@sun.stanford.edu and include this request ID; {request_id}"
                    ),
                },
                "refused",
                None,
            )
        if staged_method == "url_quick":
            self._stats.submitted(None)
            return self._quick(rs, limit, segments, count, size_mb, protocol), "quick", None
        request_id, sunum = self._ids.next(now)
        export = Export(
            request_id,
            sunum,
            notify,
            ip,
            staged_method,
            protocol,
            params.get("filenamefmt"),
            process,
            rs,
            limit,
            now,
            max(0.0, cfg.export_delay),
            count,
            size_mb,
            digest,
        )
        self._exports[request_id] = export
        self._by_sunum[sunum] = export
        self._by_digest[digest] = export
        self._stats.submitted(len(waiting) + 1, len(self._pending(now)))
        return self._block(export, 2, now), "created", export

    def _quick(
        self, rs: RecordSet, limit: int, segments: list[SegmentDef], count: int, size_mb: int, protocol: str
    ) -> dict[str, Any]:
        s = rs.series
        data = [
            {"record": record_name(s, rec, seg.name), "filename": f"{sums_dir(s, rec)}/{seg.filename}"}
            for rec in rs.records(limit)
            for seg in segments
        ]
        return {
            "rcount": count,
            "count": len(data),
            "size": size_mb,
            "dir": "",
            "data": data,
            "requestid": "",
            "method": "url_quick",
            "protocol": protocol,
            "wait": 0,
            "status": 0,
        }

    def _block(self, e: Export, status: int, now: float, **extra: Any) -> dict[str, Any]:
        wait = 999999 if status in (3, 4, 5) else max(0, math.ceil(e.completes_at - now))
        reply = {
            "status": status,
            "requestid": e.request_id,
            "method": e.method,
            "protocol": e.protocol,
            "wait": wait,
            "rcount": e.rcount if status == 2 else 0,
            "size": e.size_mb,
        }
        reply.update(extra)
        return reply

    # --- exp_status --------------------------------------------------------------------------

    def status(self, request_id: str, note: dict[str, Any] | None = None) -> dict[str, Any]:
        """Answer ``op=exp_status``; the reply's ``status`` is counted in the stats.

        Args:
            request_id: The ``requestid`` parameter.
            note: If given, filled with the export's ``email``, ``email_digest`` and
                ``completes_at`` when the id is known.
        """
        with self._lock:
            reply = self._status(request_id.strip())
            export = self._exports.get(request_id.strip())
        self._stats.status_reply("exp_status", int(reply["status"]))
        if note is not None and export is not None:
            note.update(email=export.email, email_digest=email_digest(export.email), completes_at=export.completes_at)
        return reply

    def _status(self, request_id: str) -> dict[str, Any]:
        if not request_id:
            return {"status": 4, "error": "RequestID must be provided"}
        if not _ID_RE.match(request_id):
            return {"status": 4, "error": f"Bad RequestID '{request_id}' provided."}
        e = self._exports.get(request_id)
        if e is None:
            return {"status": 4, "error": f"invalid export DRMS record for ID `%s`{request_id}"}
        now = self._clock()
        cfg = self._config()
        e.polls += 1
        if e.polls <= cfg.notfound_polls:
            return self._block(e, 6, now, error="can't locate export request", contact=_CONTACT)
        if now < e.completes_at:
            return self._block(e, 1, now)
        if now >= e.completes_at + cfg.export_retention:
            return self._block(
                e, 5, now, error="Request was completed but is now deleted, 7 day limit exceeded", contact=_CONTACT
            )
        return self.index(e)

    def completed(self, e: Export) -> bool:
        """True if ``e`` is complete and not expired (its files may be downloaded)."""
        now = self._clock()
        return e.completes_at <= now < e.completes_at + self._config().export_retention

    def files(self, e: Export) -> list[ExportFile]:
        """The files of a staged export (computed once)."""
        with self._lock:
            return export_files(e)

    def keywords_text(self, e: Export) -> str:
        """The ``<requestid>.keywords.txt`` table of an ``as-is`` export: one line per record."""
        return keywords_text(e, self.files(e))

    def index(self, e: Export) -> dict[str, Any]:
        """The ``index.json`` of a completed export (all header values are strings)."""
        return index_document(e, export_files(e), self._config(), self._stats)


def _recordset_error(exc: RecordSetError, ds: str) -> str:
    """jsoc_fetch's status-4 text for a record set it cannot use."""
    if exc.kind == "series":
        return f"Cannot export series '{exc.series}' - it does not exist.\n"
    if exc.kind == "multi":
        return "Cannot specify subsets of records from different series.\n"
    if exc.kind in ("subset", "query", "segment"):
        # jsoc_fetch quotes the subset without its segment list (the sets[] of
        # drms_record_parserecsetspec_plussegs).
        return f"Bad record-set subset specification '{exc.subset or ds}'.\n"
    return f"Bad record-set query '{ds}'.\n"


def _process_limit(process: str) -> int:
    head = process.split("|", 1)[0].strip()
    if head.startswith("n="):
        head = head[2:]
    try:
        return int(head or 0)
    except ValueError:
        return 0


def _digest(rs: RecordSet, limit: int, fmt: str | None, process: str, protocol: str, method: str) -> str:
    h = hashlib.md5(usedforsecurity=False)
    h.update(f"{rs.series.name}|{fmt}|{process}|{protocol}|{method}|{rs.segments}|".encode())
    batch = []
    for rec in rs.records(limit):
        batch.append(recnum(rs.series, rec))
        if len(batch) >= 8192:
            h.update(",".join(map(str, batch)).encode())
            batch = []
    h.update(",".join(map(str, batch)).encode())
    return h.hexdigest()
