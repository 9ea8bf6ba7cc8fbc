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

from .config import EmulatorConfig
from .server import JsocEmulator

__all__ = ["EmulatorConfig", "JsocEmulator"]
