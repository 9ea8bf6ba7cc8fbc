"""Fixtures of the emulator tests (the emulator itself comes from the pytest plugin)."""

from __future__ import annotations

import pytest

from prefect_jsoc.emulator import JsocEmulator

from .helpers import EMAIL


@pytest.fixture()
def emu(jsoc_emulator: JsocEmulator) -> JsocEmulator:
    """The shared emulator with a short export delay."""
    jsoc_emulator.configure(export_delay=0.2)
    return jsoc_emulator


@pytest.fixture()
def client(emu: JsocEmulator):  # type: ignore[no-untyped-def]
    """A drms client pointing at the emulator, with a registered e-mail."""
    import drms

    return drms.Client(emu.server_config(), email=EMAIL)
