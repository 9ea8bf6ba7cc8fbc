"""Smoke test of the benchmark harness: ``python -m bench --quick`` on the two cheapest scenarios (D, F).

It checks only that the harness runs and writes well-formed JSON with the expected keys. There is
no timing assertion: the numbers of a one-repeat run on a shared machine mean nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_bench_quick_writes_wellformed_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = dict(os.environ, PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_HOME=str(tmp_path / "home"))
    env.pop("PREFECT_API_URL", None)  # the bench starts its own test server
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "D,F", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert out.exists(), f"no JSON written; exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    doc = json.loads(out.read_text())
    assert {"command", "machine", "scenarios", "repeats", "quick", "wall_seconds", "bars"} <= set(doc)
    assert {"cpu_count", "python", "versions"} <= set(doc["machine"])
    assert {"prefect", "drms", "parfive", "sunpy"} <= set(doc["machine"]["versions"])
    assert [s["key"] for s in doc["scenarios"]] == ["D", "F"]
    for scenario in doc["scenarios"]:
        assert scenario["error"] is None, scenario["error"]
        assert {"key", "title", "params", "contenders", "headlines", "checks", "notes"} <= set(scenario)
        assert scenario["contenders"] and scenario["headlines"]
        for contender in scenario["contenders"].values():
            assert {"runs", "median", "unit"} <= set(contender)
            assert len(contender["runs"]) == doc["repeats"] or scenario["key"] == "F"
        for headline in scenario["headlines"]:
            assert {"label", "ratio", "bar", "pass"} <= set(headline)
    assert all({"scenario", "what", "verdict"} <= set(row) for row in doc["bars"])
    assert "scenario" in proc.stdout and "verdict" in proc.stdout and "THE BARS" in proc.stdout
