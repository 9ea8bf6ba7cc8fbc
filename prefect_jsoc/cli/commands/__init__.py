"""The commands of ``prefect-jsoc``, one module each; importing this package adds them to the app.

Typer lists commands in the order they were added, so the modules load in help order: ``series`` and
``search``, ``fetch``, ``demo``, then the emulator's own command.
"""

from __future__ import annotations

import importlib

from prefect_jsoc.cli.app import command

for _module in ("search", "fetch", "demo"):
    importlib.import_module(f"{__name__}.{_module}")


def _mount_emulator_command() -> None:
    from prefect_jsoc.emulator.cli import emulator_command

    command("emulator", help="Run the JSOC emulator on loopback until interrupted.")(emulator_command)


_mount_emulator_command()
