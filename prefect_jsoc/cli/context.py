"""What every command runs inside: one-line errors and exit codes, a quiet terminal, a Prefect API."""

from __future__ import annotations

import importlib
import logging
import signal
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import typer

from prefect_jsoc.cli.interrupts import Interrupts, interrupted_message, termination_signal

__all__ = ["EXIT_FAILED", "EXIT_INVALID", "clean_errors", "command_context", "fail", "terminal_output"]

EXIT_FAILED = 1
EXIT_INVALID = 2


def fail(message: str, code: int) -> None:
    """Print ``error: message`` in red on stderr and exit with ``code``."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


@contextmanager
def clean_errors(debug: bool = False) -> Iterator[None]:
    """Turn every error into one readable line and a non-zero exit (``--debug`` keeps tracebacks)."""
    interrupts = Interrupts()
    try:
        with interrupts.installed():
            yield
    except typer.Exit:
        raise
    except (KeyboardInterrupt, termination_signal()) as exc:
        signum = interrupts.signal or getattr(exc, "signal", None) or signal.SIGINT
        fail(interrupted_message(signum), 128 + signum)
    except Exception as exc:  # noqa: BLE001 - the CLI's job is to report any error as one line
        if debug:
            raise
        from pydantic import ValidationError

        from prefect_jsoc.errors import JsocValidationError

        # typer.BadParameter is what the option parsers (cli.query_options) raise for malformed input.
        invalid = (
            isinstance(exc, (JsocValidationError, ValidationError, typer.BadParameter))
            or type(exc).__name__ == "ParameterTypeError"
        )
        text = " ".join(str(exc).split()) or type(exc).__name__
        fail(f"{type(exc).__name__}: {text}", EXIT_INVALID if invalid else EXIT_FAILED)


@contextmanager
def terminal_output(verbose: bool, runs_flows: bool = True) -> Iterator[None]:
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
        h
        for logger in loggers
        for h in logger.handlers
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
def command_context(debug: bool, verbose: bool, prefect_api: bool = False) -> Iterator[None]:
    """Everything a command runs inside: clean errors, quiet output and, for flows, a Prefect API."""
    with clean_errors(debug), ExitStack() as stack:
        stack.enter_context(terminal_output(verbose, runs_flows=prefect_api))
        if prefect_api:
            from prefect_jsoc.local_server import local_prefect_api

            # The flows' imports take seconds; they overlap with the server's start-up.
            stack.enter_context(local_prefect_api(while_starting=lambda: importlib.import_module("prefect_jsoc.flows")))
        yield
