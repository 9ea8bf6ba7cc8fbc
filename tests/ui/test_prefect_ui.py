"""What a person sees in the Prefect UI after ``jsoc_fetch``: checked in headless Chromium.

A real ``prefect server start`` on loopback; ``jsoc_fetch`` of an OR query (2 series x 2 intervals)
against the bundled JSOC emulator, run in a subprocess; then the flow run page in Chromium, driven
by Playwright: readable task-run names per block and step, the records tables, the export summary
and the progress artifact -- and, for a run where JSOC refuses two of the exports, that the failed
blocks, their step and JSOC's reason are on the page.

Screenshots go to each test's tmp dir; with ``PREFECT_JSOC_UPDATE_SCREENSHOTS=1`` the passing
happy-path test also copies the default UI's ones to ``docs/ui-*.png``. The browser is Debian's ``chromium``
(installed by the fixtures if missing and possible) driven by Playwright's Python package; without
them the tests skip and say why.

Run them alone with ``python -m pytest tests/ui -m ui -q``.
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
#: Screen size for the zoomed timeline (the graph in full-screen mode).
TIMELINE_VIEWPORT = {"width": 1440, "height": 900}


class Checks:
    """Soft checks: every one runs (so every screenshot gets taken), failures are reported at the end."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def __call__(self, what: str, check: Callable[[int], None]) -> None:
        try:
            check(WAIT_AFTER_PROBLEM_MS if self.problems else WAIT_MS)
        except AssertionError as exc:
            first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
            self.problems.append(f"{what}: {first}")


def _visible(locator: Any) -> Callable[[int], None]:
    from playwright.sync_api import expect

    return lambda timeout: expect(locator.first).to_be_visible(timeout=timeout)


def _text(page: Any, pattern: str) -> Any:
    return page.get_by_text(re.compile(pattern))


def _open_tab(page: Any, name: str) -> None:
    """Click a tab of the run page (V1: ``li.p-tab``, V2: ``button[role=tab]``, both in a tablist)."""
    page.get_by_role("tablist").get_by_text(name, exact=True).first.click()


def _open_run_page(
    page: Any, server: Any, ui_settings: dict[str, Any], ui: str, run: dict[str, Any], check: Checks, state: str
) -> None:
    """Go to the flow run page and check its header: run name, final state, task-run count, graph."""
    from playwright.sync_api import expect

    base = (ui_settings.get(f"{ui}_base_url") or "/").rstrip("/")
    page.goto(f"{server.url}{base}/runs/flow-run/{run['flow_run_id']}")
    expect(page.get_by_text(run["flow_run_name"], exact=True).first).to_be_visible(timeout=WAIT_MS)
    check(f"run state {state}", _visible(_text(page, rf"^\s*{state}\s*$")))
    check("task-run count in the header", _visible(_text(page, rf"^\s*{run['task_runs']} Task runs?\s*$")))
    check("flow-run graph", _visible(page.locator("canvas")))


def _check_task_runs(page: Any, run: dict[str, Any], check: Checks) -> None:
    """Task Runs tab: each block appears as '<step> · <label>'; no run has a generated name."""
    from playwright.sync_api import expect

    _open_tab(page, "Task Runs")
    step_re = "|".join(map(re.escape, run["steps"]))
    for label in run["labels"]:
        named = _text(page, rf"^\s*({step_re}) · {re.escape(label)}\s*$")
        check(f"a task run named '<step> · {label}'", _visible(named))
    # Prefect's fallback names ("await_export-e84") say neither what the run does nor for which block.
    check(
        "no task run with a generated name like 'download-0f1'",
        lambda t: expect(_text(page, rf"^\s*({step_re})-[0-9a-f]{{3}}\s*$")).to_have_count(0, timeout=t),
    )


def _wait_for_frames(page: Any, frames: int = 3) -> None:
    """Let the canvas draw a few frames (a condition on the page, not a fixed sleep)."""
    for _ in range(frames):
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => done()))")


