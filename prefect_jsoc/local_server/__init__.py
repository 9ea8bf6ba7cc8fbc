"""A Prefect API server owned by one process: it starts with a command and goes when the command goes.

When no ``PREFECT_API_URL`` is configured, Prefect starts a temporary API server of its own for each
process. That server outlives a killed parent (nothing watches it), and it runs no background
services, so the **repossessor** never frees the slot of a holder that died: JSOC's limits are
Prefect global concurrency limits held as leases (see :mod:`prefect_jsoc.limits`), and a leaked lease
would block every later run. :class:`LocalPrefectServer` replaces it for the ``prefect-jsoc``
command:

* it listens on 127.0.0.1 on a free port, without UI or analytics, on the usual ``$PREFECT_HOME``
  database, so its runs show up later in ``prefect server start``; on SQLite its writers queue for
  the database lock instead of failing with HTTP 503 when many flows run at once;
* it runs the server's services in non-ephemeral mode with the repossessor every
  :data:`REPOSSESSOR_LOOP_SECONDS` and leases kept on disk, so a lease leaked by a killed run is
  freed by the next run's server; services a one-command server does not need are off;
* it exits by itself when its parent dies, SIGKILL included: the child process (this module run
  with ``python -m``) polls its parent's pid and, on Linux, also asks the kernel for a SIGTERM when
  the parent goes (``prctl(PR_SET_PDEATHSIG)``).

Example:
    ```python
    from prefect_jsoc.local_server import local_prefect_api

    with local_prefect_api() as api_url:   # the configured server, or a local one started here
        ...                                 # flows run against api_url
    ```

Modules:
    environment: the server's settings (its environment variables) and the start-up timeout.
    process: :class:`LocalPrefectServer`, the child process seen from the command: start, wait, stop.
    api: :func:`local_prefect_api`, pointing this process's Prefect client at that server.
    state_files: the files the server and its owner share (``server.json`` with the port, the log).
    serve: the child process itself (``python -m prefect_jsoc.local_server``).
    sqlite_writes: on SQLite, writers wait for the database lock instead of failing with HTTP 503.
    parent_watch: how the child notices that its parent is gone.
    errors: :class:`LocalServerError`.
"""

from __future__ import annotations

from prefect_jsoc.errors import LocalServerError
from prefect_jsoc.local_server.api import api_url_for_this_process, drain_prefect_workers, local_prefect_api
from prefect_jsoc.local_server.environment import REPOSSESSOR_LOOP_SECONDS, SERVER_ENVIRONMENT, configured_api_url
from prefect_jsoc.local_server.process import LocalPrefectServer, terminate_running_servers

# The name it had when this package was one module (tests use it).
_api_url_for_this_process = api_url_for_this_process

__all__ = [
    "LocalPrefectServer",
    "LocalServerError",
    "REPOSSESSOR_LOOP_SECONDS",
    "SERVER_ENVIRONMENT",
    "api_url_for_this_process",
    "configured_api_url",
    "drain_prefect_workers",
    "local_prefect_api",
    "terminate_running_servers",
]
