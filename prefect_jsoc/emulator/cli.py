"""The ``prefect-jsoc emulator`` command: serve the JSOC emulator in the foreground.

It prints the base URL as the first line on stdout once the port is listening (scripts and
tests read it), serves until SIGINT or SIGTERM, then stops and exits 0. Errors print one line
``error: ...`` on stderr and exit 2 (bad option) or 1 (the port cannot be bound).
"""

from __future__ import annotations

import errno
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from .config import EmulatorConfig
from .server import JsocEmulator

__all__ = ["emulator_command", "main"]

EXIT_FAILED = 1
EXIT_INVALID = 2


def _fail(message: str, code: int) -> None:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def _rate(help_text: str) -> object:
    return typer.Option(help=help_text, metavar="RATE", show_default=False)


def emulator_command(
    host: Annotated[
        str, typer.Option(help="Interface to bind (default 127.0.0.1).", metavar="HOST", show_default=False)
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="TCP port; 0 picks a free one (default 8431).", metavar="PORT", show_default=False)
    ] = 8431,
    data_dir: Annotated[
        Path | None, typer.Option(help="Cache for generated files (default: a temporary directory).", metavar="DIR")
    ] = None,
    export_delay: Annotated[
        float,
        typer.Option(
            help="Seconds until a staged export completes (default 3).", metavar="SECONDS", show_default=False
        ),
    ] = 3.0,
    latency: Annotated[
        float, typer.Option(help="Seconds added to every CGI call.", metavar="SECONDS", show_default=False)
    ] = 0.0,
    fail_rate: Annotated[float, _rate("Fraction of CGI calls answered with HTTP 500.")] = 0.0,
    truncate_rate: Annotated[float, _rate("Fraction of downloads cut short.")] = 0.0,
    drop_rate: Annotated[float, _rate("Fraction of downloads whose connection is reset.")] = 0.0,
    status4_rate: Annotated[float, _rate("Fraction of export requests failing with a transient status 4.")] = 0.0,
    throttle_rate: Annotated[float, _rate("Fraction of CGI calls answered 503/429 with Retry-After.")] = 0.0,
    bandwidth: Annotated[float | None, typer.Option(help="Bytes per second per download.", metavar="BYTES")] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Answer every export request with status 25.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the fault injection.", metavar="N", show_default=False)] = 0,
    max_pending_per_email: Annotated[
        int,
        typer.Option(help="Pending exports per e-mail before status 7 (default 1).", metavar="N", show_default=False),
    ] = 1,
    file_size: Annotated[
        int,
        typer.Option(
            help="Approximate bytes of each generated FITS file (default 65536).", metavar="BYTES", show_default=False
        ),
    ] = 65_536,
    bad_json_rate: Annotated[float, _rate("Fraction of CGI calls answered with an HTML page, not JSON.")] = 0.0,
    non_fits_rate: Annotated[float, _rate("Fraction of downloads whose bytes are not FITS (right length).")] = 0.0,
    stall_downloads: Annotated[
        float, _rate("Fraction of downloads that stop sending but keep the connection open.")
    ] = 0.0,
    hostile_filenames: Annotated[
        str | None,
        typer.Option(help="Export file names that escape the directory: dotdot, absolute or control.", metavar="MODE"),
    ] = None,
    wrong_length: Annotated[
        str | None, typer.Option(help="File sizes that lie: short, long or index.", metavar="MODE")
    ] = None,
    registered_email: Annotated[
        list[str] | None,
        typer.Option(
            help="Extra registered address (repeatable); all of example.com and example.org are registered.",
            metavar="EMAIL",
        ),
    ] = None,
) -> None:
    """Serve a JSOC emulator until interrupted (Ctrl-C or SIGTERM)."""
    try:
        config = EmulatorConfig(
            host=host,
            port=port,
            data_dir=data_dir,
            export_delay=export_delay,
            latency=latency,
            fail_rate=fail_rate,
            truncate_rate=truncate_rate,
            drop_rate=drop_rate,
            status4_rate=status4_rate,
            throttle_rate=throttle_rate,
            bandwidth=bandwidth,
            offline=offline,
            seed=seed,
            max_pending_per_email=max_pending_per_email,
            file_size=file_size,
            registered_emails=tuple(registered_email or ()),
            bad_json_rate=bad_json_rate,
            non_fits_rate=non_fits_rate,
            stall_downloads=stall_downloads,
            hostile_filenames=hostile_filenames,
            wrong_length=wrong_length,
        )
    except ValueError as exc:
        _fail(str(exc), EXIT_INVALID)
    emulator = JsocEmulator(config)
    try:
        emulator.start()
    except OSError as exc:
        emulator.close()
        if exc.errno == errno.EADDRINUSE:
            _fail(
                f"port {port} on {host} is already in use; choose another with --port N (--port 0 picks a free one).",
                EXIT_FAILED,
            )
        reason = exc.strerror or str(exc)
        _fail(f"cannot listen on {host}:{port}: {reason}; choose another address with --host or --port.", EXIT_FAILED)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(emulator.url, flush=True)  # the first stdout line: what scripts wait for
        typer.echo(
            f"JSOC emulator listening on {emulator.url} (data in {emulator.data_dir}); Ctrl-C to stop.", err=True
        )
        while not stop.wait(0.2):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        emulator.close()
    typer.echo("JSOC emulator stopped.", err=True)
    sys.stdout.flush()


def main() -> None:
    """Entry point of ``python -m prefect_jsoc.emulator``."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command(name="emulator")(emulator_command)
    app()
