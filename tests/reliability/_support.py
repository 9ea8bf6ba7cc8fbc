"""Helpers of the reliability suite: what the emulator serves, FITS checks, subprocess runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

from jsoc_test_support import EMAIL, cgi

from prefect_jsoc.emulator import JsocEmulator

#: Bytes of each generated FITS file (a 64x64 16-bit image plus headers): small and fast.
FILE_SIZE = 8192
FETCH_SCRIPT = Path(__file__).with_name("_fetch_script.py")
#: Every fault knob, off: used before reading back what the emulator serves.
NO_FAULTS = dict(
    fail_rate=0.0,
    status4_rate=0.0,
    throttle_rate=0.0,
    truncate_rate=0.0,
    drop_rate=0.0,
    latency=0.0,
    bandwidth=None,
    bad_json_rate=0.0,
    non_fits_rate=0.0,
    wrong_length=None,
    stall_downloads=0.0,
    hostile_filenames=None,
)


def served_files(emu: JsocEmulator, request_id: str) -> dict[str, bytes]:
    """``{file name: bytes}`` of a completed export, read straight from the emulator over HTTP."""
    emu.configure(**NO_FAULTS)
    index = cgi(emu, "jsoc_fetch", op="exp_status", requestid=request_id)
    assert str(index["status"]) == "0", index
    out = {}
    for row in index["data"]:
        url = f"{emu.url}{index['dir'].strip('/')}/{row['filename']}"
        with urllib.request.urlopen(url, timeout=30) as resp:
            out[row["filename"]] = resp.read()
    return out


def fits_problem(path: Path) -> str | None:
    """None if ``path`` is a complete FITS file whose image can be read, else what is wrong."""
    from astropy.io import fits

    data = path.read_bytes()
    if not data.startswith(b"SIMPLE  ="):
        return "no SIMPLE card"
    if len(data) % 2880:
        return f"{len(data)} bytes is not a whole number of FITS blocks"
    try:
        with fits.open(path, memmap=False) as hdul:
            hdu = hdul[-1]
            image = hdu.data
            if image is None or image.shape != (hdu.header["NAXIS2"], hdu.header["NAXIS1"]):
                return "no image of the declared shape"
            end = max(int(hdul.fileinfo(i)["datLoc"]) + int(hdul.fileinfo(i)["datSpan"]) for i in range(len(hdul)))
    except Exception as exc:  # noqa: BLE001 - any failure to read is the answer
        return f"astropy cannot read it: {exc}"
    return None if end == len(data) else f"{len(data)} bytes, headers declare {end}"


class DirectoryWatcher:
    """Records every size seen under a final (not hidden) file name while a download runs.

    A file that ever appears under its final name with fewer bytes than it ends with proves a
    partial file was exposed; :meth:`partial_sightings` lists such sightings.
    """

    def __init__(self, directory: Path, interval: float = 0.005) -> None:
        self.directory = directory
        self.interval = interval
        self.seen: dict[str, set[int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="directory-watcher")

    def __enter__(self) -> DirectoryWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                entries = list(os.scandir(self.directory))
            except FileNotFoundError:
                entries = []
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    self.seen.setdefault(entry.name, set()).add(entry.stat().st_size)
                except FileNotFoundError:
                    pass
            self._stop.wait(self.interval)

    def partial_sightings(self) -> dict[str, set[int]]:
        """Final names seen with a size other than their final size."""
        out = {}
        for name, sizes in self.seen.items():
            final = (self.directory / name).stat().st_size if (self.directory / name).exists() else -1
            if sizes - {final}:
                out[name] = sizes
        return out


def query_specs(*blocks: tuple[str, str, str]) -> list[dict[str, str]]:
    """JSON-able query fields for ``_fetch_script.py``: ``(series, start, end)`` per block."""
    return [{"series": s, "start": a, "end": b} for s, a, b in blocks]


class FetchProcess:
    """``_fetch_script.py`` running ``jsoc_fetch`` in a real subprocess, sharing the test's Prefect
    API and result store (passed through the environment)."""

    def __init__(self, emu: JsocEmulator, path: Path, specs: list[dict[str, Any]], **env: str) -> None:
        from prefect.settings import PREFECT_API_URL

        self.env = dict(
            os.environ,
            PREFECT_API_URL=str(PREFECT_API_URL.value()),
            PREFECT_JSOC_SERVER_URL=emu.url,
            PREFECT_JSOC_EMAIL=EMAIL,
            PREFECT_JSOC_RETRY_BACKOFF="0.05",
            PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW="ignore",
            **env,
        )
        assert self.env["PREFECT_RESULTS_LOCAL_STORAGE_PATH"]
        self.args = [sys.executable, str(FETCH_SCRIPT), str(path), json.dumps(specs)]
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> FetchProcess:
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return self

    def kill(self) -> None:
        """SIGKILL the process (no clean-up of any kind can run) and reap it."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(30) == -signal.SIGKILL
        self.proc.communicate()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def run(self, timeout: float = 120.0) -> tuple[dict[str, Any], str]:
        """Run to the end; return the printed result document and the stderr log."""
        self.start()
        assert self.proc is not None
        try:
            out, err = self.proc.communicate(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.communicate()
        assert self.proc.returncode == 0, err[-4000:]
        lines = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
        assert lines, out[-2000:] + err[-2000:]
        return json.loads(lines[-1][len("RESULT ") :]), err

    def __enter__(self) -> FetchProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
