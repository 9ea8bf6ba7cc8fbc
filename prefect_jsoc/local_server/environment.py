"""The local server's settings: the environment its process gets, and how long it may take to start."""

from __future__ import annotations

import os

from prefect_jsoc.errors import LocalServerError

__all__ = [
    "DEFAULT_STARTUP_TIMEOUT",
    "REPOSSESSOR_LOOP_SECONDS",
    "SERVER_ENVIRONMENT",
    "configured_api_url",
    "default_startup_timeout",
    "server_process_environment",
]

#: How often the local server's repossessor frees expired concurrency leases.
REPOSSESSOR_LOOP_SECONDS = 5
#: Default start-up timeout when ``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS`` is unset.
DEFAULT_STARTUP_TIMEOUT = 120.0

#: Settings of the server process. Prefect reads them when it is imported, so they go in its environment.
SERVER_ENVIRONMENT = {
    "PREFECT_UI_ENABLED": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    # Leases on disk, so the next run's server sees (and frees) a lease leaked by a killed run.
    "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect.server.concurrency.lease_storage.filesystem",
    "PREFECT_SERVER_SERVICES_REPOSSESSOR_ENABLED": "true",
    "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": str(REPOSSESSOR_LOOP_SECONDS),
    # A server that lives for one command schedules nothing and watches no workers.
    "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_FOREMAN_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_ENABLED": "false",
}
#: Variables of the parent that must not reach the server process.
_DROPPED_VARIABLES = ("PREFECT_API_URL", "PREFECT__SERVER_EPHEMERAL", "PREFECT__SERVER_WEBSERVER_ONLY")


def server_process_environment() -> dict[str, str]:
    """The environment of a server process: ours without the API URL, plus :data:`SERVER_ENVIRONMENT`."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_VARIABLES}
    env.update(SERVER_ENVIRONMENT)
    return env


def configured_api_url() -> str | None:
    """The Prefect API URL configured for this process (environment or profile), or ``None``."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or None


def default_startup_timeout() -> float:
    """``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS`` from the environment or the profile, else 120 s."""
    from prefect.settings import get_current_settings

    variable = os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "").strip()
    if variable:  # read now: Prefect read its settings when it was imported, perhaps before this was set
        try:
            return float(variable)
        except ValueError as exc:
            raise LocalServerError(
                f"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS={variable!r} is not a number of seconds."
            ) from exc
    ephemeral = get_current_settings().server.ephemeral
    if "startup_timeout_seconds" in ephemeral.model_fields_set:
        return float(ephemeral.startup_timeout_seconds)
    return DEFAULT_STARTUP_TIMEOUT
