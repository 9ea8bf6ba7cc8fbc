"""Fixtures of the multi-host tests: PostgreSQL, a Prefect server on it, the JSOC emulator, hosts.

Everything is started by the tests and stopped at teardown, each service in its own process group:

* ``postgres`` (session): a throw-away PostgreSQL cluster on loopback (skips when none is installed);
* ``prefect_server`` (session): ``prefect server start`` on that database;
* ``jsoc_emulator_process`` (module): ``prefect-jsoc emulator --export-delay 3 --max-pending-per-email 1``;
* ``emulator`` (function): that emulator with its stats, log and exports reset for the test;
* ``shared_env`` (function): the only settings hosts share (Prefect API, JSOC server, an e-mail of its own
  per test, so no limit or pending export carries over from another test);
* ``hosts`` (function): ``hosts("host-a")`` makes a :class:`~tests.multihost._hosts.Host`; all of their
  processes are killed at teardown;
* ``figures`` (function): a dict the test fills with what it measured; printed and saved as JSON.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ._hosts import Host
from ._postgres import PostgresServer, find_postgres_bin
from ._services import EXPORT_DELAY, MAX_PENDING_PER_EMAIL, EmulatorProcess, PrefectServer

#: Where every test's figures are collected (one JSON object per line), besides its own tmp dir.
FIGURES_ENV = "PREFECT_JSOC_MULTIHOST_FIGURES"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server on 127.0.0.1 with an empty ``prefect`` database; yields its handle (``.url``)."""
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (no initdb/pg_ctl under /usr/lib/postgresql/*/bin); "
                    "install it with: apt-get install -y postgresql (.ci/run does)")
    with PostgresServer(bin_dir) as server:
        yield server


@pytest.fixture(scope="session")
def prefect_server(postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """``prefect server start`` on the PostgreSQL database; yields its handle (``.api_url``)."""
    root = tmp_path_factory.mktemp("prefect-server")
    with PrefectServer(postgres.url, root / "home", root / "server.log") as server:
        yield server


@pytest.fixture(scope="module")
def jsoc_emulator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """The JSOC emulator as its own process: 3 s staging, one pending export per e-mail."""
    with EmulatorProcess(
        tmp_path_factory.mktemp("emulator"), export_delay=EXPORT_DELAY, max_pending_per_email=MAX_PENDING_PER_EMAIL,
    ) as emulator:
        yield emulator


@pytest.fixture()
def emulator(jsoc_emulator_process: EmulatorProcess) -> EmulatorProcess:
    """The module's emulator with zero stats, an empty log and no exports."""
    request = urllib.request.Request(jsoc_emulator_process.url.rstrip("/") + "/_emulator/reset?exports=1", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    return jsoc_emulator_process


@pytest.fixture()
def shared_env(request: pytest.FixtureRequest, prefect_server: PrefectServer, emulator: EmulatorProcess) -> dict[str, str]:
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
