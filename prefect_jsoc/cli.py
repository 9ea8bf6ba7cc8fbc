"""The ``prefect-jsoc`` command: series, search, fetch, emulator, demo.

Each command is a thin wrapper over the library: ``search`` and ``fetch`` run the Prefect flows, so
what the terminal shows is what the Prefect UI shows. The terminal gets the progress bar, the results
and one line per error (``--verbose`` adds Prefect's logs); errors exit 2 for bad input and 1 for
failures, Ctrl-C exits 130 and SIGTERM 143.

Without a configured ``PREFECT_API_URL`` the flows run against a Prefect API server that the command
starts and owns (:mod:`prefect_jsoc.local_server`): it goes when the command goes, even on SIGKILL.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import os
import signal
import sys
import threading
import warnings
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, fields
from typing import Annotated, Any, Callable, Iterator, Optional

import typer
import typer.core

__all__ = ["app", "build_queries", "main", "parse_segments"]

EXIT_FAILED = 1
EXIT_INVALID = 2
#: After the first Ctrl-C or SIGTERM the command tears down its flow run and its Prefect server; if that
#: takes longer than this, it exits anyway (the server follows within a second: it watches its parent).
INTERRUPT_GRACE_SECONDS = 10.0


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


# ---------------------------------------------------------------------------------------------------
# Errors, interrupts and what reaches the terminal
# ---------------------------------------------------------------------------------------------------


def _fail(message: str, code: int) -> None:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


class _Interrupts:
    """How the long-running commands stop on Ctrl-C and SIGTERM.

    The first signal becomes ``KeyboardInterrupt`` in the main thread, so the flow run and the local
    Prefect server are torn down; the exit code is 128 + the signal. While a flow runs, Prefect's
    own SIGTERM handler is in place (it raises ``TerminationSignal``, to the same effect). Whichever
    handler runs, a watcher thread sees every signal through the wake-up fd: from the first one on,
    a teardown slower than :data:`INTERRUPT_GRACE_SECONDS` ends the process at once, and so does a
    second Ctrl-C.
    """

    def __init__(self) -> None:
        self.signal: int | None = None
        self._raised = False
        self._sigints = 0
        self._lock = threading.Lock()
        self._watchdog: threading.Timer | None = None

    @property
    def exit_code(self) -> int:
        return 128 + (self.signal or signal.SIGINT)

    def handle(self, signum: int, frame: Any) -> None:
        """The Python-level handler: interrupt the main thread, once."""
        self._arm(signum)
        if not self._raised:
            self._raised = True
            raise KeyboardInterrupt

    def _arm(self, signum: int) -> None:
        """Remember the first signal and start the watchdog (idempotent)."""
        with self._lock:
            if self.signal is not None:
                return
            self.signal = signum
            self._watchdog = threading.Timer(INTERRUPT_GRACE_SECONDS, self._exit_now)
            self._watchdog.daemon = True
            self._watchdog.start()

    def _exit_now(self) -> None:
        sys.stderr.write(f"error: {_interrupted_message(self.signal)}\n")
        sys.stderr.flush()
        if "prefect_jsoc.local_server" in sys.modules:
            sys.modules["prefect_jsoc.local_server"].terminate_running_servers()
        os._exit(self.exit_code)

    def _watch(self, read_fd: int) -> None:
        while True:
            try:
                data = os.read(read_fd, 64)
            except OSError:
                return
            if not data:
                return
            for signum in data:
                if signum in (signal.SIGINT, signal.SIGTERM):
                    self._arm(signum)
                # Only a second Ctrl-C counts: Prefect re-sends a SIGTERM it handled to the previous handler.
                if signum == signal.SIGINT:
                    self._sigints += 1
                    if self._sigints >= 2:
                        self._exit_now()

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Install the handlers and the watcher (main thread only; elsewhere a no-op)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        saved_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        saved = {s: signal.signal(s, self.handle) for s in (signal.SIGINT, signal.SIGTERM)}
        watcher = threading.Thread(target=self._watch, args=(read_fd,), name="prefect-jsoc-signals", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            for signum, handler in saved.items():
                signal.signal(signum, handler)
            signal.set_wakeup_fd(saved_fd)
            os.close(write_fd)  # the watcher reads EOF and ends
            watcher.join(timeout=1)
            os.close(read_fd)
            if self._watchdog is not None:  # the teardown finished in time
                self._watchdog.cancel()


def _interrupted_message(signum: int | None) -> str:
    name = signal.Signals(signum).name if signum else "SIGINT"
    return f"interrupted ({name}); re-run the same command to resume where it stopped."


@contextmanager
def _clean_errors(debug: bool = False) -> Iterator[None]:
    """Turn every error into one readable line and a non-zero exit (``--debug`` keeps tracebacks)."""
    interrupts = _Interrupts()
    try:
        with interrupts.installed():
            yield
    except typer.Exit:
        raise
    except (KeyboardInterrupt, _termination_signal()) as exc:
        signum = interrupts.signal or getattr(exc, "signal", None) or signal.SIGINT
        _fail(_interrupted_message(signum), 128 + signum)
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


def _termination_signal() -> type[BaseException]:
    """Prefect's exception for a SIGTERM received while a flow runs."""
    try:
        from prefect.exceptions import TerminationSignal
    except ImportError:  # pragma: no cover - older Prefect
        return KeyboardInterrupt
    return TerminationSignal


