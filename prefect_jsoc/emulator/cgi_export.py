"""The CGIs of exports: ``jsoc_fetch`` (exp_request, exp_status, exp_repeat) and ``checkAddress.sh``."""

from __future__ import annotations

import asyncio
import re
import time
import zlib
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from .cgi_common import begin_cgi, json_reply

__all__ = ["check_address", "jsoc_fetch"]

_EMAIL_RE = re.compile(r"^\s*[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,6}\s*$")


async def jsoc_fetch(request: web.Request) -> web.Response:
    """``jsoc_fetch``: exp_request and exp_status."""
    state, params, entry, fault = await begin_cgi(request, "jsoc_fetch", by_op=True)
    if fault is not None:
        return fault
    op = params.get("op", "")
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
    entry.update(
        status=int(reply["status"]),
        requestid=reply.get("requestid") or params.get("requestid") or None,
        email=note.get("email"),
        email_digest=note.get("email_digest"),
        completes_at=note.get("completes_at"),
        t_reply=time.time(),
    )
    if "outcome" in note:
        entry["outcome"] = note["outcome"]
    return json_reply(reply)


async def check_address(request: web.Request) -> web.Response:
    """``checkAddress.sh``: is this address registered for exports?"""
    state, params, _, fault = await begin_cgi(request, "checkAddress.sh")
    if fault is not None:
        return fault
    if "address" not in params:
        return json_reply({"status": -2, "msg": "Missing required argument 'address'.", "user_id": None})
    address = unquote(params["address"])  # drms quotes the address before urlencoding it
    if not _EMAIL_RE.match(address):
        return json_reply({"status": -2, "msg": "Not a valid email address.", "user_id": None})
    if state.exports.is_registered(address):
        user_id = zlib.crc32(address.strip().lower().encode()) % 100_000 + 1
        return json_reply({"status": 2, "msg": "Email address is valid and registered.", "user_id": user_id})
    return json_reply({"status": 4, "msg": "email address has been neither validated nor registered", "user_id": -1})
