"""``prefect-jsoc demo``: a fetch through Prefect against the bundled JSOC emulator."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from prefect_jsoc.cli.app import command
from prefect_jsoc.cli.context import command_context
from prefect_jsoc.cli.options import DebugOpt, VerboseOpt
from prefect_jsoc.cli.output import fail_on_failed_blocks, progress_bar, report_fetch


@command()
def demo(
    path: Annotated[str, typer.Option(metavar="PATH", help="Where to put the demo files.")] = "data/demo",
    export_delay: Annotated[
        float, typer.Option(metavar="SECONDS", help="Seconds the emulator takes to stage an export.")
    ] = 2.0,
    debug: DebugOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Start the bundled JSOC emulator, fetch a 2-series x 2-interval OR query through Prefect, stop."""
    with command_context(debug, verbose, prefect_api=True):
        from prefect_jsoc.emulator import JsocEmulator

        with (
            JsocEmulator(export_delay=export_delay) as emu,
            _temporary_env(
                PREFECT_JSOC_SERVER_URL=emu.url,
                PREFECT_JSOC_EMAIL=os.environ.get("PREFECT_JSOC_EMAIL", "demo@example.com"),
            ),
        ):
            typer.echo(f"JSOC emulator listening on {emu.url}")
            from prefect_jsoc.flows import jsoc_fetch
            from prefect_jsoc.query import or_queries

            intervals = [("2014-01-01T00:00:00", "2014-01-01T00:02:00"), ("2014-01-01T06:00:00", "2014-01-01T06:02:00")]
            queries = or_queries(series=["hmi.m_45s"], intervals=intervals, segments=["magnetogram"]) + or_queries(
                series=["aia.lev1_euv_12s"], intervals=intervals, wavelength=171, segments=["image"]
            )
            typer.echo(f"Fetching {len(queries)} blocks through Prefect into {path} ...")
            with progress_bar(True, "Fetching"):
                result = jsoc_fetch(queries, path=path, fail_on_error=False)
            report_fetch(result)
            stats = emu.stats()
            typer.echo(
                f"Emulator saw {stats['exports_submitted']} export(s) submitted, "
                f"{stats['bytes_served'] / 1e6:.1f} MB served, at most {stats['max_pending_per_email']} pending "
                "export(s) per e-mail."
            )
        typer.echo("Emulator stopped.")
        fail_on_failed_blocks(result)


@contextmanager
def _temporary_env(**values: str) -> Iterator[None]:
    """Set environment variables for the duration of a block, then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