@contextmanager
def _terminal_output(verbose: bool, runs_flows: bool = True) -> Iterator[None]:
    """Keep the terminal to the progress bar, the results and the error lines, unless ``verbose``.

    Prefect's console log handlers, httpx's request lines and Python warnings are silenced; every log
    still reaches the Prefect API, so the UI shows it.
    """
    if verbose:
        yield
        return
    if runs_flows:
        import prefect.main  # noqa: F401 - sets up Prefect's logging, whose console handlers are quietened here
    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    # Prefect's console handler, and the stream handler of its internal services (which log a 423
    # "slot busy" answer of the concurrency API as an error).
    handlers = {
        h for logger in loggers for h in logger.handlers
        if isinstance(h, PrefectConsoleHandler)
        or (logger.name.startswith("prefect") and isinstance(h, logging.StreamHandler))
    }
    saved_levels = {h: h.level for h in handlers}
    noisy = [logging.getLogger(name) for name in ("httpx", "httpcore", "sunpy", "drms", "parfive")]
    saved_noisy = {logger: logger.level for logger in noisy}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for handler in handlers:
            handler.setLevel(logging.CRITICAL + 1)
        for logger in noisy:
            logger.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for handler, level in saved_levels.items():
                handler.setLevel(level)
            for logger, level in saved_noisy.items():
                logger.setLevel(level)


@contextmanager
def _command_context(debug: bool, verbose: bool, prefect_api: bool = False) -> Iterator[None]:
    """Everything a command runs inside: clean errors, quiet output and, for flows, a Prefect API."""
    with _clean_errors(debug), ExitStack() as stack:
        stack.enter_context(_terminal_output(verbose, runs_flows=prefect_api))
        if prefect_api:
            from prefect_jsoc.local_server import local_prefect_api

            # The flows' imports take seconds; they overlap with the server's start-up.
            stack.enter_context(local_prefect_api(
                while_starting=lambda: importlib.import_module("prefect_jsoc.flows")))
        yield


# ---------------------------------------------------------------------------------------------------
# Query options, shared by `search` and `fetch`
# ---------------------------------------------------------------------------------------------------


