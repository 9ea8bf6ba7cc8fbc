"""``prefect-jsoc series`` and ``prefect-jsoc search``: what the server holds."""

from __future__ import annotations

from typing import Annotated

import typer

from prefect_jsoc.cli.app import command
from prefect_jsoc.cli.context import EXIT_FAILED, clean_errors, command_context, fail
from prefect_jsoc.cli.options import DebugOpt, ServerOpt, VerboseOpt, settings_from_options
from prefect_jsoc.cli.query_options import QueryOptions, build_queries, with_query_options


@command()
def series(
    regex: Annotated[
        str | None, typer.Argument(metavar="REGEX", help="Only series whose name matches this regex.")
    ] = None,
    server_url: ServerOpt = None,
    debug: DebugOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """List the series the server knows."""
    with command_context(debug, verbose):
        from prefect_jsoc.client import JsocClient

        names = JsocClient(settings_from_options(server_url, None)).series(regex)
        for name in names:
            typer.echo(name)
        if not names:
            fail(f"no series match {regex!r}.", EXIT_FAILED)


@command()
@with_query_options
def search(
    query: QueryOptions,
    keys: Annotated[
        str | None, typer.Option(metavar="NAMES", help="Comma-separated keywords to show, or **ALL**.")
    ] = None,
    server_url: ServerOpt = None,
    limit: Annotated[int, typer.Option(metavar="N", help="Rows to print per block (0 = all).")] = 20,
    debug: DebugOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Search records (runs the jsoc-search flow) and print them."""
    with clean_errors(debug):
        queries = build_queries(query)
        settings = settings_from_options(server_url, None)
    with command_context(debug, verbose, prefect_api=True):
        from prefect_jsoc.flows import jsoc_search

        summary = jsoc_search(queries, keys=keys.split(",") if keys else None, settings=settings)
        for result in summary.results:
            typer.echo(f"\n{result.query.label}: {result.count} records")
            table = result.table
            if table is not None and len(table):
                shown = table if limit == 0 else table[:limit]
                typer.echo("\n".join(shown.pformat(max_lines=-1, max_width=-1)))
        typer.echo(f"\n{summary.count} records in {len(summary.results)} block(s).")
