"""``python -m bench``: run the benchmark scenarios, print the table, write the JSON result.

Scenarios (the headline is A, B and C: JSOC's real rule, one pending export per e-mail):
    A  2 series x 2 intervals, one pending export, ours vs sunpy Fido (bar <= 0.35, 2 exports)
    B  1 series x 8 intervals, one pending export, ours vs sunpy Fido (bar <= 0.2, 1 export)
    C  the re-run of A and of B from the cache (0 exports, 0 bytes)
    D  download throughput vs aiohttp and parfive
    E  fan-out: one export per block, vs a sequential drms loop; orchestration overhead per block
    F  a large search (~100,000 records) vs drms

Options:
    --only A,C        run only these scenarios; C needs A's and B's first runs and makes them
                      (without sunpy) if A or B is not selected
    --repeats N       repeats per measurement (default 3; medians are reported; D and F, which
                      are cheap and noisy, take at least 5)
    --strict-repeats N  runs of A's behaviour check of sunpy's JSOCClient.fetch (default 1)
    --prefect-db DB   the Prefect server's database: postgresql (Prefect's production database,
                      started in a temporary directory), sqlite (Prefect's test harness), or auto
                      (the default: postgresql when it is installed)
    --quick           one repeat and smaller sizes (a smoke run; the numbers are not the headline)
    --out PATH        where to write the JSON (default bench/results/latest.json for a full run,
                      bench/results/quick.json with --quick)
    --keep            keep the temporary directory (downloads, logs, worker results)
    --verbose         log every measurement to stderr
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Prefect reads its settings at import: give the bench process its own home, analytics off and a
# generous start-up timeout for the one test server, before anything imports prefect.
_HOME = Path(tempfile.mkdtemp(prefix="prefect-jsoc-bench-home-"))
os.environ.setdefault("PREFECT_HOME", str(_HOME))
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_RESULTS_LOCAL_STORAGE_PATH", str(_HOME / "storage"))

from bench._env import BenchContext, run_worker, temp_root  # noqa: E402
from bench._report import ScenarioResult, bar_rows, format_table, markdown_table  # noqa: E402
from bench._timing import machine_info  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
TABLE_START, TABLE_END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"


def _update_docs(doc: dict) -> bool:
    """Put the table of a full run into docs/performance.md between the bench-table markers."""
    if not DOCS.exists():
        return False
    text = DOCS.read_text()
    if TABLE_START not in text or TABLE_END not in text:
        return False
    m = doc["machine"]
    v = m["versions"]
    block = "\n".join(
        [
            TABLE_START,
            "",
            f"`{doc['command'].strip()}` on {doc['started_at']}: {m['cpu_count']} cores (load average "
            f"{m['load_average_at_start']} at start), Python {m['python']}, prefect {v.get('prefect')}, drms "
            f"{v.get('drms')}, parfive {v.get('parfive')}, sunpy {v.get('sunpy')}; {doc['repeats']} repeats "
            f"(5 for D and F), Prefect server on {doc.get('prefect_database', '?')}, total wall time "
            f"{doc['wall_seconds'] / 60:.1f} min.",
            "",
            "**The bars** (every row with a bar; PASS or MISS):",
            "",
            markdown_table(doc["scenarios"], bar_rows(doc["scenarios"])),
            "",
            "**Every measurement:**",
            "",
            markdown_table(doc["scenarios"]),
            "",
            TABLE_END,
        ]
    )
    before, rest = text.split(TABLE_START, 1)
    after = rest.split(TABLE_END, 1)[1]
    DOCS.write_text(before + block + after)
    return True


SCENARIOS = ("D", "F", "A", "B", "C", "E")  # run order: cheapest first; C reports A's and B's re-runs
MODULES = {
    "A": "a_two_series",
    "B": "b_eight_days",
    "C": "c_rerun",
    "D": "d_download",
    "E": "e_fanout",
    "F": "f_search",
}


def _write_partial(out: Path, doc: dict) -> None:
    """Write what is done so far (``"partial": true``), so an interrupted run leaves its results."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**doc, "partial": True}, indent=2, default=str) + "\n")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description="prefect-jsoc benchmarks against the emulator.")
    p.add_argument("--only", default="", help="comma-separated scenario letters, e.g. A,B,C")
    p.add_argument("--repeats", type=int, default=None, help="repeats per measurement (default 3; 1 with --quick)")
    p.add_argument("--quick", action="store_true", help="one repeat, smaller sizes (smoke run)")
    p.add_argument(
        "--strict-repeats",
        type=int,
        default=1,
        help="runs of A's behaviour check of sunpy's JSOCClient.fetch (default 1)",
    )
    p.add_argument(
        "--prefect-db",
        choices=["auto", "postgresql", "sqlite"],
        default="auto",
        help=(
            "the Prefect server's database: postgresql (Prefect's production database; started in a "
            "temporary directory), sqlite (Prefect's test harness), or auto: postgresql when it is installed"
        ),
    )
    p.add_argument("--out", default=None, help="JSON output path")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--verbose", action="store_true", help="log every measurement")
    return p.parse_args(argv)


def _server_pid() -> int | None:
    """PID of the test harness's Prefect server process (to wait until it is idle between runs)."""
    try:
        from prefect.server.api.server import SubprocessASGIServer

        server = SubprocessASGIServer._instances.get(None)
        proc = getattr(server, "server_process", None)
        return proc.pid if proc is not None else None
    except Exception:  # noqa: BLE001 - without it the bench just does not wait
        return None


