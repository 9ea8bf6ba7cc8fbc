"""``prefect-jsoc fetch``: search, export and download through the jsoc-fetch flow."""

from __future__ import annotations

from typing import Annotated

import typer

from prefect_jsoc.cli.app import command
from prefect_jsoc.cli.context import clean_errors, command_context
from prefect_jsoc.cli.options import DebugOpt, ServerOpt, VerboseOpt, settings_from_options
from prefect_jsoc.cli.output import fail_on_failed_blocks, progress_bar, report_fetch
from prefect_jsoc.cli.query_options import QueryOptions, build_queries, with_query_options


@command()
@with_query_options
def fetch(
    query: QueryOptions,
    protocol: Annotated[
        str | None, typer.Option(metavar="PROTOCOL", help="fits (keywords in headers) or as-is.")
    ] = None,
    method: Annotated[str | None, typer.Option(metavar="METHOD", help="url, url_quick or url-tar.")] = None,
    notify: Annotated[
        str | None, typer.Option(metavar="EMAIL", help="JSOC-registered notify e-mail (default PREFECT_JSOC_EMAIL).")
    ] = None,
    path: Annotated[
        str, typer.Option(metavar="PATH", help="Download directory or template with {file} and record keywords.")
    ] = "data/jsoc",
    overwrite: Annotated[bool, typer.Option(help="Download again even if a valid copy exists.")] = False,
    max_connections: Annotated[
        int | None, typer.Option(metavar="N", help="Download connections (JSOC asks for 1).")
    ] = None,
    server_url: ServerOpt = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    debug: DebugOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Search, export and download (runs the jsoc-fetch flow); re-running resumes."""
    with clean_errors(debug):
        # The e-mail goes to the settings only, where it is a secret; on the queries it would be
        # stored in clear in the flow run's parameters.
        queries = build_queries(query, protocol=protocol, method=method)
        settings = settings_from_options(server_url, notify, max_connections)
    with command_context(debug, verbose, prefect_api=True):
        from prefect_jsoc.flows import jsoc_fetch

        with progress_bar(progress, "Fetching"):
            result = jsoc_fetch(queries, path=path, settings=settings, overwrite=overwrite, fail_on_error=False)
        report_fetch(result)
        fail_on_failed_blocks(result)
