"""The options every command shares (server URL, ``--debug``, ``--verbose``) and the settings they give."""

from __future__ import annotations

from typing import Annotated, Any

import typer

__all__ = ["DebugOpt", "ServerOpt", "VerboseOpt", "settings_from_options"]


ServerOpt = Annotated[
    str | None,
    typer.Option(
        "--server-url", metavar="URL", help="JSOC base URL (default PREFECT_JSOC_SERVER_URL or the real JSOC)."
    ),
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show full tracebacks.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", help="Also show Prefect's logs and warnings.")]


def settings_from_options(server_url: str | None, email: str | None, max_connections: int | None = None) -> Any:
    """The ``JsocSettings`` of a command: its options over the ``PREFECT_JSOC_*`` variables."""
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
