"""Run one flow against the Prefect API in ``PREFECT_API_URL``; write facts about the run to JSON.

Executed by the UI test in a subprocess (so the test session's own Prefect state is untouched)::

    python tests/ui/_ui_flow.py fetch          OUT.json DATA_DIR  # jsoc_fetch, OR query, JSOC emulator
    python tests/ui/_ui_flow.py fetch-failures OUT.json DATA_DIR  # the same; 2 of the 4 blocks fail
    python tests/ui/_ui_flow.py standin        OUT.json DATA_DIR  # a look-alike, to debug the harness

The ``fetch`` run is the one the screenshots show: two series over two intervals (four blocks),
fetched from the bundled JSOC emulator on loopback. The JSON names what the UI should show: the
flow run's id and name, the block labels, the steps each block has a task run for, the server.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

SERIES = ("hmi.m_45s", "aia.lev1_euv_12s")
INTERVALS = (
    ("2014-01-01T00:00:00", "2014-01-01T00:02:00"),
    ("2014-01-01T06:00:00", "2014-01-01T06:02:00"),
)


def run_fetch(data: Path, **emulator: Any) -> dict[str, Any]:
    """``jsoc_fetch`` of 2 series x 2 intervals from a fresh JSOC emulator (``emulator``: its knobs)."""
    from prefect_jsoc.emulator import JsocEmulator

    with JsocEmulator(export_delay=1.0, seed=7, **emulator) as emu:
        os.environ["PREFECT_JSOC_SERVER_URL"] = emu.url
        os.environ["PREFECT_JSOC_EMAIL"] = "ui-test@example.com"
        from prefect_jsoc.artifacts import block_key
        from prefect_jsoc.flows import jsoc_fetch
        from prefect_jsoc.query import or_queries
        from prefect_jsoc.results import STAGES

        # One OR query per instrument (their segments differ): 2 series x 2 intervals = 4 blocks.
        queries = or_queries(series=[SERIES[0]], intervals=list(INTERVALS), segments=["magnetogram"])
        queries += or_queries(series=[SERIES[1]], intervals=list(INTERVALS), wavelength=171, segments=["image"])
        # fail_on_error keeps its default (True): a run with failed blocks ends Failed and says why.
        state = jsoc_fetch(queries, path=str(data), return_state=True)
        facts: dict[str, Any] = {
            "labels": [q.label for q in queries],
            "steps": list(STAGES),
            "record_tables": [block_key(q) for q in queries],
            "server_url": emu.url,
            "emulator": emu.stats(),
        }
    result = state.result(raise_on_failure=False)
    result = getattr(result, "result", result)  # a JsocFetchError carries the FetchResult
    if hasattr(result, "blocks"):
        facts.update(
            files=len(result.files),
            failed=[f"{b.label} ({b.failed_step}): {b.error}" for b in result.failed],
            failed_blocks=[{"label": b.label, "step": b.failed_step} for b in result.failed],
            # What the server recorded (packed exports, fallbacks and re-stages add runs); the UI's
            # header must show the same number.
            task_runs=_recorded_task_runs(state.state_details.flow_run_id),
        )
    return {"state": state, **facts}


def _recorded_task_runs(flow_run_id: Any) -> int:
    """The flow run's task runs as the API has them, once the count stops growing (it lags a little)."""
    import time

    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    seen, stable_since = -1, time.monotonic()
    with get_client(sync_client=True) as client:
        while time.monotonic() - stable_since < 3.0:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            finished = sum(1 for r in runs if r.state is not None and r.state.is_final())
            if finished != seen:
                seen, stable_since = finished, time.monotonic()
            time.sleep(0.25)
    return seen


def run_fetch_with_failures(data: Path) -> dict[str, Any]:
    """The same fetch, but the emulator refuses exports of more than 5 records (JSOC's status 4).

    Each series' two blocks are packed into one export, which JSOC refuses; exported one by one, the
    HMI blocks (3 records each) complete and the AIA blocks (11 records each) fail in ``stage``.
    """
    return run_fetch(data, max_export_records=5)


def run_standin(data: Path) -> dict[str, Any]:
    """A look-alike of ``jsoc_fetch`` with no JSOC behind it: same names and kinds of artifact."""
    from prefect import flow, task
    from prefect.artifacts import (
        create_markdown_artifact,
        create_progress_artifact,
        create_table_artifact,
        update_progress_artifact,
    )

    labels = [f"{s} {a[:10]} {a[11:16]}–{b[11:16]}" for s in SERIES for a, b in INTERVALS]
    server = "http://127.0.0.1:9/"

    @task(task_run_name="search · {label}")
    def search(label: str) -> int:
        time.sleep(0.5)
        return 3

    @flow(name="jsoc-fetch", flow_run_name="fetch · " + "+".join(sorted(SERIES)) + f" · {len(labels)} blocks")
    def standin() -> int:
        progress = create_progress_artifact(progress=0.0, key="jsoc-fetch-progress", description="Validating")
        counts = search.map(labels).result()
        update_progress_artifact(artifact_id=progress, progress=100.0, description="4 of 4 block(s) complete")
        create_table_artifact(
            key="jsoc-records-per-block",
            table=[{"block": label, "records": n} for label, n in zip(labels, counts)],
            description=f"Records found per block on {server}",
        )
        create_markdown_artifact(
            key="jsoc-export-summary",
            markdown=f"## JSOC fetch: {len(labels)} of {len(labels)} blocks complete\n\n- **Server:** `{server}`\n\n"
            + "| block | status |\n|---|---|\n"
            + "".join(f"| {label} | ok |\n" for label in labels),
            description="JSOC exports: request ids, sizes, durations and failures",
        )
        return sum(counts)

    return {
        "state": standin(return_state=True),
        "labels": labels,
        "steps": ["search"],
        "server_url": server,
        "record_tables": [],
        "failed": [],
        "failed_blocks": [],
    }


def main(argv: list[str]) -> int:
    kind, out, data = argv[1], Path(argv[2]), Path(argv[3])
    started = time.monotonic()
    runs = {"fetch": run_fetch, "fetch-failures": run_fetch_with_failures, "standin": run_standin}
    facts = runs[kind](data)
    state = facts.pop("state")
    facts.update(
        kind=kind,
        flow_run_id=str(state.state_details.flow_run_id),
        state=state.type.value,
        message=state.message,
        task_runs=facts.get("task_runs", len(facts["labels"]) * len(facts["steps"])),
        seconds=round(time.monotonic() - started, 1),
    )
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        facts["flow_run_name"] = client.read_flow_run(state.state_details.flow_run_id).name
    out.write_text(json.dumps(facts, indent=2, default=str))
    print(f"flow run {facts['flow_run_name']!r} ({facts['flow_run_id']}): {facts['state']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
