"""The files a server process shares with its owner: ``server.json`` (pid and port) and ``server.log``."""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["LOG_FILE", "STATE_FILE", "read_port", "write_state"]

STATE_FILE = "server.json"
LOG_FILE = "server.log"


def write_state(state_dir: Path, port: int) -> None:
    """Publish this server process's pid, parent pid and port, atomically (the owner polls for the file)."""
    data = {"pid": os.getpid(), "parent_pid": os.getppid(), "port": port}
    partial = state_dir / f".{STATE_FILE}.tmp"
    partial.write_text(json.dumps(data))
    partial.replace(state_dir / STATE_FILE)


def read_port(state_dir: Path) -> int | None:
    """The port the server in ``state_dir`` listens on, or ``None`` until it has bound one."""
    state_file = state_dir / STATE_FILE
    if not state_file.exists():
        return None
    return int(json.loads(state_file.read_text())["port"])
