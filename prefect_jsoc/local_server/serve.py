"""The server process: ``python -m prefect_jsoc.local_server --parent-pid PID --state-dir DIR``.

It binds a free loopback port, publishes it in the state directory, and runs Prefect's API server
until it is told to stop or its parent is gone.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import sys
from pathlib import Path

from prefect_jsoc.local_server.parent_watch import ParentWatch, ask_kernel_for_sigterm_on_parent_death
from prefect_jsoc.local_server.state_files import write_state

__all__ = ["main", "serve"]


def serve(parent_pid: int, state_dir: Path, die_with_parent_thread: bool = False) -> None:
    """Run the API server until told to stop or until ``parent_pid`` is no longer our parent.

    Args:
        parent_pid: The pid of the process that owns the server.
        state_dir: Where to write ``server.json`` (pid and port) once the port is bound.
        die_with_parent_thread: Also ask the kernel for SIGTERM when the parent's starting thread exits.
    """
    # SIGTERM ends the process through SystemExit, so the clean-up below runs (uvicorn re-sends a
    # SIGTERM it handled to this handler once it has shut down).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    watch = ParentWatch(parent_pid)
    try:
        if die_with_parent_thread:
            ask_kernel_for_sigterm_on_parent_death()
        if not watch.parent_alive():  # the parent died before the kernel could be asked to tell us
            return
        watch.start()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(2048)
        write_state(state_dir, sock.getsockname()[1])

        import uvicorn
        from prefect.server.api.server import create_app

        from prefect_jsoc.local_server.sqlite_writes import queue_sqlite_writes

        queue_sqlite_writes()
        config = uvicorn.Config(create_app(final=True), lifespan="on", log_level="error", timeout_graceful_shutdown=5)
        server = uvicorn.Server(config)
        watch.server = server
        server.run(sockets=[sock])
    finally:
        if not watch.parent_alive():  # nobody else will clean up after us
            shutil.rmtree(state_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the server process: parse the arguments, serve, then exit at once."""
    parser = argparse.ArgumentParser(description="A Prefect API server that exits with its parent process.")
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--die-with-parent-thread", action="store_true")
    args = parser.parse_args(argv)
    try:
        serve(args.parent_pid, args.state_dir, args.die_with_parent_thread)
    except SystemExit:
        pass
    # The server has shut down and closed its database; skip the interpreter's teardown of a large
    # heap (seconds of garbage collection) so that the command waiting for us can exit at once.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