def parse_segments(values: list[str], series: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Split ``--segment`` values into segments for every series and segments for one series.

    Each value is ``NAME[,NAME...]`` (for every series) or ``SERIES:NAME[,NAME...]`` (for that series
    only), e.g. ``--segment magnetogram`` or ``--segment hmi.v_45s:Dopplergram``.

    Args:
        values: The ``--segment`` values as given.
        series: The series of the command.

    Returns:
        ``(common, per_series)``: names for every series, and names per series (keys lower-case).

    Raises:
        typer.BadParameter: When a value names a series the command does not have.
    """
    known = {name.lower(): name for name in series}
    common: list[str] = []
    per_series: dict[str, list[str]] = {}
    for value in values:
        target, sep, names = value.rpartition(":")
        parsed = [name.strip() for name in names.split(",") if name.strip()]
        if not sep:
            common += parsed
            continue
        if target.strip().lower() not in known:
            raise typer.BadParameter(
                f"--segment {value!r} is for series {target!r}, which is not one of this command's series "
                f"({', '.join(series)}); write SERIES:NAME with one of them, or NAME for every series."
            )
        per_series.setdefault(target.strip().lower(), []).extend(parsed)
    return common, per_series


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
            raise typer.BadParameter(
                f"interval {text!r} must look like START/END, e.g. 2014-01-01T00:00/2014-01-01T01:00."
            )
        spans.append((a, b))
    return spans


@dataclass(frozen=True)
class QueryOptions:
    """What the shared options of ``search`` and ``fetch`` say about the blocks."""

    series: list[str]
    start: Optional[str] = None
    end: Optional[str] = None
    interval: Optional[list[str]] = None
    sample: Optional[str] = None
    wavelength: Optional[str] = None
    segment: Optional[list[str]] = None
    keyword: Optional[list[str]] = None
    primekey: Optional[list[str]] = None


def build_queries(options: QueryOptions, **extra: Any) -> list[Any]:
    """The blocks described by the CLI options: every series over every interval.

    Args:
        options: The shared query options.
        **extra: Further ``JsocQuery`` fields for every block (``protocol``, ``method``).

    Returns:
        The ``JsocQuery`` blocks, series-major.
    """
    from prefect_jsoc.query import JsocQuery, or_queries

    common: dict[str, Any] = {key: value for key, value in extra.items() if value}
    if options.sample:
        common["sample"] = options.sample
    if options.wavelength:
        common["wavelength"] = options.wavelength
    if options.keyword:
        common["filters"] = list(options.keyword)  # parsed by KeywordFilter.parse
    if options.primekey:
        common["primekeys"] = _parse_pairs(options.primekey, "prime key")
    every_series, per_series = parse_segments(options.segment or [], options.series)
    spans = _parse_intervals(options.start, options.end, options.interval or [])
    queries: list[Any] = []
    for name in options.series:
        segments = every_series + per_series.get(name.lower(), [])
        fields_ = dict(common, segments=segments) if segments else common
        queries += or_queries(series=name, intervals=spans, **fields_) if spans else [JsocQuery(series=name, **fields_)]
    return queries


_QUERY_OPTION_TYPES: dict[str, Any] = {
    "series": Annotated[list[str], typer.Argument(
        metavar="SERIES", show_default=False, help="One or more DRMS series, e.g. hmi.m_45s aia.lev1_euv_12s.")],
    "start": Annotated[Optional[str], typer.Option(
        metavar="TIME", help="Start time (UTC unless it says TAI), e.g. 2014-01-01T00:00:00.")],
    "end": Annotated[Optional[str], typer.Option(metavar="TIME", help="End time, e.g. 2014-01-01T01:00:00.")],
    "interval": Annotated[Optional[list[str]], typer.Option(
        "--interval", metavar="START/END", help="A time interval; repeat for an OR over intervals.")],
    "sample": Annotated[Optional[str], typer.Option(metavar="CADENCE", help="Cadence, e.g. 12s, 10m, 1h.")],
    "wavelength": Annotated[Optional[str], typer.Option(
        metavar="WAVELENGTH", help="Wavelength with a spectral unit, e.g. '171 Angstrom' or '17.1 nm'.")],
    "segment": Annotated[Optional[list[str]], typer.Option(
        "--segment", metavar="[SERIES:]NAME",
        help="Segment(s) to export, for every series or, as SERIES:NAME, for one; repeat or comma-separate.")],
    "keyword": Annotated[Optional[list[str]], typer.Option(
        "--keyword", metavar="FILTER", help="Keyword filter like QUALITY=0 or EXPTIME>2; repeatable.")],
    "primekey": Annotated[Optional[list[str]], typer.Option(
        "--primekey", metavar="NAME=VALUE", help="Prime-key value like HARPNUM=4864; repeatable.")],
}


def with_query_options(command_function: Callable[..., None]) -> Callable[..., None]:
    """Give a command the shared query options; it receives them as one ``query: QueryOptions``."""
    own = [p for p in inspect.signature(command_function, eval_str=True).parameters.values() if p.name != "query"]
    names = [f.name for f in fields(QueryOptions)]
    shared = [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, annotation=_QUERY_OPTION_TYPES[name],
            default=inspect.Parameter.empty if name == "series" else None,
        )
        for name in names
    ]
    parameters = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]

    def run(**values: Any) -> None:
        query = QueryOptions(**{name: values.pop(name) for name in names})
        command_function(query=query, **values)

    run.__name__ = command_function.__name__
    run.__doc__ = command_function.__doc__
    run.__signature__ = inspect.Signature(shared + parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in shared + parameters}
    return run


ServerOpt = Annotated[Optional[str], typer.Option(
    "--server-url", metavar="URL", help="JSOC base URL (default PREFECT_JSOC_SERVER_URL or the real JSOC).")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show full tracebacks.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", help="Also show Prefect's logs and warnings.")]


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


# ---------------------------------------------------------------------------------------------------
# Output: progress bar and results table
# ---------------------------------------------------------------------------------------------------


@contextmanager
def _progress_bar(enabled: bool, label: str) -> Iterator[None]:
    """A progress bar on the terminal's stderr, fed by the flow's progress artifact."""
    if not enabled or not sys.stderr.isatty():
        yield
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from prefect_jsoc.artifacts import add_progress_listener, remove_progress_listener

    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(), console=Console(stderr=True), transient=False,
    ) as bar:
        task_id = bar.add_task(label, total=100)

        def listener(percent: float, description: str) -> None:
            bar.update(task_id, completed=percent, description=description[:70])

        add_progress_listener(listener)
        try:
            yield
        finally:
            remove_progress_listener(listener)


#: Columns of the results table: header and how to read it from a block (times in seconds).
_NUMBER_COLUMNS: list[tuple[str, Callable[[Any], str]]] = [
    ("files", lambda b: str(len(b.files))),
    ("MB", lambda b: f"{b.bytes / 1e6:.1f}"),
    ("new", lambda b: str(b.downloaded)),
    ("export", lambda b: f"{b.timings.get('stage', 0) + b.timings.get('await_export', 0):.1f}"),
    ("download", lambda b: f"{b.timings.get('download', 0):.1f}"),
]


def _status(block: Any) -> str:
    return "ok" if block.ok else f"failed in {block.failed_step}"


def fetch_table(result: Any, width: int) -> Any:
    """The per-block results as a ``rich`` table that reads at ``width`` columns.

    Wide enough, the request id has a column of its own; narrower (80 columns, or piped), it goes under
    the block's label. Only the label and status columns wrap (between words), so numbers never break.
    Narrower still, each block is a short list of ``name value`` lines.

    Args:
        result: A ``FetchResult``.
        width: The terminal's width in characters.

    Returns:
        A ``rich`` renderable.
    """
    from rich import box
    from rich.console import Console, Group
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    def request(block: Any) -> str:
        return block.request_id or ("quick" if block.ok else "-")

    longest_request = max((len(request(b)) for b in result.blocks), default=0)
    title = f"JSOC fetch from {result.server_url} (times in seconds)"

    def build(request_column: bool) -> Table:
        table = Table(
            title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True
        )
        # The label column gives way first (between words), but never below a whole request id.
        table.add_column("block", overflow="fold", min_width=None if request_column else longest_request)
        if request_column:
            table.add_column("request", no_wrap=True)
        for header, _ in _NUMBER_COLUMNS:
            table.add_column(header, justify="right", no_wrap=True)
        table.add_column("status", overflow="fold", max_width=None if request_column else len("await_export"))
        for block in result.blocks:
            if request_column:
                cells = [Text(block.label), request(block)]
            else:
                cells = [Text(f"{block.label}\n").append(request(block), style="dim")]
            cells += [read(block) for _, read in _NUMBER_COLUMNS]
            table.add_row(*cells, _status(block))
        return table

    def stacked() -> Group:
        """One block per paragraph, one ``name value`` pair per field, for very narrow terminals."""
        parts: list[Any] = [Text(title, style="italic")]
        for block in result.blocks:
            pairs = [("request", request(block))] + [(h, read(block)) for h, read in _NUMBER_COLUMNS]
            parts.append(Text(block.label, style="bold"))
            parts += [Text(f"  {name:<8} {value}") for name, value in [*pairs, ("status", _status(block))]]
        return Group(*parts)

    unbounded = Console(width=10_000)  # a table's measurement is capped at the console's width
    wide = build(request_column=True)
    if Measurement.get(unbounded, unbounded.options, wide).maximum <= width:
        return wide
    compact = build(request_column=False)
    if Measurement.get(unbounded, unbounded.options, compact).minimum <= width:
        return compact
    return stacked()


def _report_fetch(result: Any) -> None:
    from rich.console import Console

    console = Console()
    console.print(fetch_table(result, console.width))
    for file in result.files:
        typer.echo(str(file))
    typer.echo(f"{len(result.files)} files, {result.total_bytes / 1e6:.1f} MB, {result.elapsed_seconds:.1f} s")


def _fail_on_failed_blocks(result: Any) -> None:
    """One error line per failed block, then exit 1."""
    if not result.failed:
        return
    for block in result.failed:
        typer.secho(f"error: {block.label} failed in {block.failed_step}: {' '.join(str(block.error).split())}",
                    err=True, fg=typer.colors.RED)
    raise typer.Exit(EXIT_FAILED)


# ---------------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------------


@command()
def series(
    regex: Annotated[Optional[str], typer.Argument(
        metavar="REGEX", help="Only series whose name matches this regex.")] = None,
    server_url: ServerOpt = None,
    debug: DebugOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """List the series the server knows."""
    with _command_context(debug, verbose):
        from prefect_jsoc.client import JsocClient

        names = JsocClient(_settings(server_url, None)).series(regex)
        for name in names:
            typer.echo(name)
        if not names:
            _fail(f"no series match {regex!r}.", EXIT_FAILED)


@command()
@with_query_options
def search(
    query: QueryOptions,
    keys: Annotated[Optional[str], typer.Option(
        metavar="NAMES", help="Comma-separated keywords to show, or **ALL**.")] = None,
    server_url: ServerOpt = None,
    limit: Annotated[int, typer.Option(metavar="N", help="Rows to print per block (0 = all).")] = 20,
    debug: DebugOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Search records (runs the jsoc-search flow) and print them."""
    with _clean_errors(debug):
        queries = build_queries(query)
        settings = _settings(server_url, None)
    with _command_context(debug, verbose, prefect_api=True):
        from prefect_jsoc.flows import jsoc_search

        summary = jsoc_search(queries, keys=keys.split(",") if keys else None, settings=settings)
        for result in summary.results:
            typer.echo(f"\n{result.query.label}: {result.count} records")
            table = result.table
            if table is not None and len(table):
                shown = table if limit == 0 else table[:limit]
                typer.echo("\n".join(shown.pformat(max_lines=-1, max_width=-1)))
        typer.echo(f"\n{summary.count} records in {len(summary.results)} block(s).")


@command()
@with_query_options
def fetch(
    query: QueryOptions,
    protocol: Annotated[Optional[str], typer.Option(
        metavar="PROTOCOL", help="fits (keywords in headers) or as-is.")] = None,
    method: Annotated[Optional[str], typer.Option(metavar="METHOD", help="url, url_quick or url-tar.")] = None,
    notify: Annotated[Optional[str], typer.Option(
        metavar="EMAIL", help="JSOC-registered notify e-mail (default PREFECT_JSOC_EMAIL).")] = None,
    path: Annotated[str, typer.Option(
        metavar="PATH", help="Download directory or template with {file} and record keywords.")] = "data/jsoc",
    overwrite: Annotated[bool, typer.Option(help="Download again even if a valid copy exists.")] = False,
    max_connections: Annotated[Optional[int], typer.Option(
        metavar="N", help="Download connections (JSOC asks for 1).")] = None,
    server_url: ServerOpt = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    debug: DebugOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Search, export and download (runs the jsoc-fetch flow); re-running resumes."""
    with _clean_errors(debug):
        # The e-mail goes to the settings only, where it is a secret; on the queries it would be
        # stored in clear in the flow run's parameters.
        queries = build_queries(query, protocol=protocol, method=method)
        settings = _settings(server_url, notify, max_connections)
    with _command_context(debug, verbose, prefect_api=True):
        from prefect_jsoc.flows import jsoc_fetch

        with _progress_bar(progress, "Fetching"):
            result = jsoc_fetch(queries, path=path, settings=settings, overwrite=overwrite, fail_on_error=False)
        _report_fetch(result)
        _fail_on_failed_blocks(result)


@command()
def demo(
    path: Annotated[str, typer.Option(metavar="PATH", help="Where to put the demo files.")] = "data/demo",
    export_delay: Annotated[float, typer.Option(
        metavar="SECONDS", help="Seconds the emulator takes to stage an export.")] = 2.0,
    debug: DebugOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Start the bundled JSOC emulator, fetch a 2-series x 2-interval OR query through Prefect, stop."""
    with _command_context(debug, verbose, prefect_api=True):
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
                f"{stats['bytes_served'] / 1e6:.1f} MB served, at most {stats['max_pending_per_email']} pending "
                "export(s) per e-mail."
            )
        typer.echo("Emulator stopped.")
        _fail_on_failed_blocks(result)


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

    command("emulator", help="Run the JSOC emulator on loopback until interrupted.")(emulator_command)


_mount_emulator_command()


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


if __name__ == "__main__":  # pragma: no cover
    main()