def _timeline(page: Any, screenshots: Any, name: str, publish: bool) -> None:
    """Screenshot the flow-run graph in full-screen mode, zoomed in so the labels are readable."""
    size = page.viewport_size
    page.set_viewport_size(TIMELINE_VIEWPORT)
    tall = (
        "() => { const c = document.querySelector('canvas');"
        " return !!c && c.getBoundingClientRect().height > 0.8 * innerHeight; }"
    )
    try:
        page.locator("canvas").first.click(position={"x": 5, "y": 5})  # focus the graph, on its time axis
        page.keyboard.press("f")  # the graph's own shortcut: toggle full screen
        page.wait_for_function(tall, timeout=WAIT_MS)
        page.mouse.move(TIMELINE_VIEWPORT["width"] / 2, TIMELINE_VIEWPORT["height"] / 2)
        for _ in range(3):  # the run fills about half the width when fitted; zoom in around its middle
            page.mouse.wheel(0, -100)
            _wait_for_frames(page)
        _wait_for_frames(page, 10)
        screenshots(page, name, publish=publish, full_page=False)
        page.keyboard.press("f")
        page.wait_for_function(f"() => !({tall})()", timeout=WAIT_MS)
    finally:
        page.set_viewport_size(size)


def _check_artifact_cards(page: Any, run: dict[str, Any], check: Checks, complete: int) -> None:
    """Artifacts tab: the export summary, progress, records-per-block and each block's records table."""
    _open_tab(page, "Artifacts")
    keys = ["jsoc-export-summary", "jsoc-fetch-progress", "jsoc-records-per-block", *run["record_tables"]]
    for key in keys:
        check(f"artifact card {key}", _visible(page.get_by_text(key, exact=True)))
    blocks = len(run["labels"])
    check("progress artifact's final text", _visible(_text(page, rf"\b{complete} of {blocks} block")))


#: Is the last column of a table really in sight: not cut off by a scrolling box, not under another
#: element (Prefect's V2 artifact page draws its side panel over a too-wide markdown table)?
_LAST_COLUMN_IN_SIGHT_JS = """(table) => {
  const cells = table.rows.length ? table.rows[0].cells : [];
  const last = cells[cells.length - 1];
  if (!last) return 'it has no header row';
  const name = JSON.stringify(last.textContent.trim());
  const r = last.getBoundingClientRect();
  let clip = table.parentElement;
  while (clip && !['auto', 'hidden', 'scroll', 'clip'].includes(getComputedStyle(clip).overflowX))
    clip = clip.parentElement;
  const edge = clip ? clip.getBoundingClientRect().right : innerWidth;
  if (r.right > edge + 2)
    return `its last column ${name} is cut off `
      + `(table ends at x=${Math.round(r.right)}, its box at x=${Math.round(edge)})`;
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  if (!hit || !(hit === last || last.contains(hit)))
    return `its last column ${name} is covered by ` + (hit
      ? `${hit.tagName} ${JSON.stringify((hit.textContent || '').trim().slice(0, 30))}`
      : 'nothing (off screen)');
  return '';
}"""


def _table_in_sight(table: Any) -> Callable[[int], None]:
    def check(timeout: int) -> None:
        table.first.wait_for(timeout=timeout)
        problem = table.first.evaluate(_LAST_COLUMN_IN_SIGHT_JS)
        if problem:
            raise AssertionError(problem)

    return check


def _open_artifact(page: Any, key: str) -> None:
    _open_tab(page, "Artifacts")
    page.get_by_text(key, exact=True).first.click()


def _verdict(run: dict[str, Any], check: Checks, screenshots: Any, expect_failed: list[str]) -> None:
    """Fail with everything that went wrong: the run, then the page."""
    verdict = []
    failed = sorted(b["label"] for b in run.get("failed_blocks") or [])
    if failed != sorted(expect_failed):
        got = "\n  ".join(run.get("failed") or ["none"])
        verdict.append(f"expected failed blocks {sorted(expect_failed)}, got:\n  {got}")
    if not expect_failed and run["state"] != "COMPLETED":
        verdict.append(f"the fetch ended {run['state']}: {run['message']}")
    if check.problems:
        verdict.append("the UI did not show:\n  " + "\n  ".join(check.problems))
    if verdict:
        shots = "\n  ".join(str(p) for p in screenshots.saved)
        pytest.fail("\n".join(verdict) + f"\nscreenshots:\n  {shots}", pytrace=False)


