"""The ``prefect-jsoc`` command: series, search, fetch, emulator, demo.

Each command is a thin wrapper over the library: ``search`` and ``fetch`` run the Prefect flows, so
what the terminal shows is what the Prefect UI shows. The terminal gets the progress bar, the results
and one line per error (``--verbose`` adds Prefect's logs); errors exit 2 for bad input and 1 for
failures, Ctrl-C exits 130 and SIGTERM 143.

Without a configured ``PREFECT_API_URL`` the flows run against a Prefect API server that the command
starts and owns (:mod:`prefect_jsoc.local_server`): it goes when the command goes, even on SIGKILL.

Modules:
    app: the Typer application and the console-script entry point.
    context: what every command runs inside (one-line errors, exit codes, quiet terminal, Prefect API).
    interrupts: Ctrl-C and SIGTERM: teardown, a grace period, exit code 128 + signal.
    options: the options every command shares (server URL, ``--debug``, ``--verbose``) and settings.
    query_options: the query options ``search`` and ``fetch`` share, and the blocks they describe.
    output: the progress bar, the results table and the failed-block lines.
    commands: one module per command.
"""

from __future__ import annotations

from prefect_jsoc.cli import commands as _commands  # noqa: F401 - registers the commands on the app
from prefect_jsoc.cli.app import app, main
from prefect_jsoc.cli.output import fetch_table
from prefect_jsoc.cli.query_options import QueryOptions, build_queries, parse_segments

__all__ = ["QueryOptions", "app", "build_queries", "fetch_table", "main", "parse_segments"]
