"""The Typer application of ``prefect-jsoc`` and its console-script entry point."""

from __future__ import annotations

import functools
import os
import signal
import sys
from typing import Any

import typer
import typer.core

__all__ = ["app", "command", "main"]


def _plain_help_types(params: list[Any]) -> None:
    """Help without Python type names: typer >= 0.20 prints ``<bool>`` and ``<list[str]>`` otherwise.

    Flags and arguments show no type, options their metavar or a click-style name (``TEXT``, ``INTEGER``).
    """
    plain_names = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "Path": "PATH"}
    for param in params:
        if not hasattr(param, "display_type_rich"):  # older typer prints click's names already
            continue
        if isinstance(param, typer.core.TyperArgument) or getattr(param, "is_flag", False):
            label = None
        elif param.metavar is not None:
            continue
        else:
            bare = str(param.bare_type()).removeprefix("list[").removesuffix("]")
            label = plain_names.get(bare, bare.upper())
        param.display_type_rich = lambda ctx, label=label: label


class _JsocCommand(typer.core.TyperCommand):
    def format_help(self, ctx: Any, formatter: Any) -> None:
        _plain_help_types(self.get_params(ctx))
        super().format_help(ctx, formatter)


class _JsocGroup(typer.core.TyperGroup):
    def format_help(self, ctx: Any, formatter: Any) -> None:
        _plain_help_types(self.get_params(ctx))
        super().format_help(ctx, formatter)


app = typer.Typer(
    name="prefect-jsoc",
    help="Fetch JSOC (SDO/HMI/AIA) data with restart-safe Prefect flows, or run a local JSOC emulator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_JsocGroup,
)
command = functools.partial(app.command, cls=_JsocCommand)


def main() -> None:
    """Console-script entry point."""
    # For the processes this command starts (its Prefect server reads them at start-up).
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    try:
        app()
    except SystemExit as done:
        if done.code in (128 + signal.SIGINT, 128 + signal.SIGTERM):
            # Interrupted: the run and the server are torn down. Do not wait at interpreter exit for
            # worker threads that are still finishing a transfer (their files stay under temporary names).
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(done.code)
        raise
