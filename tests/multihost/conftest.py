"""Fixtures of the multi-host tests: PostgreSQL, a Prefect server on it, the JSOC emulator, hosts.

Everything is started by the tests and stopped at teardown, each service in its own process group:

* ``postgres`` (session): a throw-away PostgreSQL cluster on loopback (skips when none is installed);
* ``prefect_server`` (session): ``prefect server start`` on that database;
* ``jsoc_emulator_process`` (session): ``prefect-jsoc emulator --export-delay 3 --max-pending-per-email 1``;
* ``emulator`` (function): that emulator with its stats, log and exports reset for the test;
* ``shared_env`` (function): the only settings hosts share (Prefect API, JSOC server, an e-mail of its own
  per test, so no limit or pending export carries over from another test);
* ``hosts`` (function): ``hosts("host-a")`` makes a :class:`~tests.multihost._hosts.Host`; all of their
  processes are killed at teardown;
* ``figures`` (function): a dict the test fills with what it measured; printed and saved as JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ._hosts import Host
from ._postgres import PostgresServer, find_postgres_bin
from ._services import EXPORT_DELAY, MAX_PENDING_PER_EMAIL, EmulatorProcess, PrefectServer

#: Where every test's figures are collected (one JSON object per line), besides its own tmp dir.
FIGURES_ENV = "PREFECT_JSOC_MULTIHOST_FIGURES"


@dataclass
class Services:
    """The session's shared services (see the module docstring)."""

    postgres: PostgresServer
    prefect_server: PrefectServer
    emulator: EmulatorProcess


@pytest.fixture(scope="session")
def multihost_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """PostgreSQL, a Prefect server on it and the emulator, started side by side (each takes seconds)."""
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL is not installed (no initdb/pg_ctl under /usr/lib/postgresql/*/bin); "
            "install it with: apt-get install -y postgresql (.ci/run does)"
        )
    root = tmp_path_factory.mktemp("multihost-services")
    with contextlib.ExitStack() as stack:
        emulator = EmulatorProcess(
            root / "emulator", export_delay=EXPORT_DELAY, max_pending_per_email=MAX_PENDING_PER_EMAIL
        )
        stack.push(emulator.__exit__)
        emulator.start()
        postgres = stack.enter_context(PostgresServer(bin_dir))
        server = PrefectServer(postgres.url, root / "prefect-server", root / "prefect-server.log")
        stack.push(server.__exit__)
        server.start()
        emulator.wait_ready()
        server.wait_ready()
        print(
            f"\nMULTIHOST SERVICES PostgreSQL {postgres.version} on port {postgres.port}; Prefect server "
            f"{server.api_url} healthy after {server.startup_seconds:.1f} s; emulator {emulator.url}"
        )
        yield Services(postgres, server, emulator)


@pytest.fixture(scope="session")
def postgres(multihost_services: Services) -> PostgresServer:
    """A PostgreSQL server on 127.0.0.1 holding the Prefect server's database (``.url``, ``.port``)."""
    return multihost_services.postgres


@pytest.fixture(scope="session")
def prefect_server(multihost_services: Services) -> PrefectServer:
    """``prefect server start`` on the PostgreSQL database (``.api_url``, ``.log_tail()``)."""
    return multihost_services.prefect_server


@pytest.fixture(scope="session")
def jsoc_emulator_process(multihost_services: Services) -> EmulatorProcess:
    """The JSOC emulator as its own process: 3 s staging, one pending export per e-mail."""
    return multihost_services.emulator


@pytest.fixture()
def emulator(jsoc_emulator_process: EmulatorProcess) -> EmulatorProcess:
    """The emulator with zero stats, an empty log and no exports (``.stats()``, ``.log()``, ``.url``)."""
    jsoc_emulator_process.reset()
    return jsoc_emulator_process


@pytest.fixture()
def shared_env(
    request: pytest.FixtureRequest, prefect_server: PrefectServer, emulator: EmulatorProcess
) -> dict[str, str]:
    """What every host of one test shares: the Prefect API, the JSOC server and one e-mail."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    return {
        "PREFECT_API_URL": prefect_server.api_url,
        "PREFECT_JSOC_SERVER_URL": emulator.url,
        "PREFECT_JSOC_EMAIL": f"{slug}@example.com",
    }


@pytest.fixture()
def hosts(tmp_path: Path, shared_env: dict[str, str]) -> Iterator[Callable[[str], Host]]:
    """``hosts(name)`` makes a simulated host; every process of every host is killed at teardown."""
    made: list[Host] = []

    def make(name: str) -> Host:
        host = Host(name, tmp_path / name, shared_env)
        made.append(host)
        return host

    try:
        yield make
    finally:
        for host in made:
            host.shutdown()


@pytest.fixture()
def figures(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A dict for the test's measurements; printed, written to ``figures.json`` in the test's tmp dir,
    and appended to the file named by ``PREFECT_JSOC_MULTIHOST_FIGURES`` if that is set."""
    measured: dict[str, Any] = {"test": request.node.name}
    yield measured
    text = json.dumps(measured, sort_keys=True)
    (tmp_path / "figures.json").write_text(text + "\n")
    print(f"\nMULTIHOST FIGURES {text}")
    target = os.environ.get(FIGURES_ENV)
    if target:
        with open(target, "a") as out:
            out.write(text + "\n")
