"""The file server: record and export files under ``/SUM{n}/D{sunum}/S{slot}/``, with ``Range`` and download faults."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from .faults import DownloadPlan
from .records import record_from_sums
from .state import STATE, EmulatorState, log_entry

__all__ = ["sums_file"]

_CHUNK = 1 << 18  # bytes per sendfile chunk
_BLOCK = 2880  # a FITS block: the unit of the wrong_length fault
_STALL_LIMIT = 300.0
_NOT_FITS = b"<html><body>The requested file is temporarily unavailable.</body></html>\n"


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
                members = [(f.filename, _make(state, f.kind, f.series, f.rec, f.segment, cfg.file_size)) for f in files]
                return state.store.tar_file(export.request_id, members)

            return await asyncio.to_thread(build)
        if name == f"{export.request_id}.keywords.txt" and files and files[0].kind == "sums":
            return await asyncio.to_thread(
                state.store.text_file, export.request_id, name, lambda: state.exports.keywords_text(export)
            )
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
    return (_NOT_FITS * ((first + n) // period + 1))[first : first + n]


async def _send_with_faults(
    state: EmulatorState, request: web.Request, path: Path, size: int, span: tuple[int, int] | None, plan: DownloadPlan
) -> web.StreamResponse:
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
