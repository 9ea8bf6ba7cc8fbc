"""A loopback emulator of JSOC's CGI protocol, for testing code that uses drms, sunpy or parfive.

It imports nothing from the rest of ``prefect_jsoc``: it is a separate product that only shares
the distribution.

Examples:
    ```python
    from prefect_jsoc.emulator import JsocEmulator

    with JsocEmulator(export_delay=1.0) as emu:
        with emu.patch_drms_jsoc():
            ...  # sunpy's JSOCClient and drms.Client() now talk to the emulator
    ```
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import EmulatorConfig

if TYPE_CHECKING:
    from .server import JsocEmulator

__all__ = ["EmulatorConfig", "JsocEmulator"]


def __getattr__(name: str) -> Any:
    # The server pulls in aiohttp, numpy and astropy; load it only when asked for, so that the
    # pytest plugin costs nothing in sessions that never use the emulator.
    if name == "JsocEmulator":
        from .server import JsocEmulator

        return JsocEmulator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
