"""Downloads in real processes: racing writers, SIGKILL mid-block, Ctrl-C and SIGTERM.

Each test runs ``_download_script.py`` (the download engine, alone or in a Prefect flow) in a
subprocess that shares the test's Prefect API, against the emulator with its bandwidth knob, and
checks what a user cares about: every file under a final name is the one the emulator serves,
nothing partial or temporary is left, and the next run fetches only what is missing (counted by
the emulator).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from jsoc_test_support import EMAIL, wait_until

from prefect_jsoc import JsocQuery, JsocSettings
from prefect_jsoc.downloads import RECORD_DIR, download_manifest
from prefect_jsoc.emulator import JsocEmulator
from prefect_jsoc.exports import stage_export, wait_for_export
from prefect_jsoc.models import ExportManifest

from ._support import served_files

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.crash]


@pytest.fixture()
def emu(fresh_emu: JsocEmulator) -> JsocEmulator:
    """This module kills processes: each test gets an emulator (hence Prefect limits) of its own."""
    return fresh_emu


SCRIPT = Path(__file__).with_name("_download_script.py")
SERVE_SCRIPT = Path(__file__).with_name("_serve_download.py")
#: Six hmi.M_45s records (00:00:45 to 00:04:30 TAI), one file each.
QUERY = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00:00", end="2014-01-01T00:04:00", segments=["magnetogram"])


def requests(emu: JsocEmulator, name: str) -> int:
    return int(emu.stats()["requests"].get(name, 0))


def finals(directory: Path) -> list[Path]:
    """Files under final names (not hidden)."""
    return sorted(p for p in directory.iterdir() if not p.name.startswith(".")) if directory.exists() else []


def leftovers(directory: Path) -> list[str]:
    """Temporary and lock files: anything hidden besides the verification records."""
    if not directory.exists():
        return []
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".") and p.name != RECORD_DIR)


@pytest.fixture()
def manifest(emu: JsocEmulator, settings: JsocSettings) -> ExportManifest:
    staged = wait_for_export(stage_export(QUERY, settings), settings)
    assert len(staged.files) == 6
    emu.reset()
    return staged


@pytest.fixture()
def manifest_file(manifest: ExportManifest, tmp_path: Path) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(manifest.model_dump_json())
    return path


class DownloadProcess:
    """``_download_script.py`` in a subprocess with the test's Prefect API and the emulator's URL."""

    def __init__(self, emu: JsocEmulator, manifest_file: Path, target: Path, mode: str = "direct", **env: str):
        from prefect.settings import PREFECT_API_URL

        self.env = dict(
            os.environ,
            PREFECT_API_URL=str(PREFECT_API_URL.value()),
            # A server URL of the test's own gives its processes their own download-connection limit
            # (limits are per server URL; the files come from the manifest's URLs, and nothing else is
            # asked of the server). A killed process's slot comes back only when its lease expires,
            # which the test harness's Prefect server, running no services, never does: neither the
            # test's own re-run nor the next test may wait for it.
            PREFECT_JSOC_SERVER_URL=f"{emu.url}limits-of-{target.parent.name}/",
            PREFECT_JSOC_EMAIL=EMAIL,
            PREFECT_JSOC_RETRY_BACKOFF="0.05",
            PREFECT_JSOC_MIN_DOWNLOAD_RATE="0",  # slow on purpose here
            PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW="ignore",
            **env,
        )
        self.args = [sys.executable, str(SCRIPT), str(manifest_file), str(target), mode]
        if mode == "serve":
            self.args = [sys.executable, str(SERVE_SCRIPT)]
            self.env["PREFECT_RUNNER_POLL_FREQUENCY"] = "1"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> DownloadProcess:
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    def finish(self, timeout: float) -> tuple[int, str, str]:
        """Wait for the process to end (killing it after ``timeout``); return (code, stdout, stderr)."""
        assert self.proc is not None
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"the process did not end within {timeout:.0f} s:\n{err[-3000:]}") from None
        return self.proc.returncode, out, err

    def result(self, timeout: float = 180.0) -> dict[str, object]:
        code, out, err = self.finish(timeout)
        assert code == 0, err[-4000:]
        lines = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
        assert lines, out[-2000:] + err[-2000:]
        return json.loads(lines[-1][len("RESULT ") :])

    def __enter__(self) -> DownloadProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.terminate()  # lets flow.serve() stop the runs it started
            try:
                self.proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.communicate()


def own_limits(settings: JsocSettings, emu: JsocEmulator, tmp_path: Path) -> JsocSettings:
    """``settings`` with the test's own download-connection limit (the same one as its processes).

    A process that another test killed keeps its slot of the emulator's own limit until the lease
    expires, which never happens on the test harness's Prefect server (it runs no services).
    """
    return settings.model_copy(update={"server_url": f"{emu.url}limits-of-{tmp_path.name}/"})


def assert_served(emu: JsocEmulator, manifest: ExportManifest, files: list[Path]) -> None:
    """Every file is byte for byte what the emulator serves for it."""
    served = served_files(emu, str(manifest.request_id))
    for path in files:
        assert path.read_bytes() == served[path.name], path


def test_two_processes_downloading_one_export_into_one_folder_write_each_file_once(
    emu: JsocEmulator, manifest: ExportManifest, manifest_file: Path, tmp_path: Path
) -> None:
    emu.configure(bandwidth=1_000)  # about 11 s per file: the second process starts mid-transfer
    target = tmp_path / "data"
    wide = {"PREFECT_JSOC_MAX_CONNECTIONS": "12"}  # both processes get connections at once: a real race
    with (
        DownloadProcess(emu, manifest_file, target, **wide) as first,
        DownloadProcess(emu, manifest_file, target, **wide) as second,
    ):
        first.start()
        wait_until(lambda: emu.stats()["downloads_now"] >= 6, 60, "the first process transferring every file")
        second.start()
        one, two = first.result(), second.result()
    gets = requests(emu, "file:GET")

    files = finals(target)
    assert sorted(p.name for p in files) == sorted(f.filename for f in manifest.files)
    assert_served(emu, manifest, files)
    # One writer per file: the second process waited for the first, found each file verified and
    # skipped it, so every file crossed the wire once.
    assert gets == len(manifest.files)
    assert (one["downloaded"], one["skipped"], two["downloaded"], two["skipped"]) == (6, 0, 0, 6)
    assert leftovers(target) == []


def test_a_download_killed_mid_block_keeps_its_finished_files_and_fetches_only_the_rest(
    emu: JsocEmulator, settings: JsocSettings, manifest: ExportManifest, manifest_file: Path, tmp_path: Path
) -> None:
    emu.configure(bandwidth=20_000)  # about 0.6 s per file, one connection
    target = tmp_path / "data"

    with DownloadProcess(emu, manifest_file, target).start() as process:

        def mid_block() -> bool:
            if not process.alive():
                raise AssertionError(
                    "the download ended before it was killed mid-block: " + process.finish(5)[2][-3000:]
                )
            # Two files renamed while the transfer of another one is still going on at the server.
            return len(finals(target)) >= 2 and emu.stats()["downloads_now"] >= 1

        wait_until(mid_block, 90, "two files renamed while the block is still downloading", interval=0.01)
        process.signal(signal.SIGKILL)
        process.finish(30)
    kept = {p.name: p.read_bytes() for p in finals(target)}
    assert 2 <= len(kept) < len(manifest.files)
    assert_served(emu, manifest, finals(target))  # complete and verified, though the block was not
    emu.configure(bandwidth=None)
    emu.reset()

    # A second connection: the killed process's slot returns only when its lease expires (a minute).
    result = download_manifest(
        manifest, target, own_limits(settings, emu, tmp_path).model_copy(update={"max_connections": 2})
    )

    assert requests(emu, "file:GET") == len(manifest.files) - len(kept)  # only the missing files
    assert (result.downloaded, result.skipped) == (len(manifest.files) - len(kept), len(kept))
    assert {name: (target / name).read_bytes() for name in kept} == kept
    assert_served(emu, manifest, finals(target))
    assert leftovers(target) == []  # the killed writer's temporary and lock files were cleaned up


@pytest.mark.parametrize(
    ("mode", "sig"),
    [
        ("direct", signal.SIGINT),
        ("flow-main", signal.SIGTERM),
        ("flow-thread", signal.SIGTERM),
        ("flow-thread", signal.SIGINT),
    ],
)
def test_ctrl_c_and_sigterm_stop_a_download_promptly_and_a_rerun_resumes(
    mode: str,
    sig: int,
    emu: JsocEmulator,
    settings: JsocSettings,
    manifest: ExportManifest,
    manifest_file: Path,
    tmp_path: Path,
) -> None:
    emu.configure(bandwidth=1_000)  # about 11 s per file, over a minute for the block
    target = tmp_path / "data"

    with DownloadProcess(emu, manifest_file, target, mode).start() as process:

        def first_file_done() -> bool:
            if not process.alive():
                raise AssertionError("the download ended early: " + process.finish(5)[2][-3000:])
            return len(finals(target)) >= 1 and emu.stats()["downloads_now"] >= 1

        wait_until(first_file_done, 90, "a first file renamed and the next one in flight")
        process.signal(sig)
        # Far less than the ~55 s the rest of the block would take: the signal was not swallowed.
        code, out, err = process.finish(20)
    assert code != 0 and "RESULT" not in out, err[-3000:]
    kept = {p.name: p.read_bytes() for p in finals(target)}
    assert 1 <= len(kept) < len(manifest.files)
    assert_served(emu, manifest, finals(target))
    assert leftovers(target) == []  # temporary files removed, locks released
    emu.configure(bandwidth=None)
    emu.reset()

    result = download_manifest(manifest, target, own_limits(settings, emu, tmp_path))

    assert requests(emu, "file:GET") == len(manifest.files) - len(kept)
    assert (result.downloaded, result.skipped) == (len(manifest.files) - len(kept), len(kept))
    assert_served(emu, manifest, finals(target))


def test_a_run_cancelled_from_the_ui_is_cancelled_within_seconds_and_resumes(
    emu: JsocEmulator, settings: JsocSettings, manifest: ExportManifest, manifest_file: Path, tmp_path: Path
) -> None:
    from prefect import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.deployments import run_deployment
    from prefect.states import Cancelling

    emu.configure(bandwidth=1_000)  # about 11 s per file, over a minute for the block
    target = tmp_path / "data"
    with DownloadProcess(emu, manifest_file, target, "serve").start() as server, get_client(sync_client=True) as client:

        def deployment_ready() -> bool:
            if not server.alive():
                raise AssertionError("flow.serve() ended: " + server.finish(5)[2][-3000:])
            try:
                client.read_deployment_by_name("download-served/cancel-test")
            except Exception:  # noqa: BLE001 - not registered yet
                return False
            return True

        wait_until(deployment_ready, 120, "the served deployment")
        run = run_deployment(
            "download-served/cancel-test",
            timeout=0,
            parameters={"manifest_json": manifest.model_dump_json(), "path": str(target)},
        )
        wait_until(
            lambda: len(finals(target)) >= 1 and emu.stats()["downloads_now"] >= 1,
            120,
            "the run's first file renamed and the next one in flight",
        )

        client.set_flow_run_state(run.id, Cancelling(message="cancelled from the UI"), force=True)

        wait_until(
            lambda: client.read_flow_run(run.id).state.type == StateType.CANCELLED, 30, "the flow run to be Cancelled"
        )
        wait_until(
            lambda: emu.stats()["downloads_now"] == 0 and leftovers(target) == [],
            20,
            "the run's transfers to stop and its temporary files to go",
        )
    kept = {p.name: p.read_bytes() for p in finals(target)}
    assert 1 <= len(kept) < len(manifest.files)
    assert_served(emu, manifest, finals(target))
    emu.configure(bandwidth=None)
    emu.reset()

    result = download_manifest(manifest, target, own_limits(settings, emu, tmp_path))

    assert requests(emu, "file:GET") == len(manifest.files) - len(kept)
    assert (result.downloaded, result.skipped) == (len(manifest.files) - len(kept), len(kept))
