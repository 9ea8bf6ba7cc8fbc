"""The ``prefect-jsoc emulator`` command: serve the JSOC emulator in the foreground."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Optional

import typer

from .config import EmulatorConfig
from .server import JsocEmulator

__all__ = ["emulator_command", "main"]


def emulator_command(
    host: Annotated[str, typer.Option(help="Interface to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port; 0 picks a free one.")] = 8431,
    data_dir: Annotated[
        Optional[Path], typer.Option(help="Cache for generated files (default: a temporary directory).")
    ] = None,
    export_delay: Annotated[float, typer.Option(help="Seconds until a staged export completes.")] = 3.0,
    latency: Annotated[float, typer.Option(help="Seconds added to every CGI call.")] = 0.0,
    fail_rate: Annotated[float, typer.Option(help="Fraction of CGI calls answered with HTTP 500.")] = 0.0,
    truncate_rate: Annotated[float, typer.Option(help="Fraction of downloads cut short.")] = 0.0,
    drop_rate: Annotated[float, typer.Option(help="Fraction of downloads whose connection is reset.")] = 0.0,
    status4_rate: Annotated[
        float, typer.Option(help="Fraction of export requests failing with a transient status 4.")
    ] = 0.0,
    throttle_rate: Annotated[
        float, typer.Option(help="Fraction of CGI calls answered 503/429 with Retry-After.")
    ] = 0.0,
    bandwidth: Annotated[Optional[float], typer.Option(help="Bytes per second per download.")] = None,
    offline: Annotated[bool, typer.Option(help="Answer every export request with status 25.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the fault injection.")] = 0,
    max_pending_per_email: Annotated[int, typer.Option(help="Pending exports per e-mail before status 7.")] = 1,
    file_size: Annotated[int, typer.Option(help="Approximate bytes of each generated FITS file.")] = 65_536,
    bad_json_rate: Annotated[
        float, typer.Option(help="Fraction of CGI calls answered with an HTML page instead of JSON.")
    ] = 0.0,
    non_fits_rate: Annotated[
        float, typer.Option(help="Fraction of downloads whose bytes are not FITS (right length).")
    ] = 0.0,
    stall_downloads: Annotated[
        float, typer.Option(help="Fraction of downloads that stop sending but keep the connection open.")
    ] = 0.0,
    hostile_filenames: Annotated[
        Optional[str], typer.Option(help="Export file names that escape the directory: dotdot, absolute or control.")
    ] = None,
    wrong_length: Annotated[
        Optional[str], typer.Option(help="File sizes that lie: short, long or index.")
    ] = None,
    registered_email: Annotated[
        Optional[list[str]],
        typer.Option(help="Extra registered address (repeatable); every address at example.com and "
                     "example.org is registered."),
    ] = None,
) -> None:
    """Serve a JSOC emulator until interrupted (Ctrl-C or SIGTERM)."""
    try:
        config = EmulatorConfig(
            host=host, port=port, data_dir=data_dir, export_delay=export_delay, latency=latency,
            fail_rate=fail_rate, truncate_rate=truncate_rate, drop_rate=drop_rate, status4_rate=status4_rate,
            throttle_rate=throttle_rate, bandwidth=bandwidth, offline=offline, seed=seed,
            max_pending_per_email=max_pending_per_email, file_size=file_size,
            registered_emails=tuple(registered_email or ()), bad_json_rate=bad_json_rate,
            non_fits_rate=non_fits_rate, stall_downloads=stall_downloads, hostile_filenames=hostile_filenames,
            wrong_length=wrong_length,
        )
    except ValueError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from exc
    emulator = JsocEmulator(config)
    try:
        emulator.start()
    except OSError as exc:
        typer.echo(f"Error: cannot listen on {host}:{port}: {exc}", err=True)
        raise typer.Exit(1) from exc
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    typer.echo(emulator.url)
    typer.echo(f"JSOC emulator listening on {emulator.url} (data in {emulator.data_dir}); Ctrl-C to stop.",
               err=True)
    sys.stdout.flush()
    try:
        while not stop.wait(0.2):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        emulator.close()
    typer.echo("JSOC emulator stopped.", err=True)


def main() -> None:
    """Entry point of ``python -m prefect_jsoc.emulator``."""
    app = typer.Typer(add_completion=False)
    app.command(name="emulator")(emulator_command)
    app()
