"""The ``prefect-jsoc`` command: series, search, fetch, emulator, demo.

Each command is a thin wrapper over the library: ``search`` and ``fetch`` run the Prefect flows, so
what the terminal shows is what the Prefect UI shows. Errors print one line and exit non-zero.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Annotated, Any, Iterator, Optional

import typer

__all__ = ["app", "main"]

app = typer.Typer(
    name="prefect-jsoc",
    help="Fetch JSOC (SDO/HMI/AIA) data with restart-safe Prefect flows, or run a local JSOC emulator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_INVALID = 2
EXIT_FAILED = 1

_OPS = ("<=", ">=", "!=", "=", "<", ">")


def _fail(message: str, code: int) -> None:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


@contextmanager
def _clean_errors(debug: bool = False) -> Iterator[None]:
    """Turn every error into one readable line and a non-zero exit (``--debug`` keeps tracebacks)."""
    try:
        yield
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        _fail("interrupted; re-run the same command to resume where it stopped.", 130)
    except Exception as exc:  # noqa: BLE001 - the CLI's job is to report any error as one line
        if debug:
            raise
        from pydantic import ValidationError

        from prefect_jsoc.errors import JsocValidationError

        # typer.BadParameter is what the option parsers below raise for malformed input.
        invalid = (
            isinstance(exc, (JsocValidationError, ValidationError, typer.BadParameter))
            or type(exc).__name__ == "ParameterTypeError"
        )
        text = " ".join(str(exc).split()) or type(exc).__name__
        _fail(f"{type(exc).__name__}: {text}", EXIT_INVALID if invalid else EXIT_FAILED)


def parse_keyword_filter(text: str) -> dict[str, str]:
    """``"QUALITY=0"`` / ``"EXPTIME>2"`` -> ``{"name": ..., "op": ..., "value": ...}``."""
    for op in _OPS:
        name, sep, value = text.partition(op)
        if sep and name.strip():
            return {"name": name.strip(), "op": op, "value": value.strip()}
    raise typer.BadParameter(
        f"keyword filter {text!r} has no comparison; write it like QUALITY=0 or EXPTIME>2 "
        f"(comparisons: {', '.join(_OPS)})."
    )


def _parse_pairs(values: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for text in values:
        name, sep, value = text.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"{what} {text!r} must look like NAME=VALUE, e.g. HARPNUM=4864.")
        pairs[name.strip()] = value.strip()
    return pairs


def _parse_intervals(start: Optional[str], end: Optional[str], intervals: list[str]) -> list[tuple[str, str]]:
    spans = []
    if start or end:
        if not (start and end):
            raise typer.BadParameter("give both --start and --end (or use --interval START/END).")
        spans.append((start, end))
    for text in intervals:
        a, sep, b = text.partition("/")
        if not sep:
            raise typer.BadParameter(f"interval {text!r} must look like START/END, e.g. 2014-01-01T00:00/2014-01-01T01:00.")
        spans.append((a, b))
    return spans


def build_queries(
    series: list[str],
    start: Optional[str] = None,
    end: Optional[str] = None,
    intervals: Optional[list[str]] = None,
    sample: Optional[str] = None,
    wavelength: Optional[str] = None,
    segments: Optional[list[str]] = None,
    keywords: Optional[list[str]] = None,
    primekeys: Optional[list[str]] = None,
    protocol: Optional[str] = None,
    method: Optional[str] = None,
    notify: Optional[str] = None,
) -> list[Any]:
    """The blocks described by the CLI options: every series over every interval."""
    from prefect_jsoc.query import JsocQuery, or_queries

    options: dict[str, Any] = {}
    if sample:
        options["sample"] = sample
    if wavelength:
        options["wavelength"] = wavelength
    if segments:
        options["segments"] = [s for item in segments for s in item.split(",") if s]
    if keywords:
        options["filters"] = [parse_keyword_filter(k) for k in keywords]
    if primekeys:
        options["primekeys"] = _parse_pairs(primekeys, "prime key")
    if protocol:
        options["protocol"] = protocol
    if method:
        options["method"] = method
    if notify:
        options["notify"] = notify
    spans = _parse_intervals(start, end, intervals or [])
    if not spans:
        return [JsocQuery(series=s, **options) for s in series]
    return or_queries(series=series, intervals=spans, **options)


def _settings(server_url: Optional[str], email: Optional[str], max_connections: Optional[int] = None) -> Any:
    from prefect_jsoc.settings import JsocSettings

    overrides: dict[str, Any] = {}
    if server_url:
        overrides["server_url"] = server_url
    if email:
        overrides["email"] = email
    if max_connections:
        overrides["max_connections"] = max_connections
    # Explicit options win; PREFECT_JSOC_* variables fill in the rest (validated, e-mail kept secret).
    return JsocSettings.resolve(JsocSettings(**overrides) if overrides else None)


@contextmanager
def _progress_bar(enabled: bool, label: str) -> Iterator[None]:
    """A terminal progress bar fed by the flow's progress artifact."""
    if not enabled or not sys.stderr.isatty():
        yield
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from prefect_jsoc.artifacts import add_progress_listener, remove_progress_listener

    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(), transient=False,
    ) as bar:
        task_id = bar.add_task(label, total=100)

        def listener(percent: float, description: str) -> None:
            bar.update(task_id, completed=percent, description=description[:70])

        add_progress_listener(listener)
        try:
            yield
        finally:
            remove_progress_listener(listener)


