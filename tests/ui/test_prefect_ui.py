"""What a person sees in the Prefect UI after ``jsoc_fetch``: checked in headless Chromium.

A real ``prefect server start`` on loopback, ``jsoc_fetch`` of an OR query (2 series x 2 intervals)
against the bundled JSOC emulator in a subprocess, then the flow run page in Chromium driven by
Playwright: readable task-run names per block and step, the records table, the export summary and
the progress artifact. Screenshots go to the test's tmp dir; with
``PREFECT_JSOC_UPDATE_SCREENSHOTS=1`` the default UI's ones also replace ``docs/ui-*.png``.

The browser comes from Debian's ``chromium`` (installed by the fixtures if missing and possible),
driven by Playwright's Python package; without them the test skips and says why.

Run it alone with ``python -m pytest tests/ui -m ui -q``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = [pytest.mark.ui, pytest.mark.timeout(900)]  # generous: a first run may install Chromium

#: Every UI a Prefect server may serve (3.9 has a React "V2" UI as the default, and the Vue "V1");
#: the ones this server does not have are skipped.
UI_VERSIONS = ("v2", "v1")
#: How long to wait for a piece of text; much shorter once something is already wrong.
WAIT_MS, WAIT_AFTER_PROBLEM_MS = 20_000, 3_000


class Checks:
    """Soft checks: every one runs (so every screenshot gets taken), failures are reported at the end."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    @property
    def timeout(self) -> int:
        return WAIT_AFTER_PROBLEM_MS if self.problems else WAIT_MS

    def __call__(self, what: str, check: Callable[[int], None]) -> None:
        try:
            check(self.timeout)
        except AssertionError as exc:
            first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
            self.problems.append(f"{what}: {first}")


def _run_page_url(server: Any, ui_settings: dict[str, Any], ui: str, flow_run_id: str) -> str:
    base = (ui_settings.get(f"{ui}_base_url") or "/").rstrip("/")
    return f"{server.url}{base}/runs/flow-run/{flow_run_id}"


def _open_tab(page: Any, name: str) -> None:
    """Click a tab of the run page (V1: ``li.p-tab``, V2: ``button[role=tab]``, both in a tablist)."""
    page.get_by_role("tablist").get_by_text(name, exact=True).first.click()


def _text(page: Any, pattern: str) -> Any:
    return page.get_by_text(re.compile(pattern))


@pytest.mark.parametrize("ui", UI_VERSIONS)
def test_flow_run_page_shows_fetch(
    ui: str,
    prefect_ui_server: Any,
    fetch_run: dict[str, Any],
    ui_settings: dict[str, Any],
    browser_page: Any,
    screenshots: Any,
) -> None:
    from playwright.sync_api import expect

    if ui not in ui_settings["available_uis"]:
        pytest.skip(f"this Prefect server does not serve the {ui} UI (it has {ui_settings['available_uis']})")
    # The docs show the UI a new visitor lands on; the other one is checked but not published.
    prefix = "ui-" if ui == ui_settings["default_ui"] else f"ui-{ui}-"
    page = browser_page
    check = Checks()
    labels: list[str] = fetch_run["labels"]
    steps: list[str] = fetch_run["steps"]
    blocks, complete = len(labels), len(labels) - len(fetch_run.get("failed") or [])
    step_re = "|".join(map(re.escape, steps))

    # -- the run page: its name, state, graph, and one readable task run per block and step --------
    page.goto(_run_page_url(prefect_ui_server, ui_settings, ui, fetch_run["flow_run_id"]))
    expect(page.get_by_text(fetch_run["flow_run_name"], exact=True).first).to_be_visible(timeout=WAIT_MS)
    check("run state", lambda t: expect(_text(page, r"^\s*Completed\s*$").first).to_be_visible(timeout=t))
    check(
        "task-run count in the header",
        lambda t: expect(_text(page, rf"^\s*{fetch_run['task_runs']} Task runs?\s*$").first).to_be_visible(timeout=t),
    )
    check("flow-run graph", lambda t: expect(page.locator("canvas").first).to_be_visible(timeout=t))

    _open_tab(page, "Task Runs")
    # Newest first: every block shows up on the first page, as "<step> · <block label>".
    for label in labels:
        check(
            f"a task run named '<step> · {label}'",
            lambda t, label=label: expect(
                _text(page, rf"^\s*({step_re}) · {re.escape(label)}\s*$").first
            ).to_be_visible(timeout=t),
        )
    # Prefect's fallback names ("stage-d2f") say neither what nor which block.
    check(
        "no task run with a generated name (step-xxx)",
        lambda t: expect(_text(page, rf"^\s*({step_re})-[0-9a-f]{{3}}\s*$")).to_have_count(0, timeout=t),
    )
    page.wait_for_load_state("networkidle")
    screenshots(page, f"{prefix}flow-run.png")

    # -- the Artifacts tab: export summary, progress and record tables, one card each -------------
    _open_tab(page, "Artifacts")
    for key in ("jsoc-export-summary", "jsoc-fetch-progress", "jsoc-records-per-block"):
        check(f"artifact card {key}", lambda t, key=key: expect(page.get_by_text(key, exact=True).first).to_be_visible(timeout=t))
    check(
        "progress artifact's final text",
        lambda t: expect(_text(page, rf"\b{complete} of {blocks} block").first).to_be_visible(timeout=t),
    )
    page.wait_for_load_state("networkidle")
    screenshots(page, f"{prefix}artifacts.png")

    # -- the export summary: what was fetched, from where, how long, what failed --------------------
    page.get_by_text("jsoc-export-summary", exact=True).first.click()
    check(
        "export summary headline",
        lambda t: expect(_text(page, rf"JSOC fetch: {complete} of {blocks} blocks complete").first).to_be_visible(timeout=t),
    )
    check("server in the export summary", lambda t: expect(page.get_by_text(fetch_run["server_url"]).first).to_be_visible(timeout=t))
    for label in labels:
        check(
            f"export summary row for {label}",
            lambda t, label=label: expect(page.locator("table").get_by_text(label).first).to_be_visible(timeout=t),
        )
    page.wait_for_load_state("networkidle")
    screenshots(page, f"{prefix}export-summary.png")

    # -- the records table: one row per block with its record count ---------------------------------
    page.go_back()
    _open_tab(page, "Artifacts")
    page.get_by_text("jsoc-records-per-block", exact=True).first.click()
    table = page.locator("table").first
    check("records table", lambda t: expect(table).to_be_visible(timeout=t))
    check("records column", lambda t: expect(table.get_by_text("records", exact=True).first).to_be_visible(timeout=t))
    for label in labels:
        check(
            f"records row for {label}",
            lambda t, label=label: expect(table.get_by_text(label, exact=True).first).to_be_visible(timeout=t),
        )
    screenshots(page, f"{prefix}records.png", publish=False)

    # -- verdict: the run itself, then what the page showed -----------------------------------------
    verdict = []
    if fetch_run["state"] != "COMPLETED":
        verdict.append(f"the fetch ended {fetch_run['state']}: {fetch_run['message']}")
    if fetch_run.get("failed"):
        verdict.append("blocks failed:\n  " + "\n  ".join(fetch_run["failed"]))
    if check.problems:
        verdict.append("the UI did not show:\n  " + "\n  ".join(check.problems))
    if verdict:
        shots = ", ".join(str(p) for p in screenshots.saved)
        pytest.fail("\n".join(verdict) + f"\nscreenshots: {shots}", pytrace=False)
    screenshots.publish()
