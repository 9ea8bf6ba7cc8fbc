"""The aiohttp application: one handler per JSOC CGI, the file server and the control API.

Routes::

    GET|POST /cgi-bin/ajax/jsoc_info        op=series_struct | rs_summary | rs_list
    GET|POST /cgi-bin/ajax/jsoc_fetch       op=exp_request | exp_status | exp_repeat
    GET|POST /cgi-bin/ajax/show_series
    GET|POST /cgi-bin/ajax/showextseries
    GET|POST /cgi-bin/ajax/checkAddress.sh
    GET|HEAD /SUM{n}/D{sunum}/S{slot}/{file}  record files and export files (Range supported)
    GET      /_emulator/stats     POST /_emulator/reset[?exports=1]
    GET      /_emulator/log       (recent requests with their time and injected fault)
    GET|POST /_emulator/config    (POST a JSON object of knobs to change them)
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from .catalog import all_series, find_series
from .config import RUNTIME_KNOBS, EmulatorConfig
from .exports import ExportManager
from .faults import DownloadPlan, FaultInjector
from .fitsfiles import FileStore
from .records import record_from_sums
from .recordset import RecordSetError, parse_recordset
from .rslist import rs_list_chunks, rs_summary, series_struct
from .stats import Stats

__all__ = ["EmulatorState", "LOG_SIZE", "STATE", "create_app", "log_entry"]

_EMAIL_RE = re.compile(r"^\s*[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,6}\s*$")
_CHUNK = 1 << 18
LOG_SIZE = 10_000  # requests kept in the log
_BLOCK = 2880
_STALL_LIMIT = 300.0
_MAINTENANCE_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>JSOC</title></head>\n"
    "<body><h1>JSOC is down for maintenance</h1><p>Please try again later.</p></body></html>\n"
)
_NOT_FITS = b"<html><body>The requested file is temporarily unavailable.</body></html>\n"
_dumps = partial(json.dumps, ensure_ascii=True)


@dataclass
class EmulatorState:
    """Everything the handlers share; lives under :data:`STATE` in the application."""

    config: EmulatorConfig
    stats: Stats
    faults: FaultInjector
    exports: ExportManager
    store: FileStore
    log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOG_SIZE))

    def set_config(self, config: EmulatorConfig) -> None:
        """Swap the settings; a new seed restarts the fault generators."""
        if config.seed != self.config.seed:
            self.faults.reseed(config.seed)
        self.config = config


STATE = web.AppKey("state", EmulatorState)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


async def _params(request: web.Request) -> dict[str, str]:
    params = {k: v for k, v in request.query.items()}
    if request.method == "POST":
        form = await request.post()
        params.update({k: str(v) for k, v in form.items()})
    if "process=n" in params:  # drms sends the literal key "process=n"
        params.setdefault("process", "n=" + params.pop("process=n"))
    if "requestor" in params:
        params.setdefault("requester", params["requestor"])
    return params


def log_entry(kind: str, what: str, **fields: Any) -> dict[str, Any]:
    """A new log entry stamped with the current wall-clock time.

    ``t`` is the Unix time of arrival (a float, microseconds), ``at`` the same instant as
    ISO-8601 UTC with milliseconds (``2025-11-25T10:00:00.123Z``).
    """
    now = time.time()
    at = datetime.fromtimestamp(now, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return {"t": now, "at": at, "kind": kind, "what": what, "fault": None, **fields}


async def _cgi_faults(state: EmulatorState, name: str, op: str | None = None,
                      ) -> tuple[dict[str, Any], web.Response | None]:
    """Count and log the call, and inject latency, throttling and HTTP 500 as configured.

    Returns:
        The call's log entry (the handler adds what it learns) and the faulty reply to send
        instead of the real one, if any.
    """
    cfg = state.config
    state.stats.request(name)
    entry = log_entry("CGI", name) if op is None else log_entry("CGI", name, op=op)
    state.log.append(entry)
    if cfg.latency > 0:
        state.stats.fault("latency")
        await asyncio.sleep(cfg.latency)
    if state.faults.roll("throttle", cfg.throttle_rate):
        code = state.faults.choice("throttle_code", (503, 429))
        state.stats.fault("throttle")
        entry["fault"] = f"http_{code}"
        reason = "Service Unavailable" if code == 503 else "Too Many Requests"
        return entry, web.Response(status=code, text=f"{code} {reason}\n", headers={"Retry-After": "1"})
    if state.faults.roll("http_500", cfg.fail_rate):
        state.stats.fault("http_500")
        entry["fault"] = "http_500"
        return entry, web.Response(status=500, text="500 Internal Server Error\n")
    if state.faults.roll("bad_json", cfg.bad_json_rate):
        state.stats.fault("bad_json")
        entry["fault"] = "bad_json"
        return entry, web.Response(status=200, content_type="text/html", text=_MAINTENANCE_PAGE)
    return entry, None


# --- CGI handlers -----------------------------------------------------------------------------


async def jsoc_info(request: web.Request) -> web.StreamResponse:
    """``jsoc_info``: series_struct, rs_summary and rs_list."""
    state = request.app[STATE]
    params = await _params(request)
    op = params.get("op", "")
    _, fault = await _cgi_faults(state, f"jsoc_info:{op}", op)
    if fault is not None:
        return fault
    started = time.monotonic()
    ds = params.get("ds", "")
    if op == "series_struct":
        m = re.match(r"^\s*([\w.]+)", ds)
        series = find_series(m[1]) if m else None
        if series is None:
            return _json({"status": 1, "error": "series not found"})
        return _json(series_struct(series, state.config.file_size))
    if op not in ("rs_summary", "rs_list"):
        return _json({"status": 1, "error": f"jsoc_info: unknown op '{op}'"})
    if op == "rs_summary":  # jsoc_info counts without the segment list
        ds = re.sub(r"\{[^{}]*\}\s*$", "", ds)
    try:
        rs = parse_recordset(ds)
    except RecordSetError as exc:
        return _json({"status": 1, "error": _info_error(exc, op)})
    try:
        limit = int(params.get("n", "0") or 0)
    except ValueError:
        limit = 0
    if op == "rs_summary":
        return _json(await asyncio.to_thread(rs_summary, rs, limit, started))
    keys = _split(params.get("key", ""))
    segs = _split(params.get("seg", ""))
    links = _split(params.get("link", ""))
    chunks = rs_list_chunks(rs, keys, segs, links, params.get("R") == "1", limit, state.config.file_size, started)
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    while (text := await asyncio.to_thread(_gather, chunks)) is not None:
        await response.write(text.encode("ascii"))
    await response.write_eof()
    return response


def _gather(chunks: Any) -> str | None:
    """Pull about 256 kB of text from a chunk iterator (runs in a worker thread)."""
    parts, size = [], 0
    for part in chunks:
        parts.append(part)
        size += len(part)
        if size >= _CHUNK:
            break
    return "".join(parts) if parts else None


def _split(value: str) -> list[str]:
    return [v for v in re.split(r"[\s,]+", value) if v]


def _info_error(exc: RecordSetError, op: str) -> str:
    """The ``error`` text of ``jsoc_info`` for a record set it cannot open.

    Only a spec whose brackets do not even split (``hmi.m_45s[2014``) gets "invalid record-set
    specification". A malformed prime-key filter (``[a,,b]``, ``[a,]``, ``[t@90s]``) passes that
    first split and then fails in ``drms_open_records``/``drms_count_records``, which jsoc_info
    reports as a missing series (``jsoc_info.c``: `` jsoc_info: series not found.`` for rs_list,
    ``series not found`` for rs_summary). Misleading, but that is what JSOC answers.
    """
    if exc.kind in ("series", "subset"):
        return "series not found" if op == "rs_summary" else " jsoc_info: series not found."
    if exc.kind == "query":
        return "problem with database query"
    return str(exc)


async def jsoc_fetch(request: web.Request) -> web.Response:
    """``jsoc_fetch``: exp_request and exp_status."""
    state = request.app[STATE]
    params = await _params(request)
    op = params.get("op", "")
    entry, fault = await _cgi_faults(state, f"jsoc_fetch:{op}", op)
    if fault is not None:
        return fault
    note: dict[str, Any] = {}
    if op == "exp_request":
        ip = request.remote or "unknown"
        reply = await asyncio.to_thread(state.exports.request, params, ip, note)
    elif op == "exp_status":
        reply = await asyncio.to_thread(state.exports.status, params.get("requestid", ""), note)
    elif op == "exp_repeat":
        reply = {"status": 4, "error": "Re-Export requests temporarily disabled."}
    else:
        reply = {"status": 4, "error": f"jsoc_fetch: invalid operation '{op}'"}
    entry.update(status=int(reply["status"]), requestid=reply.get("requestid") or params.get("requestid") or None,
                 email=note.get("email"), email_digest=note.get("email_digest"),
                 completes_at=note.get("completes_at"), t_reply=time.time())
    if "outcome" in note:
        entry["outcome"] = note["outcome"]
    return _json(reply)


async def show_series(request: web.Request) -> web.Response:
    """``show_series``: names, prime keys and notes of the series matching ``filter``."""
    state = request.app[STATE]
    params = await _params(request)
    _, fault = await _cgi_faults(state, "show_series")
    if fault is not None:
        return fault
    try:
        selected = _filter_series(params.get("filter"))
    except re.error as exc:
        return _json({"status": 1, "errmsg": f"Invalid regular expression: {exc}"})
    names = [{"name": s.name, "primekeys": ", ".join(s.primekeys), "note": s.note} for s in selected]
    return _json({"status": 0, "names": names, "n": len(names)})


async def showextseries(request: web.Request) -> web.Response:
    """``showextseries``: the series list as the JSOC web pages get it."""
    state = request.app[STATE]
    params = await _params(request)
    _, fault = await _cgi_faults(state, "showextseries")
    if fault is not None:
        return fault
    if not params.get("dbhost"):
        return _json({"errMsg": "Missing required argument 'dbhost'.", "seriesList": []})
    try:
        selected = _filter_series(params.get("filter"))
    except re.error as exc:
        return _json({"errMsg": f"Invalid regular expression: {exc}", "seriesList": []})
    if params.get("info") in ("1", "true", "True"):
        listing: list[Any] = [{s.name: {"description": s.note}} for s in selected]
    else:
        listing = [s.name for s in selected]
    return _json({"errMsg": "", "seriesList": listing})


def _filter_series(pattern: str | None) -> list[Any]:
    series = list(all_series())
    if not pattern:
        return series
    negate = pattern.startswith("NOT ")
    rx = re.compile(pattern[4:] if negate else pattern, re.IGNORECASE)
    return [s for s in series if bool(rx.search(s.name)) != negate]


async def check_address(request: web.Request) -> web.Response:
    """``checkAddress.sh``: is this address registered for exports?"""
    state = request.app[STATE]
    params = await _params(request)
    _, fault = await _cgi_faults(state, "checkAddress.sh")
    if fault is not None:
        return fault
    if "address" not in params:
        return _json({"status": -2, "msg": "Missing required argument 'address'.", "user_id": None})
    address = unquote(params["address"])  # drms quotes the address before urlencoding it
    if not _EMAIL_RE.match(address):
        return _json({"status": -2, "msg": "Not a valid email address.", "user_id": None})
    if state.exports.is_registered(address):
        user_id = zlib.crc32(address.strip().lower().encode()) % 100_000 + 1
        return _json({"status": 2, "msg": "Email address is valid and registered.", "user_id": user_id})
    return _json({"status": 4, "msg": "email address has been neither validated nor registered", "user_id": -1})


# --- files ------------------------------------------------------------------------------------


async def sums_file(request: web.Request) -> web.StreamResponse:
    """Serve a record file or an export file, with ``Range`` and the download faults."""
    state = request.app[STATE]
    state.stats.request(f"file:{request.method}")
    state.log.append(log_entry(request.method, request.path_qs))
    path = await _resolve_file(state, request)
    if path is None:
        raise web.HTTPNotFound(text="404 Not Found\n")
    if request.method == "HEAD":
        return web.FileResponse(path)
    size = path.stat().st_size
    span = _parse_range(request.headers.get("Range"), size)
    if span == "invalid":
        raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    start, end = span if span else (0, size - 1)
    plan = state.faults.plan_download(state.config, end - start + 1)
    if plan.clean:
        return _CountingFileResponse(state, path, chunk_size=_CHUNK)
    state.stats.download_started()
    try:
        return await _send_with_faults(state, request, path, size, span, plan)
    finally:
        state.stats.download_finished()


class _CountingFileResponse(web.FileResponse):
    """A sendfile response that records bytes served and concurrent downloads."""

    def __init__(self, state: EmulatorState, path: Path, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self._state = state

    async def prepare(self, request: web.BaseRequest) -> Any:
        stats = self._state.stats
        stats.download_started()
        try:
            writer = await super().prepare(request)
            if request.method != "HEAD":
                stats.served(self.content_length or 0)
            return writer
        finally:
            stats.download_finished()


async def _resolve_file(state: EmulatorState, request: web.Request) -> Path | None:
    info = request.match_info
    part, sunum, idx, name = int(info["part"]), int(info["sunum"]), int(info["slot"]), info["name"]
    cfg = state.config
    export = state.exports.by_sunum(sunum)
    if export is not None:
        if idx != 0 or part != 1 + sunum % 99 or not state.exports.completed(export):
            return None
        files = await asyncio.to_thread(state.exports.files, export)
        if export.is_tar and name == export.tar_name:
            def build() -> Path:
                members = [(f.filename, _make(state, f.kind, f.series, f.rec, f.segment, cfg.file_size))
                           for f in files]
                return state.store.tar_file(export.request_id, members)

            return await asyncio.to_thread(build)
        if name == f"{export.request_id}.keywords.txt" and files and files[0].kind == "sums":
            return await asyncio.to_thread(state.store.text_file, export.request_id, name,
                                           lambda: state.exports.keywords_text(export))
        item = export.by_name.get(name)
        if item is None:
            return None
        return await asyncio.to_thread(_make, state, item.kind, item.series, item.rec, item.segment, cfg.file_size)
    found = record_from_sums(part, sunum, idx)
    if found is None:
        return None
    series, rec = found
    seg = series.segment_by_filename(name)
    if seg is None:
        return None
    return await asyncio.to_thread(_make, state, "sums", series, rec, seg, cfg.file_size)


def _make(state: EmulatorState, kind: str, series: Any, rec: Any, seg: Any, file_size: int) -> Path:
    if kind == "fits":
        return state.store.export_file(series, rec, seg, file_size)
    return state.store.sums_file(series, rec, seg, file_size)


def _parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """``(first, last)`` of a single ``bytes=`` range, None for none/ignored, ``invalid`` for 416."""
    if not header:
        return None
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if m is None or (not m[1] and not m[2]):
        return None  # multiple or malformed ranges: answer 200 with the whole file
    if not m[1]:
        n = int(m[2])
        return (max(0, size - n), size - 1) if n else "invalid"
    first = int(m[1])
    last = min(int(m[2]), size - 1) if m[2] else size - 1
    if first >= size or last < first:
        return "invalid"
    return (first, last)


def _not_fits(offset: int, n: int) -> bytes:
    """``n`` bytes of a repeated HTML error text, as if that text filled the file from byte 0."""
    period = len(_NOT_FITS)
    first = offset % period
    return (_NOT_FITS * ((first + n) // period + 1))[first:first + n]


async def _send_with_faults(state: EmulatorState, request: web.Request, path: Path, size: int,
                            span: tuple[int, int] | None, plan: DownloadPlan) -> web.StreamResponse:
    start, end = span if span else (0, size - 1)
    if plan.wrong_length == "short":  # announce and send one FITS block less than the file has
        state.stats.fault("wrong_length")
        end = start + max(1, end - start + 1 - _BLOCK) - 1
    length = end - start + 1
    response = web.StreamResponse(status=206 if span else 200)
    response.content_type = "application/octet-stream"
    if plan.wrong_length == "long":  # announce one block more than will be sent
        state.stats.fault("wrong_length")
        response.content_length = length + _BLOCK
    else:
        response.content_length = length
    response.headers["Accept-Ranges"] = "bytes"
    if span:
        response.headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    stop = plan.drop_at if plan.drop_at is not None else plan.truncate_at
    if plan.bandwidth:
        state.stats.fault("bandwidth")
    if plan.non_fits:
        state.stats.fault("non_fits")
    await response.prepare(request)
    sent, began = 0, time.monotonic()
    # With a bandwidth limit, write about a tenth of a second's worth at a time, so that even a
    # small file takes length / bandwidth seconds.
    step = 65536 if not plan.bandwidth else max(512, min(65536, int(plan.bandwidth / 10)))
    with open(path, "rb") as fh:
        fh.seek(start)
        while sent < length:
            n = min(step, length - sent)
            if stop is not None:
                n = min(n, stop - sent)
            if plan.stall_at is not None:
                n = min(n, plan.stall_at - sent)
            if n > 0:
                data = fh.read(n)
                if plan.non_fits:
                    data = _not_fits(start + sent, len(data))
                await response.write(data)
                sent += len(data)
                state.stats.served(len(data))
            if stop is not None and sent >= stop:
                transport = request.transport
                if plan.drop_at is not None:
                    state.stats.fault("drop")
                    if transport is not None:
                        transport.abort()
                else:
                    state.stats.fault("truncate")
                    if transport is not None:
                        transport.close()
                raise asyncio.CancelledError
            if plan.stall_at is not None and sent >= plan.stall_at:
                await _stall(state, request)
            if plan.bandwidth and sent < length:
                ahead = sent / plan.bandwidth - (time.monotonic() - began)
                if ahead > 0:
                    await asyncio.sleep(ahead)
    if plan.wrong_length == "long":
        transport = request.transport
        if transport is not None:
            transport.close()
        raise asyncio.CancelledError
    await response.write_eof()
    return response


async def _stall(state: EmulatorState, request: web.Request) -> None:
    """Send nothing more and keep the connection open until the client closes it (or 300 s)."""
    state.stats.fault("stall")
    waited = 0.0
    while request.transport is not None and not request.transport.is_closing() and waited < _STALL_LIMIT:
        await asyncio.sleep(0.1)
        waited += 0.1
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError


# --- control API ------------------------------------------------------------------------------


async def get_stats(request: web.Request) -> web.Response:
    """``GET /_emulator/stats``."""
    state = request.app[STATE]
    return _json(state.stats.snapshot(state.exports.pending_now()))


async def get_log(request: web.Request) -> web.Response:
    """``GET /_emulator/log``: recent requests, oldest first (the entries are described in
    ``JsocEmulator.log``)."""
    state = request.app[STATE]
    return _json(list(state.log))


async def post_reset(request: web.Request) -> web.Response:
    """``POST /_emulator/reset``: zero the stats and the log (and forget exports with ``?exports=1``)."""
    state = request.app[STATE]
    state.stats.reset()
    state.log.clear()
    if request.query.get("exports") in ("1", "true"):
        state.exports.forget()
    return _json(state.stats.snapshot(state.exports.pending_now()))


async def config_api(request: web.Request) -> web.Response:
    """``GET /_emulator/config`` shows the knobs; ``POST`` a JSON object to change some."""
    state = request.app[STATE]
    if request.method == "POST":
        try:
            changes = await request.json()
            bad = set(changes) - set(RUNTIME_KNOBS)
            if bad:
                raise TypeError(f"Unknown or fixed setting(s): {', '.join(sorted(bad))}.")
            if "registered_emails" in changes:
                changes["registered_emails"] = tuple(changes["registered_emails"])
            if "registered_domains" in changes:
                changes["registered_domains"] = tuple(changes["registered_domains"])
            state.set_config(state.config.replace(**changes))
        except (TypeError, ValueError) as exc:
            return _json({"error": str(exc)}, status=400)
    return _json(state.config.knobs())


async def index(request: web.Request) -> web.Response:
    """A one-line description at ``/``."""
    return web.Response(text="JSOC emulator (prefect_jsoc.emulator): CGIs under /cgi-bin/ajax/\n")


def create_app(state: EmulatorState) -> web.Application:
    """Build the application serving ``state``."""
    app = web.Application(client_max_size=8 * 1024 * 1024)
    app[STATE] = state
    cgi = "/cgi-bin/ajax"
    routes = [
        ("jsoc_info", jsoc_info), ("jsoc_fetch", jsoc_fetch), ("show_series", show_series),
        ("showextseries", showextseries), ("checkAddress.sh", check_address),
    ]
    for name, handler in routes:
        app.router.add_route("GET", f"{cgi}/{name}", handler)
        app.router.add_route("POST", f"{cgi}/{name}", handler)
    app.router.add_get(r"/SUM{part:\d+}/D{sunum:\d+}/S{slot:\d+}/{name}", sums_file)
    app.router.add_get("/_emulator/stats", get_stats)
    app.router.add_get("/_emulator/log", get_log)
    app.router.add_post("/_emulator/reset", post_reset)
    app.router.add_route("GET", "/_emulator/config", config_api)
    app.router.add_route("POST", "/_emulator/config", config_api)
    app.router.add_get("/", index)
    return app
