"""``JsocEmulator``: the emulator running in its own thread and event loop.

drms is blocking, so the server cannot share the caller's thread or loop: each emulator owns a
daemon thread running an asyncio loop that serves the aiohttp application.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from .app import LOG_SIZE, EmulatorState, create_app
from .config import RUNTIME_KNOBS, EmulatorConfig
from .export_records import IdAllocator
from .exports import ExportManager
from .faults import FaultInjector
from .fitsfiles import FileStore
from .stats import Stats

if TYPE_CHECKING:
    from drms.config import ServerConfig

__all__ = ["JsocEmulator"]

T = TypeVar("T")


class JsocEmulator:
    """A JSOC emulator on a loopback port, usable as a context manager.

    Args:
        config: Base settings; keyword arguments override its fields.
        **overrides: Any :class:`EmulatorConfig` field, e.g. ``export_delay=0.5``.

    Examples:
        ```python
        import drms
        from prefect_jsoc.emulator import JsocEmulator

        with JsocEmulator(export_delay=0.5, seed=1) as emu:
            client = drms.Client(emu.server_config(), email="me@example.com")
            print(client.query("hmi.m_45s[2014.01.01_00:00:00_TAI/5m]", key="T_REC"))
        ```
    """

    def __init__(self, config: EmulatorConfig | None = None, **overrides: Any) -> None:
        cfg = (config or EmulatorConfig()).replace(**overrides)
        self._owns_dir = cfg.data_dir is None
        data_dir = Path(tempfile.mkdtemp(prefix="jsoc-emulator-")) if cfg.data_dir is None else Path(cfg.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        self._config = cfg.replace(data_dir=data_dir)
        self._defaults = self._config
        self._stats = Stats()
        self._faults = FaultInjector(cfg.seed)
        self._ids = IdAllocator(data_dir / "state" / "request-serial")
        self._store = FileStore(data_dir)
        self._log: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)  # kept across restart(), like the stats
        self._state: EmulatorState | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._port = cfg.port

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> JsocEmulator:
        """Start serving; returns once the port is listening.

        Raises:
            OSError: If the port cannot be bound.
        """
        if self._thread is not None:
            return self
        started = threading.Event()
        errors: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run, args=(started, errors), daemon=True, name=f"jsoc-emulator-{self._port}"
        )
        self._thread.start()
        started.wait()
        if errors:
            self._thread.join()
            self._thread = None
            raise errors[0]
        return self

    def stop(self) -> None:
        """Stop serving and wait for the server thread to end."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._thread = None
        self._loop = None

    def close(self) -> None:
        """Stop and delete the temporary data directory, if the emulator made it."""
        self.stop()
        if self._owns_dir and self._config.data_dir is not None:
            shutil.rmtree(self._config.data_dir, ignore_errors=True)

    def restart(self) -> None:
        """Stop and start again on the same port, forgetting every export (ids are never reused).

        The stats and the request log are kept (``reset()`` clears them), so a test can still read
        what happened before the restart.
        """
        self.stop()
        self._state = None
        self.start()

    def __enter__(self) -> JsocEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, started: threading.Event, errors: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
            errors.append(exc)
            started.set()
            loop.close()
            return
        self._loop = loop
        started.set()
        try:
            loop.run_forever()
        finally:
            if self._runner is not None:
                loop.run_until_complete(self._runner.cleanup())
                self._runner = None
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def _current_config(self) -> EmulatorConfig:
        return self._state.config if self._state is not None else self._config

    async def _serve(self) -> None:
        if self._state is None:
            self._state = EmulatorState(
                config=self._config,
                stats=self._stats,
                faults=self._faults,
                exports=ExportManager(self._current_config, self._stats, self._ids, self._faults),
                store=self._store,
                log=self._log,
            )
        sock = socket.socket(socket.AF_INET6 if ":" in self._config.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._config.host, self._port))
            sock.listen(256)
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        runner = web.AppRunner(create_app(self._state), access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self._runner = runner

    # --- access ------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port served."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL with a trailing slash, e.g. ``http://127.0.0.1:8431/``."""
        host = self._config.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self._port}/"

    @property
    def config(self) -> EmulatorConfig:
        """The settings in force."""
        return self._state.config if self._state is not None else self._config

    @property
    def data_dir(self) -> Path:
        """Where generated files are cached."""
        return Path(self._config.data_dir)  # type: ignore[arg-type]

    def server_config(self, name: str = "JSOCEMU") -> ServerConfig:
        """A ``drms.ServerConfig`` pointing at this emulator."""
        from prefect_jsoc.transport import make_server_config

        return make_server_config(self.url, name)

    @contextlib.contextmanager
    def patch_drms_jsoc(self) -> Iterator[JsocEmulator]:
        """Point drms's built-in ``jsoc`` server (what sunpy's JSOCClient uses) here; restored on exit."""
        from drms.config import _server_configs

        missing = object()
        previous = _server_configs.get("jsoc", missing)
        _server_configs["jsoc"] = self.server_config(name="JSOC")
        try:
            yield self
        finally:
            if previous is missing:
                _server_configs.pop("jsoc", None)
            else:
                _server_configs["jsoc"] = previous  # type: ignore[assignment]

    def _call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the server loop (or directly when stopped)."""
        if self._loop is None:
            return fn()

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)

    def stats(self) -> dict[str, Any]:
        """The counters, same document as ``GET /_emulator/stats``."""
        pending = self._state.exports.pending_now() if self._state is not None else 0
        return self._stats.snapshot(pending)

    def reset(self) -> None:
        """Zero the counters and clear the request log (``POST /_emulator/reset``)."""
        self._stats.reset()
        self._call(self._log.clear)

    def log(self) -> list[dict[str, Any]]:
        """The last 10,000 requests, oldest first; the same document as ``GET /_emulator/log``.

        Every entry has:

        * ``t``: Unix time of arrival (float, microsecond resolution) and ``at``, the same instant
          as ISO-8601 UTC with milliseconds (``"2025-11-25T10:00:00.123Z"``);
        * ``kind``: ``CGI``, ``GET`` or ``HEAD``;
        * ``what``: the CGI and op (``jsoc_fetch:exp_request``) or the file path;
        * ``fault``: the fault injected into a CGI reply (``http_503``, ``http_500``, ``bad_json``)
          or None.

        CGI entries with an ``op`` parameter carry ``op``. ``jsoc_fetch`` entries answered without
        a fault also carry ``status`` (the JSOC status of the reply), ``requestid`` (or None),
        ``email`` and ``email_digest`` (of the notify address, or of the export's owner for
        ``exp_status``), ``completes_at`` (Unix time the export completes, or None) and
        ``t_reply``; ``exp_request`` entries add ``outcome``: ``created``, ``duplicate`` (the id of
        an existing export), ``quick`` or ``refused``.

        The log survives :meth:`restart`; :meth:`reset` clears it.
        """
        return self._call(lambda: [dict(e) for e in self._log])

    def forget_exports(self) -> None:
        """Drop every export the server knows (request ids are still never reused)."""
        if self._state is not None:
            self._call(self._state.exports.forget)

    def configure(self, **knobs: Any) -> None:
        """Change settings while running, e.g. ``configure(fail_rate=0.2)``.

        Raises:
            TypeError: If a name is unknown or cannot change at run time (host, port, data_dir).
        """
        bad = set(knobs) - set(RUNTIME_KNOBS)
        if bad:
            raise TypeError(f"Unknown or fixed emulator setting(s): {', '.join(sorted(bad))}.")
        new = self.config.replace(**knobs)
        if self._state is not None:
            self._call(lambda: self._state.set_config(new))  # type: ignore[union-attr]
        self._config = new

    def restore_defaults(self) -> None:
        """Put every knob back to the values the emulator was created with and restart the
        fault generators from the seed, so each test sees the same fault sequence."""
        self.configure(**self._defaults.knobs())
        self._faults.reseed(self.config.seed)
