"""Fixtures of the emulator tests: a shorter export delay, and a drms client (``emu`` is in the top conftest)."""

from __future__ import annotations

from typing import Any

import pytest

from prefect_jsoc.emulator import JsocEmulator

from .helpers import EMAIL


@pytest.fixture()
def emu_config() -> dict[str, Any]:
    """The emulator tests wait for exports often: complete them after 0.2 s."""
    return {"export_delay": 0.2}


@pytest.fixture()
def client(emu: JsocEmulator):  # type: ignore[no-untyped-def]
    """A drms client pointing at the emulator, with a registered e-mail."""
    import drms

    return drms.Client(emu.server_config(), email=EMAIL)
