"""A throw-away PostgreSQL cluster on loopback, for a Prefect server that several hosts share.

Debian's ``postgresql-<ver>`` package puts ``initdb`` and ``pg_ctl`` in ``/usr/lib/postgresql/<ver>/bin``
(not on ``PATH``). ``initdb`` refuses to run as root, so under root every PostgreSQL command runs as
the ``postgres`` system user, in a directory made for it under ``/tmp`` (pytest's own temporary
directories are private to root). The cluster listens on ``127.0.0.1`` only, trusts local connections
(no password), and runs with ``fsync`` off: it holds test data for a few minutes.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ._processes import free_port

__all__ = ["PREFERRED_VERSION", "PostgresServer", "find_postgres_bin"]

PREFERRED_VERSION = "15"
_DEBIAN_ROOT = Path("/usr/lib/postgresql")
_DATABASE = "prefect"


def find_postgres_bin() -> Path | None:
    """The bin directory of an installed PostgreSQL (version 15 first, else the newest), or None."""
    candidates = [_DEBIAN_ROOT / PREFERRED_VERSION / "bin"]
    if _DEBIAN_ROOT.is_dir():
        others = sorted(_DEBIAN_ROOT.iterdir(), key=lambda p: int(p.name) if p.name.isdigit() else 0, reverse=True)
        candidates += [p / "bin" for p in others]
    for bin_dir in candidates:
        if (bin_dir / "initdb").is_file() and (bin_dir / "pg_ctl").is_file():
            return bin_dir
    return None


@dataclass
class _RunAs:
    """Who runs the PostgreSQL commands: the ``postgres`` user when we are root, else ourselves."""

    uid: int | None = None
    gid: int | None = None

    @classmethod
    def choose(cls) -> _RunAs:
        if os.geteuid() != 0:
            return cls()
        try:
            entry = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise RuntimeError("running as root, and there is no 'postgres' user to run initdb as") from exc
        return cls(entry.pw_uid, entry.pw_gid)

    def popen_kwargs(self) -> dict:
        if self.uid is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def own(self, path: Path) -> None:
        if self.uid is not None:
            os.chown(path, self.uid, self.gid)


class PostgresServer:
    """``initdb`` + ``pg_ctl start`` in a temporary directory; use as a context manager.

    Attributes:
        port: The loopback port it listens on.
        url: SQLAlchemy URL of its ``prefect`` database for Prefect's asyncpg driver.
        root: The temporary directory (data directory, socket, log).
        version: The server's major version (the bin directory's parent name).
    """

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.version = bin_dir.parent.name
        self.port = free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{_DATABASE}"
        self.root = Path(tempfile.mkdtemp(prefix="prefect-jsoc-pg-", dir="/tmp"))
        self.data_dir = self.root / "data"
        self.log_path = self.root / "postgres.log"
        self._as = _RunAs.choose()
        self._started = False

    def _run(self, *args: str, timeout: float = 120.0) -> None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        done = subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            **self._as.popen_kwargs(),
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{args[0]} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}\n{self._log_tail()}"
            )

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return ""

    def __enter__(self) -> PostgresServer:
        try:
            self.root.chmod(0o700)
            self._as.own(self.root)
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            )
            options = (
                f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c max_connections=200"
            )
            self._started = True
            self._run(
                "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path), "-w", "-t", "60", "-o", options, "start"
            )
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", _DATABASE)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self._started and (self.data_dir / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "-t", "30", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
