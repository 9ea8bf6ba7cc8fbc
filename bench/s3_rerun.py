"""Scenario 3: re-run from cache.

Each of scenario 2's first runs of ``jsoc_fetch`` is followed, on the same emulator (which still
knows the exports, as JSOC does for days), by the same flow again in a new process with the same
download directory, ``PREFECT_JSOC_STATE_DIR`` and Prefect result storage: what a user gets when
re-running a script or a deployment. The ratio is second-run / first-run wall time of the same
repeat; the emulator's counters, reset between the two runs, must show no export and no byte.
"""

from __future__ import annotations

from typing import Any

from bench._env import BenchContext, run_worker
from bench._report import ScenarioResult
from bench._timing import median, ratio

TITLE = "Re-run from cache: the same jsoc_fetch again"


def run(ctx: BenchContext, shared: dict[str, Any]) -> ScenarioResult:
    if "s3" not in shared:  # scenario 2 was not selected: make our first runs now (no sunpy)
        from bench import s2_fetch

        s2_fetch.run(ctx, shared, with_sunpy=False)
    data = shared["s3"]
    first, again = data["first"], data["rerun"]
    res = ScenarioResult("3", TITLE, params={"repeats": len(first), "files": data["expected_files"]})
    first_t = [r["wall_seconds"] if r.get("ok") else None for r in first]
    again_t = [r["wall_seconds"] if r and r.get("ok") else None for r in again]
    res.contender("ours: first run", first_t)
    res.contender("ours: re-run", again_t, runs_detail=[
        {k: (r or {}).get(k) for k in ("wall_seconds", "files", "downloaded", "skipped", "ok", "exception", "_log")}
        | {"emulator": {k: ((r or {}).get("emulator") or {}).get(k)
                        for k in ("exports_submitted", "bytes_served", "requests")}}
        for r in again
    ])
    per_repeat = [ratio(b, a) for a, b in zip(first_t, again_t)]
    res.headline("re-run / first run (wall time)", ratio(median(again_t), median(first_t)), "<=", 0.1,
                 per_repeat=per_repeat)
    exports = [((r or {}).get("emulator") or {}).get("exports_submitted") for r in again]
    served = [((r or {}).get("emulator") or {}).get("bytes_served") for r in again]
    res.check("re-run: exports submitted (each repeat)", exports, all(e == 0 for e in exports), bar="0")
    res.check("re-run: bytes fetched (each repeat)", served, all(s == 0 for s in served), bar="0")
    files = [(r or {}).get("files") for r in again]
    res.check("re-run: files returned (each repeat)", files,
              all(f == data["expected_files"] for f in files), bar=f"{data['expected_files']}")
    # Prefect's own floor for a flow run in the same run: a flow that maps nothing
    floor = [run_worker(ctx, "noop_map", {"tasks": 0}) for _ in range(1 if ctx.quick else ctx.repeats)]
    floor_t = [r["wall_seconds"] if r.get("ok") else None for r in floor]
    res.contender("Prefect floor: an empty flow run", floor_t)
    res.headline("re-run / empty flow run", ratio(median(again_t), median(floor_t)), None, None)
    res.headline("empty flow run / first run", ratio(median(floor_t), median(first_t)), None, None,
                 explain="the smallest re-run/first-run ratio any Prefect flow can reach here")
    cgi = [sum(v for k, v in (((r or {}).get("emulator") or {}).get("requests") or {}).items()
               if not k.startswith("file:")) for r in again]
    res.notes.append(f"CGI calls made by each re-run (not a bar): {cgi}.")
    return res