def _print_table(rows: list[dict[str, Any]], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    columns = list(rows[0]) if rows else []
    for column in columns:
        table.add_column(str(column), overflow="fold", no_wrap=column in ("block", "request"))
    for row in rows:
        table.add_row(*(str(row.get(c, "")) for c in columns))
    Console().print(table)


SeriesArg = Annotated[list[str], typer.Argument(help="One or more DRMS series, e.g. hmi.m_45s aia.lev1_euv_12s.")]
StartOpt = Annotated[Optional[str], typer.Option(help="Start time (UTC unless it says TAI), e.g. 2014-01-01T00:00:00.")]
EndOpt = Annotated[Optional[str], typer.Option(help="End time, e.g. 2014-01-01T01:00:00.")]
IntervalOpt = Annotated[Optional[list[str]], typer.Option("--interval", help="START/END; repeat for an OR over intervals.")]
SampleOpt = Annotated[Optional[str], typer.Option(help="Cadence, e.g. 12s, 10m, 1h.")]
WavelengthOpt = Annotated[Optional[str], typer.Option(help="Wavelength with a spectral unit, e.g. '171 Angstrom' or '17.1 nm'.")]
SegmentOpt = Annotated[Optional[list[str]], typer.Option("--segment", help="Segment(s) to export; repeat or comma-separate.")]
KeywordOpt = Annotated[Optional[list[str]], typer.Option("--keyword", help="Keyword filter like QUALITY=0 or EXPTIME>2; repeatable.")]
PrimeKeyOpt = Annotated[Optional[list[str]], typer.Option("--primekey", help="Prime-key value like HARPNUM=4864; repeatable.")]
NotifyOpt = Annotated[Optional[str], typer.Option(help="JSOC-registered notify e-mail (default PREFECT_JSOC_EMAIL).")]
ServerOpt = Annotated[Optional[str], typer.Option("--server-url", help="JSOC base URL (default PREFECT_JSOC_SERVER_URL or the real JSOC).")]
DebugOpt = Annotated[bool, typer.Option(help="Show full tracebacks.")]


@app.command()
def series(
    regex: Annotated[Optional[str], typer.Argument(help="Only series whose name matches this regex.")] = None,
    server_url: ServerOpt = None,
    debug: DebugOpt = False,
) -> None:
    """List the series the server knows."""
    with _clean_errors(debug):
        from prefect_jsoc.client import JsocClient

        names = JsocClient(_settings(server_url, None)).series(regex)
        for name in names:
            typer.echo(name)
        if not names:
            _fail(f"no series match {regex!r}.", EXIT_FAILED)


@app.command()
def search(
    series: SeriesArg,
    start: StartOpt = None,
    end: EndOpt = None,
    interval: IntervalOpt = None,
    sample: SampleOpt = None,
    wavelength: WavelengthOpt = None,
    segment: SegmentOpt = None,
    keyword: KeywordOpt = None,
    primekey: PrimeKeyOpt = None,
    keys: Annotated[Optional[str], typer.Option(help="Comma-separated keywords to show, or **ALL**.")] = None,
    server_url: ServerOpt = None,
    limit: Annotated[int, typer.Option(help="Rows to print per block (0 = all).")] = 20,
    debug: DebugOpt = False,
) -> None:
    """Search records (runs the jsoc-search flow) and print them."""
    with _clean_errors(debug):
        queries = build_queries(series, start, end, interval, sample, wavelength, segment, keyword, primekey)
        from prefect_jsoc.flows import jsoc_search

        summary = jsoc_search(
            queries, keys=keys.split(",") if keys else None, settings=_settings(server_url, None)
        )
        for result in summary.results:
            typer.echo(f"\n{result.query.label}: {result.count} records")
            table = result.table
            if table is not None and len(table):
                shown = table if limit == 0 else table[:limit]
                typer.echo("\n".join(shown.pformat(max_lines=-1, max_width=-1)))
        typer.echo(f"\n{summary.count} records in {len(summary.results)} block(s).")


@app.command()
def fetch(
    series: SeriesArg,
    start: StartOpt = None,
    end: EndOpt = None,
    interval: IntervalOpt = None,
    sample: SampleOpt = None,
    wavelength: WavelengthOpt = None,
    segment: SegmentOpt = None,
    keyword: KeywordOpt = None,
    primekey: PrimeKeyOpt = None,
    protocol: Annotated[Optional[str], typer.Option(help="fits (keywords in headers) or as-is.")] = None,
    method: Annotated[Optional[str], typer.Option(help="url, url_quick or url-tar.")] = None,
    notify: NotifyOpt = None,
    path: Annotated[str, typer.Option(help="Download directory or template with {file} and record keywords.")] = "data/jsoc",
    overwrite: Annotated[bool, typer.Option(help="Download again even if a valid copy exists.")] = False,
    max_connections: Annotated[Optional[int], typer.Option(help="Download connections (JSOC asks for 1).")] = None,
    server_url: ServerOpt = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    debug: DebugOpt = False,
) -> None:
    """Search, export and download (runs the jsoc-fetch flow); re-running resumes."""
    with _clean_errors(debug):
        # The e-mail goes to the settings only, where it is a secret; on the queries it would be
        # stored in clear in the flow run's parameters and in the export ledger.
        queries = build_queries(
            series, start, end, interval, sample, wavelength, segment, keyword, primekey, protocol, method
        )
        from prefect_jsoc.flows import jsoc_fetch

        with _progress_bar(progress, "Fetching"):
            result = jsoc_fetch(
                queries, path=path, settings=_settings(server_url, notify, max_connections), overwrite=overwrite,
                fail_on_error=False,
            )
        _report_fetch(result)
        if result.failed:
            _fail(f"{len(result.failed)} of {len(result.blocks)} block(s) failed: "
                  + "; ".join(f"{b.label}: {b.error}" for b in result.failed[:3]), EXIT_FAILED)


def _terminal_rows(result: Any) -> list[dict[str, Any]]:
    """A narrow per-block table for terminals (the UI's export summary has every column)."""
    rows = []
    for b in result.blocks:
        t = b.timings
        rows.append({
            "block": b.label,
            "request": b.request_id or "quick",
            "files": len(b.files),
            "MB": f"{b.bytes / 1e6:.1f}",
            "new": b.downloaded,
            "stage+wait s": f"{t.get('stage', 0) + t.get('await_export', 0):.1f}",
            "download s": f"{t.get('download', 0):.1f}",
            "status": "ok" if b.ok else f"failed in {b.failed_step}",
        })
    return rows


def _report_fetch(result: Any) -> None:
    _print_table(_terminal_rows(result), f"JSOC fetch from {result.server_url}")
    for file in result.files:
        typer.echo(str(file))
    typer.echo(
        f"{len(result.files)} files, {result.total_bytes / 1e6:.1f} MB, {result.elapsed_seconds:.1f} s"
    )


@app.command()
def demo(
    path: Annotated[str, typer.Option(help="Where to put the demo files.")] = "data/demo",
    export_delay: Annotated[float, typer.Option(help="Seconds the emulator takes to stage an export.")] = 2.0,
    debug: DebugOpt = False,
) -> None:
    """Start the bundled JSOC emulator, fetch a 2-series x 2-interval OR query through Prefect, stop."""
    with _clean_errors(debug):
        from prefect_jsoc.emulator import JsocEmulator

        with JsocEmulator(export_delay=export_delay) as emu, _temporary_env(
            PREFECT_JSOC_SERVER_URL=emu.url,
            PREFECT_JSOC_EMAIL=os.environ.get("PREFECT_JSOC_EMAIL", "demo@example.com"),
        ):
            typer.echo(f"JSOC emulator listening on {emu.url}")
            from prefect_jsoc.flows import jsoc_fetch
            from prefect_jsoc.query import or_queries

            intervals = [("2014-01-01T00:00:00", "2014-01-01T00:02:00"), ("2014-01-01T06:00:00", "2014-01-01T06:02:00")]
            queries = or_queries(series=["hmi.m_45s"], intervals=intervals, segments=["magnetogram"]) + or_queries(
                series=["aia.lev1_euv_12s"], intervals=intervals, wavelength=171, segments=["image"]
            )
            typer.echo(f"Fetching {len(queries)} blocks through Prefect into {path} ...")
            with _progress_bar(True, "Fetching"):
                result = jsoc_fetch(queries, path=path, fail_on_error=False)
            _report_fetch(result)
            stats = emu.stats()
            typer.echo(
                f"Emulator saw {stats['exports_submitted']} export(s) submitted, "
                f"{stats['bytes_served'] / 1e6:.1f} MB served, at most {stats['max_pending_per_email']} pending export(s) per e-mail."
            )
        typer.echo("Emulator stopped.")
        if result.failed:
            _fail(f"{len(result.failed)} block(s) failed.", EXIT_FAILED)


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


def _mount_emulator_command() -> None:
    from prefect_jsoc.emulator.cli import emulator_command

    app.command("emulator", help="Run the JSOC emulator on loopback until interrupted.")(emulator_command)


_mount_emulator_command()


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    # Keep the terminal to the progress bar, the results and one line per error; the Prefect UI still
    # gets every log. (At WARNING, a failed task run prints its traceback here, dozens of lines.)
    if "--verbose" in sys.argv:
        sys.argv.remove("--verbose")
    else:
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
