"""Fixtures for the UI tests: a browser (installed if missing), a Prefect server, fetch runs.

Order matters for a fast skip: the browser is looked for (and installed) before the server starts,
so a machine that cannot have Chromium skips in seconds with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _ui_browser import ensure_chromium, ensure_playwright, launch  # noqa: E402
from _ui_server import PrefectServer, run_in_subprocess  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FLOW_SCRIPT = Path(__file__).with_name("_ui_flow.py")
FLOW_TIMEOUT = 240.0
#: Tall enough for the run page's graph, tabs and a dozen task runs: Prefect's V1 UI scrolls inside
#: its own panel, so its "full page" screenshots are only as tall as the viewport.
VIEWPORT = {"width": 1440, "height": 1400}


@pytest.fixture(scope="module")
def chromium() -> str:
    """The path of a headless-capable Chromium, with Playwright importable; else skip."""
    path, why = ensure_chromium()
    if path is None:
        pytest.skip(f"UI test needs a browser: {why}")
    why = ensure_playwright()
    if why:
        pytest.skip(f"UI test needs Playwright's Python package: {why}")
    return path


@pytest.fixture(scope="module")
def prefect_ui_server(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """``prefect server start`` on a free loopback port with its own home; stopped afterwards."""
    base = tmp_path_factory.mktemp("prefect-ui-server")
    with PrefectServer(base / "home", base / "server.log") as server:
        yield server


def _api(server: PrefectServer, method: str, path: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{server.api_url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read() or b"null")


def _wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.25)


def _run_flow(server: PrefectServer, kind: str, base: Path) -> dict[str, Any]:
    """Run ``_ui_flow.py KIND`` against ``server`` in a subprocess; facts about the run."""
    out, log = base / "run.json", base / "flow.log"
    env = server.env(
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        PREFECT_RESULTS_LOCAL_STORAGE_PATH=str(base / "results"),
    )
    started = time.monotonic()
    done = run_in_subprocess(
        # A relative download path (the run's cwd is `base`) reads like a user's in the summary.
        [sys.executable, str(FLOW_SCRIPT), kind, str(out), "data/jsoc"],
        env=env,
        log_path=log,
        timeout=FLOW_TIMEOUT,
        cwd=base,
    )
    flow_log = log.read_text(errors="replace")
    if done.returncode != 0 or not out.exists():
        pytest.fail(f"the {kind} flow subprocess exited with {done.returncode}:\n{flow_log[-6000:]}", pytrace=False)
    facts = json.loads(out.read_text())
    facts.update(flow_seconds=time.monotonic() - started, flow_log=flow_log)

    # Task-run states reach the server as events, recorded asynchronously: wait until all are in...
    body = {"flow_runs": {"id": {"any_": [facts["flow_run_id"]]}}}
    expected = facts["task_runs"]
    _wait_for(
        lambda: _api(server, "POST", "/task_runs/count", body) >= expected,
        60,
        f"{expected} task runs to be recorded",
    )
    # ... and none is still running (tasks skipped after a failed step stay Pending as NotReady).
    running = {**body, "task_runs": {"state": {"type": {"any_": ["RUNNING"]}}}}
    _wait_for(
        lambda: _api(server, "POST", "/task_runs/count", running) == 0,
        60,
        "every task run to leave the Running state",
    )
    return facts


@pytest.fixture(scope="module")
def fetch_run(prefect_ui_server: PrefectServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``jsoc_fetch`` of 2 series x 2 intervals from the emulator, run against the server.

    ``PREFECT_JSOC_UI_FLOW=standin`` runs a look-alike flow instead (to debug the harness alone).
    """
    kind = os.environ.get("PREFECT_JSOC_UI_FLOW", "fetch")
    return _run_flow(prefect_ui_server, kind, tmp_path_factory.mktemp("prefect-ui-fetch"))


@pytest.fixture(scope="module")
def failed_fetch_run(prefect_ui_server: PrefectServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same fetch with an emulator that refuses the AIA exports: 2 of 4 blocks fail in stage."""
    if os.environ.get("PREFECT_JSOC_UI_FLOW") == "standin":
        pytest.skip("the stand-in flow has no failure scenario")
    return _run_flow(prefect_ui_server, "fetch-failures", tmp_path_factory.mktemp("prefect-ui-fetch-failures"))


@pytest.fixture(scope="module")
def ui_settings(prefect_ui_server: PrefectServer) -> dict[str, Any]:
    """What the server tells its UI: which UIs it serves (Prefect >= 3.9 has V1 and V2) and the default."""
    try:
        with urllib.request.urlopen(f"{prefect_ui_server.url}/ui-settings", timeout=10) as reply:
            settings = json.loads(reply.read())
    except Exception:  # noqa: BLE001 - older servers: only the V1 UI, at the root
        settings = {}
    settings.setdefault("available_uis", ["v1"])
    settings.setdefault("default_ui", "v1")
    settings["v1_base_url"] = settings.get("v1_base_url") or "/"
    return settings


@pytest.fixture()
def browser_page(chromium: str, tmp_path: Path) -> Iterator[Any]:
    """A fresh headless Chromium page (new profile, so the UI shows its default version)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        try:
            context = launch(playwright, chromium, tmp_path / "chromium-profile", viewport=VIEWPORT)
        except Exception as exc:  # noqa: BLE001 - a browser that will not start is a machine problem
            pytest.skip(f"Chromium at {chromium} is installed but does not start headless: {exc}")
        context.set_default_timeout(30_000)
        page = context.pages[0] if context.pages else context.new_page()
        try:
            yield page
        finally:
            context.close()


class Screenshots:
    """Full-page PNGs in the test's tmp dir, copied to ``docs/`` when asked to.

    ``PREFECT_JSOC_UPDATE_SCREENSHOTS=1`` refreshes ``docs/ui-*.png`` from the screenshots taken
    with ``publish=True`` (whether or not the test passed: look at them before committing);
    without it, and so in CI, the tree is left alone.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.saved: list[Path] = []
        self._to_publish: list[Path] = []

    def __call__(self, page: Any, name: str, publish: bool = True, full_page: bool = True) -> Path:
        path = self.directory / name
        page.screenshot(path=str(path), full_page=full_page)
        self.saved.append(path)
        if publish:
            self._to_publish.append(path)
        return path

    def publish(self) -> list[Path]:
        if os.environ.get("PREFECT_JSOC_UPDATE_SCREENSHOTS") != "1":
            return []
        copied = []
        for path in self._to_publish:
            _write_small_png(path, REPO / "docs" / path.name)
            copied.append(REPO / "docs" / path.name)
        return copied


def _write_small_png(source: Path, target: Path) -> None:
    """Copy a screenshot, as a 256-colour PNG when Pillow is there (a third of the size, same look)."""
    try:
        from PIL import Image
    except ImportError:
        shutil.copyfile(source, target)
        return
    with Image.open(source) as image:
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)


@pytest.fixture()
def screenshots(tmp_path: Path) -> Iterator[Screenshots]:
    """Take screenshots with ``screenshots(page, "ui-x.png")``; see :class:`Screenshots`."""
    shots = Screenshots(tmp_path)
    yield shots
    shots.publish()
