"""Fixtures shared by the core's tests (imported by the test modules, not a conftest).

``emu`` uses the emulator plugin's ``jsoc_emulator`` fixture when it exists and otherwise starts a
fresh emulator for the test, so these tests run while the plugin is still being written.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from prefect_jsoc.emulator import JsocEmulator
from prefect_jsoc.settings import JsocSettings

EMAIL = "tester@example.org"

#: Fast settings for tests: short polls and backoff, modest timeouts.
FAST = dict(retry_backoff=0.05, request_timeout=10.0, export_timeout=60.0)


@pytest.fixture
def emu(request: pytest.FixtureRequest) -> Iterator[JsocEmulator]:
    """A running emulator with faults off and a short export delay."""
    try:
        emulator = request.getfixturevalue("jsoc_emulator")
    except pytest.FixtureLookupError:
        with JsocEmulator(export_delay=0.5, seed=1) as emulator:
            yield emulator
        return
    emulator.configure(export_delay=0.5)
    emulator.reset()
    yield emulator


@pytest.fixture
def settings(emu: JsocEmulator, isolated_state_dir: Path) -> JsocSettings:
    """Settings pointing at the emulator, with a registered e-mail and a per-test state dir."""
    return JsocSettings(server_url=emu.url, email=EMAIL, **FAST)


def requests(emu: JsocEmulator, name: str) -> int:
    """How many requests of one kind the emulator served (``"jsoc_fetch:exp_request"``, ...)."""
    return int(emu.stats()["requests"].get(name, 0))


def hmi_query(**overrides: object):
    """Three hmi.M_45s magnetogram records (00:00:45, 00:01:30, 00:02:15 TAI slots)."""
    from prefect_jsoc import JsocQuery

    fields: dict[str, object] = dict(
        series="hmi.M_45s", start="2014-01-01T00:00:00", end="2014-01-01T00:02:00", segments=["magnetogram"]
    )
    fields.update(overrides)
    return JsocQuery(**fields)
