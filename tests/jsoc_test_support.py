"""Plain helpers shared by the test packages (the fixtures live in ``conftest.py``)."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from prefect_jsoc import JsocQuery
    from prefect_jsoc.emulator import JsocEmulator

T = TypeVar("T")

#: The notify address of the tests (every address at example.org is registered at the emulator).
EMAIL = "tester@example.org"

#: Fast settings for tests: short backoff, bounded timeouts.
FAST: dict[str, Any] = dict(retry_backoff=0.05, request_timeout=10.0, export_timeout=120.0)


def cgi(emu: JsocEmulator, name: str, **params: Any) -> Any:
    """GET one CGI of the emulator (``"jsoc_info"``, ``"jsoc_fetch"``, ...) and decode its JSON."""
    url = f"{emu.url}cgi-bin/ajax/{name}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read().decode("latin1"))


def requests(emu: JsocEmulator, name: str) -> int:
    """How many requests of one kind the emulator served (``"jsoc_fetch:exp_request"``, ...)."""
    return int(emu.stats()["requests"].get(name, 0))


def hmi_query(**overrides: object) -> JsocQuery:
    """Three hmi.M_45s magnetogram records (00:00:45, 00:01:30, 00:02:15 TAI slots)."""
    from prefect_jsoc import JsocQuery

    fields: dict[str, Any] = dict(
        series="hmi.M_45s", start="2014-01-01T00:00:00", end="2014-01-01T00:02:00", segments=["magnetogram"]
    )
    fields.update(overrides)
    return JsocQuery(**fields)


def wait_until(
    condition: Callable[[], T], timeout: float = 10.0, what: str = "the condition", interval: float = 0.05
) -> T:
    """Poll ``condition`` until it returns something truthy and return that; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
