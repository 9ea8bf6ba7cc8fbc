"""What ``fetch`` and ``demo`` show: the progress bar, the per-block results table, the failed blocks."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer

from prefect_jsoc.cli.context import EXIT_FAILED

__all__ = ["fail_on_failed_blocks", "fetch_table", "progress_bar", "report_fetch"]


@contextmanager
def progress_bar(enabled: bool, label: str) -> Iterator[None]:
    """A progress bar on the terminal's stderr, fed by the flow's progress artifact."""
    if not enabled or not sys.stderr.isatty():
        yield
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from prefect_jsoc.artifacts import add_progress_listener, remove_progress_listener

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
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
        table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
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


def report_fetch(result: Any) -> None:
    from rich.console import Console

    console = Console()
    console.print(fetch_table(result, console.width))
    for file in result.files:
        typer.echo(str(file))
    typer.echo(f"{len(result.files)} files, {result.total_bytes / 1e6:.1f} MB, {result.elapsed_seconds:.1f} s")


def fail_on_failed_blocks(result: Any) -> None:
    """One error line per failed block, then exit 1."""
    if not result.failed:
        return
    for block in result.failed:
        typer.secho(
            f"error: {block.label} failed in {block.failed_step}: {' '.join(str(block.error).split())}",
            err=True,
            fg=typer.colors.RED,
        )
    raise typer.Exit(EXIT_FAILED)
