"""Scenario C: the re-run of A and of B, served from the cache.

Right after each of A's and B's packed first runs of ``jsoc_fetch``, on the same emulator (which
still knows the exports, as JSOC does for days), the same flow runs again in a new process with the
same download directory and Prefect result storage: what a user gets when re-running a script or
a deployment. The emulator's counters, reset between the two runs, must show 0 exports and 0 bytes.
The wall time is reported next to the first run's and next to an empty Prefect flow run's (the
floor of any flow run on this machine).
"""

from __future__ import annotations

from typing import Any

from bench._env import BenchContext, run_worker
from bench._fetchrun import short
from bench._report import ScenarioResult
from bench._timing import median, ratio

TITLE = "C. Re-run of A and of B from the cache: the same jsoc_fetch again"


def run(ctx: BenchContext, shared: dict[str, Any]) -> ScenarioResult:
    from bench import a_two_series, b_eight_days

    done = shared.setdefault("C", {})
    for key, module in (("A", a_two_series), ("B", b_eight_days)):
        if key not in done:  # A or B was not selected: make our first runs and re-runs now (no sunpy)
            module.run(ctx, {"C": done}, with_sunpy=False)
    res = ScenarioResult("C", TITLE, params={"repeats": ctx.repeats})
    for key in ("A", "B"):
        data = done[key]
        first, again, expected = data["first"], data["rerun"], data["expected_files"]
        first_t = [r["wall_seconds"] if r.get("ok") else None for r in first]
        again_t = [r["wall_seconds"] if r and r.get("ok") else None for r in again]
        res.contender(f"{key}: re-run", again_t, runs_detail=[short(r or {}) for r in again])
        res.headline(
            f"{key}: re-run / first run (wall time)",
            ratio(median(again_t), median(first_t)),
            None,
            None,
            per_repeat=[ratio(b, a) for a, b in zip(first_t, again_t)],
        )
        exports = [((r or {}).get("emulator") or {}).get("exports_submitted") for r in again]
        served = [((r or {}).get("emulator") or {}).get("bytes_served") for r in again]
        files = [(r or {}).get("files") for r in again]
        res.check(
            f"{key} re-run: exports submitted (each repeat)",
            exports,
            bool(exports) and all(e == 0 for e in exports),
            bar="= 0",
        )
        res.check(
            f"{key} re-run: bytes served (each repeat)", served, bool(served) and all(s == 0 for s in served), bar="= 0"
        )
        res.check(
            f"{key} re-run: files returned (each repeat)", files, all(f == expected for f in files), bar=f"= {expected}"
        )
        cgi = [
            sum(
                v
                for k, v in (((r or {}).get("emulator") or {}).get("requests") or {}).items()
                if not k.startswith("file:")
            )
            for r in again
        ]
        res.notes.append(f"{key}: CGI calls made by each re-run (not a bar): {cgi}.")
    # Prefect's own floor for a flow run in the same bench run: a flow that maps nothing
    floor = [run_worker(ctx, "noop_map", {"tasks": 0}) for _ in range(1 if ctx.quick else ctx.repeats)]
    floor_t = [r["wall_seconds"] if r.get("ok") else None for r in floor]
    res.contender("Prefect floor: an empty flow run", floor_t)
    for key in ("A", "B"):
        again_t = [r["wall_seconds"] if r and r.get("ok") else None for r in done[key]["rerun"]]
        res.headline(f"{key}: re-run / empty flow run", ratio(median(again_t), median(floor_t)), None, None)
    return res