def _require_ui(ui: str, ui_settings: dict[str, Any]) -> str:
    """Skip if the server lacks this UI; the screenshot prefix (only the default UI's go to docs/)."""
    if ui not in ui_settings["available_uis"]:
        pytest.skip(f"this Prefect server does not serve the {ui} UI (it has {ui_settings['available_uis']})")
    return "ui-" if ui == ui_settings["default_ui"] else f"ui-{ui}-"


@pytest.mark.parametrize("ui", UI_VERSIONS)
def test_flow_run_page_shows_fetch(
    ui: str,
    prefect_ui_server: Any,
    fetch_run: dict[str, Any],
    ui_settings: dict[str, Any],
    browser_page: Any,
    screenshots: Any,
) -> None:
    prefix = _require_ui(ui, ui_settings)
    page, check, run = browser_page, Checks(), fetch_run
    labels, blocks = run["labels"], len(run["labels"])

    # The run page: name, state, graph, and one named task run per block and step.
    publish = prefix == "ui-"  # docs/ shows the UI a new visitor lands on
    _open_run_page(page, prefect_ui_server, ui_settings, ui, run, check, "Completed")
    _check_task_runs(page, run, check)
    page.wait_for_load_state("networkidle")
    screenshots(page, f"{prefix}flow-run.png", publish)

    _check_artifact_cards(page, run, check, complete=blocks)
    page.wait_for_load_state("networkidle")
    screenshots(page, f"{prefix}artifacts.png", publish)
    _timeline(page, screenshots, f"{prefix}timeline.png", publish)  # last here: it leaves the graph zoomed

    # The export summary: what was fetched, from where, how long each step took, what failed.
    _open_artifact(page, "jsoc-export-summary")
    check("export summary headline", _visible(_text(page, rf"JSOC fetch: {blocks} of {blocks} blocks complete")))
    check("server in the export summary", _visible(page.get_by_text(run["server_url"])))
    for label in labels:
        check(f"export summary row for {label}", _visible(page.locator("table").get_by_text(label)))
    page.wait_for_load_state("networkidle")
    check("export summary table fits the page", _table_in_sight(page.locator("table")))
    screenshots(page, f"{prefix}export-summary.png", publish)

    # The records table: one row per block with its record count.
    page.go_back()
    _open_artifact(page, "jsoc-records-per-block")
    table = page.locator("table").first
    check("records table", _visible(table))
    check("records column", _visible(table.get_by_text("records", exact=True)))
    for label in labels:
        check(f"records row for {label}", _visible(table.get_by_text(label, exact=True)))
    screenshots(page, f"{prefix}records.png", publish=False)

    _verdict(run, check, screenshots, expect_failed=[])


def test_failed_blocks_are_named_and_explained(
    prefect_ui_server: Any,
    failed_fetch_run: dict[str, Any],
    ui_settings: dict[str, Any],
    browser_page: Any,
    screenshots: Any,
) -> None:
    """JSOC refuses the AIA exports (too many records): the page says which blocks, where and why."""
    ui = ui_settings["default_ui"]
    prefix = _require_ui(ui, ui_settings)
    page, check, run = browser_page, Checks(), failed_fetch_run
    failed = [label for label in run["labels"] if label.startswith("aia.")]
    blocks, complete = len(run["labels"]), len(run["labels"]) - len(failed)

    _open_run_page(page, prefect_ui_server, ui_settings, ui, run, check, "Failed")
    _check_task_runs(page, run, check)
    for label in failed:
        check(f"failed task run 'stage · {label}'", _visible(page.get_by_text(f"stage · {label}", exact=True)))
    page.wait_for_load_state("networkidle")
    screenshots(page, f"{prefix}failed-run.png", publish=False)

    _check_artifact_cards(page, run, check, complete=complete)
    _open_artifact(page, "jsoc-export-summary")
    check("export summary headline", _visible(_text(page, rf"JSOC fetch: {complete} of {blocks} blocks complete")))
    check("Failures section", _visible(page.get_by_role("heading", name="Failures")))
    for label in failed:
        item = page.locator("li").filter(has_text=label).filter(has_text="stage")
        check(f"failure of {label} with its step", _visible(item))
    check("JSOC's reason", _visible(page.get_by_text("too many records", exact=False)))
    page.wait_for_load_state("networkidle")
    check("export summary table fits the page", _table_in_sight(page.locator("table")))
    screenshots(page, f"{prefix}failed-summary.png", publish=False)

    _verdict(run, check, screenshots, expect_failed=failed)
