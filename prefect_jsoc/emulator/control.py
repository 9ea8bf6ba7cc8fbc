"""The control API under ``/_emulator/``: stats, the request log, reset and the runtime knobs."""

from __future__ import annotations

from aiohttp import web

from .cgi_common import json_reply
from .config import RUNTIME_KNOBS
from .state import STATE

__all__ = ["config_api", "get_log", "get_stats", "post_reset"]


async def get_stats(request: web.Request) -> web.Response:
    """``GET /_emulator/stats``."""
    state = request.app[STATE]
    return json_reply(state.stats.snapshot(state.exports.pending_now()))


async def get_log(request: web.Request) -> web.Response:
    """``GET /_emulator/log``: recent requests, oldest first (the entries are described in
    ``JsocEmulator.log``)."""
    state = request.app[STATE]
    return json_reply(list(state.log))


async def post_reset(request: web.Request) -> web.Response:
    """``POST /_emulator/reset``: zero the stats and the log (and forget exports with ``?exports=1``)."""
    state = request.app[STATE]
    state.stats.reset()
    state.log.clear()
    if request.query.get("exports") in ("1", "true"):
        state.exports.forget()
    return json_reply(state.stats.snapshot(state.exports.pending_now()))


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
            return json_reply({"error": str(exc)}, status=400)
    return json_reply(state.config.knobs())
