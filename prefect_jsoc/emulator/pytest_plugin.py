"""Pytest fixtures serving the JSOC emulator (registered through the ``pytest11`` entry point).

* ``jsoc_emulator_session``: one emulator on ``127.0.0.1:<free port>`` for the whole session.
* ``jsoc_emulator``: that emulator, with stats zeroed, default knobs restored and exports
  forgotten before (and knobs restored after) each test.
* ``jsoc_emulator_factory``: ``factory(**config)`` starts extra emulators with their own
  settings; they are stopped at teardown.
* ``jsoc_emulator_config``: the session emulator's settings; override this fixture in a
  ``conftest.py`` to change them (default: ``export_delay=1.0``, everything else as
  :class:`~prefect_jsoc.emulator.EmulatorConfig`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

import pytest

if TYPE_CHECKING:  # imported lazily so that loading the plugin costs nothing
    from .server import JsocEmulator

__all__ = [
    "EmulatorFactory",
    "jsoc_emulator",
    "jsoc_emulator_config",
    "jsoc_emulator_factory",
    "jsoc_emulator_session",
]


class EmulatorFactory(Protocol):
    """Type of the ``jsoc_emulator_factory`` fixture."""

    def __call__(self, **config: Any) -> JsocEmulator:
        """Start an emulator with ``config`` (``EmulatorConfig`` fields) and return it."""
        ...


@pytest.fixture(scope="session")
def jsoc_emulator_config() -> dict[str, Any]:
    """Settings of the session emulator (``EmulatorConfig`` fields)."""
    return {"export_delay": 1.0}


@pytest.fixture(scope="session")
def jsoc_emulator_session(
    tmp_path_factory: pytest.TempPathFactory, jsoc_emulator_config: dict[str, Any]
) -> Iterator[JsocEmulator]:
    """One running emulator shared by the whole test session."""
    from .server import JsocEmulator

    config = dict(jsoc_emulator_config)
    config.setdefault("data_dir", tmp_path_factory.mktemp("jsoc-emulator"))
    emulator = JsocEmulator(**config)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.close()


@pytest.fixture()
def jsoc_emulator(jsoc_emulator_session: JsocEmulator) -> Iterator[JsocEmulator]:
    """The session emulator, reset for this test: zero stats, default knobs, no exports."""
    emulator = jsoc_emulator_session
    emulator.start()  # a no-op unless a test stopped it
    emulator.restore_defaults()
    emulator.forget_exports()
    emulator.reset()
    yield emulator
    emulator.start()
    emulator.restore_defaults()


@pytest.fixture()
def jsoc_emulator_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorFactory]:
    """Start extra emulators with custom settings; all are stopped at teardown."""
    from .server import JsocEmulator

    started: list[JsocEmulator] = []

    def factory(**config: Any) -> JsocEmulator:
        config.setdefault("data_dir", tmp_path_factory.mktemp("jsoc-emulator-extra"))
        emulator = JsocEmulator(**config)
        emulator.start()
        started.append(emulator)
        return emulator

    yield factory
    for emulator in reversed(started):
        emulator.close()
