"""What every CGI handler does first: read its parameters, count and log the call, inject CGI faults."""

from __future__ import annotations

import asyncio
import json
from functools import partial
from typing import Any

from aiohttp import web

from .state import STATE, EmulatorState, log_entry

__all__ = ["begin_cgi", "json_reply", "request_params"]

_MAINTENANCE_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>JSOC</title></head>\n"
    "<body><h1>JSOC is down for maintenance</h1><p>Please try again later.</p></body></html>\n"
)
_dumps = partial(json.dumps, ensure_ascii=True)


def json_reply(data: Any, status: int = 200) -> web.Response:
    """A JSON reply with non-ASCII characters escaped, as JSOC's CGIs send them."""
    return web.json_response(data, status=status, dumps=_dumps)


async def request_params(request: web.Request) -> dict[str, str]:
    """The query and form parameters, with drms' and sunpy's spellings normalised."""
    params = {k: v for k, v in request.query.items()}
    if request.method == "POST":
        form = await request.post()
        params.update({k: str(v) for k, v in form.items()})
    if "process=n" in params:  # drms sends the literal key "process=n"
        params.setdefault("process", "n=" + params.pop("process=n"))
    if "requestor" in params:
        params.setdefault("requester", params["requestor"])
    return params


async def _cgi_faults(
    state: EmulatorState,
    name: str,
    op: str | None = None,
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


async def begin_cgi(
    request: web.Request, cgi: str, by_op: bool = False
) -> tuple[EmulatorState, dict[str, str], dict[str, Any], web.Response | None]:
    """Start a CGI call: read its parameters, then count, log and perhaps fault it.

    Args:
        request: The request.
        cgi: The CGI's name in the stats and the log.
        by_op: Count and log it as ``cgi:op`` (``jsoc_info`` and ``jsoc_fetch``).

    Returns:
        The emulator's state, the parameters, the call's log entry (the handler adds what it learns)
        and the faulty reply to send instead of the real one, if any.
    """
    state = request.app[STATE]
    params = await request_params(request)
    if by_op:
        op = params.get("op", "")
        entry, fault = await _cgi_faults(state, f"{cgi}:{op}", op)
    else:
        entry, fault = await _cgi_faults(state, cgi)
    return state, params, entry, fault