@contextlib.contextmanager
def _prefect_server(kind: str, ctx: BenchContext) -> Iterator[dict[str, Any]]:
    """A Prefect server for the whole bench: on PostgreSQL (production) or SQLite (the test harness).

    On SQLite a transaction that reads and then writes fails at once when another write landed in
    between, so the slot calls of a run meet bursts of HTTP 503 while the server records its task
    runs: every Prefect client pays for that, ours and Prefect's own.
    """
    from tests.multihost._postgres import find_postgres_bin

    bin_dir = find_postgres_bin() if kind in ("auto", "postgresql") else None
    if kind == "postgresql" and bin_dir is None:
        raise SystemExit("--prefect-db postgresql: PostgreSQL is not installed (apt-get install -y postgresql)")
    if bin_dir is not None:
        from tests.multihost._postgres import PostgresServer
        from tests.multihost._services import PrefectServer

        with PostgresServer(bin_dir) as pg:
            with PrefectServer(pg.url, ctx.root / "prefect-server", ctx.logs / "prefect-server.log") as server:
                proc = server._proc  # the API runs in this process (uvicorn in the foreground)
                yield {
                    "api_url": server.api_url,
                    "pid": proc.pid if proc is not None else None,
                    "database": f"PostgreSQL {pg.version}",
                }
        return
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield {"api_url": PREFECT_API_URL.value(), "pid": _server_pid(), "database": "SQLite (test harness)"}


def _run_one(key: str, ctx: BenchContext, shared: dict) -> ScenarioResult:
    import importlib

    module = importlib.import_module(f"bench.{MODULES[key]}")
    if key in ("A", "B", "C"):
        return module.run(ctx, shared)
    return module.run(ctx)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    wanted = [s.strip().upper() for s in args.only.split(",") if s.strip()] or list(SCENARIOS)
    bad = [s for s in wanted if s not in SCENARIOS]
    if bad:
        print(f"unknown scenario(s): {', '.join(bad)}; choose from {', '.join(sorted(SCENARIOS))}", file=sys.stderr)
        return 2
    order = [s for s in SCENARIOS if s in wanted]
    repeats = args.repeats or (1 if args.quick else 3)
    out = Path(args.out) if args.out else RESULTS / ("quick.json" if args.quick else "latest.json")
    ctx = BenchContext(
        root=temp_root(),
        quick=args.quick,
        repeats=repeats,
        verbose=args.verbose,
        strict_repeats=max(1, args.strict_repeats),
    )
    started = time.perf_counter()
    doc = {
        "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "repeats": repeats,
        "machine": machine_info(),
        "scenarios": [],
    }
    ctx.log(f"starting the Prefect server (not timed); work dir {ctx.root}")
    t0 = time.perf_counter()
    try:
        with _prefect_server(args.prefect_db, ctx) as server:
            ctx.api_url = server["api_url"]
            ctx.server_pid = server["pid"]
            doc["prefect_database"] = server["database"]
            doc["prefect_server_start_seconds"] = round(time.perf_counter() - t0, 1)
            ctx.log(
                f"Prefect server on {server['database']} up in {doc['prefect_server_start_seconds']} s at {ctx.api_url}"
            )
            shared: dict = {}
            # A new server answers its first flow run slowly (about a second more): that belongs to
            # its start-up, which no measurement includes, so one flow run of four tasks goes first.
            run_worker(ctx, "noop_map", {"tasks": 4})
            ctx.wait_server_idle()
            for key in order:
                ctx.log(f"scenario {key} ...")
                t1 = time.perf_counter()
                try:
                    res = _run_one(key, ctx, shared)
                except Exception as exc:  # noqa: BLE001 - reported in the table and the JSON
                    res = ScenarioResult(key, f"scenario {key}")
                    res.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
                    ctx.log(f"scenario {key} failed: {exc}")
                res.params["scenario_wall_seconds"] = round(time.perf_counter() - t1, 1)
                doc["scenarios"].append(res.as_dict())
                _write_partial(out, doc)
                ctx.log(f"scenario {key} done in {res.params['scenario_wall_seconds']} s")
            ctx.wait_server_idle()  # let the server digest the last runs before it stops
            doc["idle_wait_seconds"] = round(ctx.idle_wait_seconds, 1)
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(ctx.root, ignore_errors=True)
            shutil.rmtree(_HOME, ignore_errors=True)
    doc["wall_seconds"] = round(time.perf_counter() - started, 1)
    doc["bars"] = [
        dict(zip(("scenario", "what", "value", "ratio", "bar", "verdict"), row)) for row in bar_rows(doc["scenarios"])
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    full_run = not args.quick and not args.only and args.out is None and args.repeats in (None, 3)
    if full_run and _update_docs(doc):
        ctx.log(f"table written to {DOCS}")
    print()
    if args.quick:
        print("QUICK RUN (1 repeat, small sizes): a smoke test of the harness; the ratios mean nothing.")
    print(format_table(doc["scenarios"]))
    print()
    print("THE BARS:")
    print(format_table(doc["scenarios"], bar_rows(doc["scenarios"])))
    print()
    print(
        f"Prefect server on {doc.get('prefect_database')}; total wall time {doc['wall_seconds']} s (server start "
        f"{doc.get('prefect_server_start_seconds')} s, not part of any measurement); JSON written to {out}"
    )
    errors = [s for s in doc["scenarios"] if s.get("error")]
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
