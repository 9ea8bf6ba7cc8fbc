"""The CGIs that describe series and records: ``jsoc_info``, ``show_series`` and ``showextseries``."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from aiohttp import web

from .catalog import all_series, find_series
from .cgi_common import begin_cgi, json_reply
from .recordset import RecordSetError, parse_recordset
from .rslist import rs_list_chunks, rs_summary, series_struct

__all__ = ["jsoc_info", "show_series", "showextseries"]

_CHUNK = 1 << 18  # bytes of an rs_list reply gathered per write


async def jsoc_info(request: web.Request) -> web.StreamResponse:
    """``jsoc_info``: series_struct, rs_summary and rs_list."""
    state, params, _, fault = await begin_cgi(request, "jsoc_info", by_op=True)
    if fault is not None:
        return fault
    op = params.get("op", "")
    started = time.monotonic()
    ds = params.get("ds", "")
    if op == "series_struct":
        m = re.match(r"^\s*([\w.]+)", ds)
        series = find_series(m[1]) if m else None
        if series is None:
            return json_reply({"status": 1, "error": "series not found"})
        return json_reply(series_struct(series, state.config.file_size))
    if op not in ("rs_summary", "rs_list"):
        return json_reply({"status": 1, "error": f"jsoc_info: unknown op '{op}'"})
    if op == "rs_summary":  # jsoc_info counts without the segment list
        ds = re.sub(r"\{[^{}]*\}\s*$", "", ds)
    try:
        rs = parse_recordset(ds)
    except RecordSetError as exc:
        return json_reply({"status": 1, "error": _info_error(exc, op)})
    try:
        limit = int(params.get("n", "0") or 0)
    except ValueError:
        limit = 0
    if op == "rs_summary":
        return json_reply(await asyncio.to_thread(rs_summary, rs, limit, started))
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


async def show_series(request: web.Request) -> web.Response:
    """``show_series``: names, prime keys and notes of the series matching ``filter``."""
    state, params, _, fault = await begin_cgi(request, "show_series")
    if fault is not None:
        return fault
    try:
        selected = _filter_series(params.get("filter"))
    except re.error as exc:
        return json_reply({"status": 1, "errmsg": f"Invalid regular expression: {exc}"})
    names = [{"name": s.name, "primekeys": ", ".join(s.primekeys), "note": s.note} for s in selected]
    return json_reply({"status": 0, "names": names, "n": len(names)})


async def showextseries(request: web.Request) -> web.Response:
    """``showextseries``: the series list as the JSOC web pages get it."""
    state, params, _, fault = await begin_cgi(request, "showextseries")
    if fault is not None:
        return fault
    if not params.get("dbhost"):
        return json_reply({"errMsg": "Missing required argument 'dbhost'.", "seriesList": []})
    try:
        selected = _filter_series(params.get("filter"))
    except re.error as exc:
        return json_reply({"errMsg": f"Invalid regular expression: {exc}", "seriesList": []})
    if params.get("info") in ("1", "true", "True"):
        listing: list[Any] = [{s.name: {"description": s.note}} for s in selected]
    else:
        listing = [s.name for s in selected]
    return json_reply({"errMsg": "", "seriesList": listing})


def _filter_series(pattern: str | None) -> list[Any]:
    series = list(all_series())
    if not pattern:
        return series
    negate = pattern.startswith("NOT ")
    rx = re.compile(pattern[4:] if negate else pattern, re.IGNORECASE)
    return [s for s in series if bool(rx.search(s.name)) != negate]
