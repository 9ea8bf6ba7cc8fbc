"""Shared test set-up: an isolated Prefect home and result store, a Prefect server on demand, and
the emulator fixtures (``emu``, ``emulator``, ``settings``) every test package uses.

Prefect settings are read when prefect is first imported, so the environment is prepared here,
before any test module imports prefect or prefect_jsoc.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

_ISOLATED_HOME = Path(tempfile.mkdtemp(prefix="prefect-jsoc-tests-"))
os.environ["PREFECT_HOME"] = str(_ISOLATED_HOME / "prefect-home")
os.environ["PREFECT_RESULTS_LOCAL_STORAGE_PATH"] = str(_ISOLATED_HOME / "prefect-results")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
os.environ["PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW"] = "ignore"
os.environ.setdefault("PARFIVE_HIDE_PROGRESS", "1")
# Nothing in the tests may reach the real JSOC: point the default at a closed loopback port.
os.environ["PREFECT_JSOC_SERVER_URL"] = "http://127.0.0.1:9/"
os.environ.pop("PREFECT_JSOC_EMAIL", None)
os.environ.pop("PREFECT_API_URL", None)

import pytest  # noqa: E402
from jsoc_test_support import EMAIL, FAST  # noqa: E402

if TYPE_CHECKING:
    from prefect_jsoc.emulator import JsocEmulator
    from prefect_jsoc.settings import JsocSettings


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[str]:
    """One Prefect API server for the whole session (it takes up to ~30 s to start here).

    It is the server the ``prefect-jsoc`` command starts for itself (:mod:`prefect_jsoc.local_server`):
    unlike Prefect's test harness it runs the repossessor, so a slot leaked by a process a test kills
    comes back when its lease expires, as on a production server. Yields its API URL.

    Use it with ``pytestmark = pytest.mark.usefixtures("prefect_harness")`` in modules that run
    tasks or flows.
    """
    from prefect_jsoc.local_server import local_prefect_api

    with local_prefect_api(startup_timeout=120) as api_url:
        yield api_url


@pytest.fixture(autouse=True)
def isolated_state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test starts with empty caches: an empty Prefect result store (no cached ``stage`` or
    ``search``) and new JSOC clients (no cached series definitions or e-mail checks).

    The session emulator keeps its URL between tests, so without this a test would re-attach to
    exports cached by an earlier test that the emulator has since forgotten. Yields the directory.
    """
    from prefect.settings import PREFECT_RESULTS_LOCAL_STORAGE_PATH, temporary_settings

    import prefect_jsoc.client

    monkeypatch.setattr(prefect_jsoc.client, "_CLIENTS", {})
    root = tmp_path_factory.mktemp("isolated") / "prefect-results"
    monkeypatch.setenv("PREFECT_RESULTS_LOCAL_STORAGE_PATH", str(root))
    with temporary_settings({PREFECT_RESULTS_LOCAL_STORAGE_PATH: root}):
        yield root


@pytest.fixture()
def emu_config() -> dict[str, Any]:
    """Knobs ``emu`` sets on the emulator for each test; a test package overrides this to change them."""
    return {"export_delay": 0.5}


@pytest.fixture()
def emu(jsoc_emulator: JsocEmulator, emu_config: dict[str, Any]) -> JsocEmulator:
    """The session emulator (from the plugin: stats zeroed, knobs at defaults, no exports), faults off,
    configured with ``emu_config``."""
    jsoc_emulator.configure(**emu_config)
    return jsoc_emulator


@pytest.fixture()
def fresh_emu(tmp_path_factory: pytest.TempPathFactory, emu_config: dict[str, Any]) -> Iterator[JsocEmulator]:
    """An emulator of this test alone, on its own port, configured with ``emu_config``.

    For tests that SIGKILL a process: the Prefect limits are named after the server's URL, and the
    slots a killed process leaves leased come back only when their lease expires (about a minute),
    so on the session emulator they would hold up the tests that follow.
    """
    from prefect_jsoc.emulator import JsocEmulator

    with JsocEmulator(data_dir=tmp_path_factory.mktemp("own-emulator"), **emu_config) as emulator:
        yield emulator


@pytest.fixture()
def emulator(emu: JsocEmulator, monkeypatch: pytest.MonkeyPatch) -> JsocEmulator:
    """``emu``, also named by the environment (``PREFECT_JSOC_SERVER_URL``, ``PREFECT_JSOC_EMAIL``),
    for the CLI and for flows called without settings."""
    monkeypatch.setenv("PREFECT_JSOC_SERVER_URL", emu.url)
    monkeypatch.setenv("PREFECT_JSOC_EMAIL", EMAIL)
    return emu


@pytest.fixture()
def settings(emu: JsocEmulator, isolated_state_dir: Path) -> JsocSettings:
    """Settings pointing at ``emu``, with a registered e-mail and short backoff (see ``FAST``)."""
    from prefect_jsoc.settings import JsocSettings

    return JsocSettings(server_url=emu.url, email=EMAIL, **FAST)
