"""Small HTTP helpers shared by the emulator tests (the CGI and polling helpers are in ``jsoc_test_support``)."""

from __future__ import annotations

import urllib.error
import urllib.request

EMAIL = "user@example.com"


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET ``url``; returns status, headers and body (HTTP errors are returned, not raised)."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()
