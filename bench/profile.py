"""``python -m bench.profile CASE``: profile one bench case (for bars that are missed).

Cases:
    D     the download task over 48 x 8 MB files (scenario D), in this process
    F     the search task over ~100k records (scenario F), in this process
    E1    jsoc_fetch(pack=False) over 200 url_quick blocks with 300 ms per CGI call (scenario E 1)
    E2    jsoc_fetch(pack=False) over 500 url_quick blocks, no latency (scenario E 2)
    A, B  our packed first run of scenario A or B (one pending export per e-mail)
    C     the re-run from cache of scenario A's flow (the first run is made, not profiled)

Writes, under ``bench/results/profiles/`` (or ``--out``): ``CASE.pyinstrument.txt`` (pyinstrument,
the flow's main thread; ``--html`` adds the interactive ``.html``), and ``CASE.threads.txt`` (every
thread, sampled: the tasks run on Prefect's thread pool, which pyinstrument does not see). Flow
cases also print the emulator's time line of the run (calls, exports, downloads, hand-offs).
``--blocks N`` changes the block count of E1/E2; ``--warm-runs N`` runs A or B N times first,
unprofiled; ``--show-all`` keeps Prefect's own frames in the text profile.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

_HOME = Path(tempfile.mkdtemp(prefix="prefect-jsoc-bench-home-"))
os.environ.setdefault("PREFECT_HOME", str(_HOME))
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"

from bench import _fetchrun, a_two_series, b_eight_days, e_fanout  # noqa: E402
from bench._env import BenchContext, run_worker, temp_root  # noqa: E402

PROFILES = Path(__file__).resolve().parent / "results" / "profiles"


def _in_process(ctx: BenchContext, case: str, files: dict[str, str]) -> dict:
    """Profile the D download task or the F search task in this process (they run in its main thread)."""
    import time

    from pyinstrument import Profiler

    from prefect_jsoc import JsocQuery, JsocSettings
    from prefect_jsoc.tasks import download, search

    if case == "D":
        from bench import d_download as s1

        emu = ctx.emulator(file_size=s1.FILE_SIZE)
        listed = s1._files(emu.url, 48)
        warm = ctx.fresh_dir("warm")
        s1._curl(listed, warm, warm / "curl.cfg")
        manifest = s1._manifest(listed, [(warm / f["filename"]).stat().st_size for f in listed])

        def work() -> None:
            dest = ctx.fresh_dir("dl")
            download(manifest, str(dest), settings=JsocSettings(server_url=emu.url))
    else:
        emu = ctx.emulator()
        query = JsocQuery(series="hmi.v_45s", start="2014-01-01T00:00:00", end="2014-02-22T00:00:00")

        def work() -> None:
            search.with_options(refresh_cache=True)(query, settings=JsocSettings(server_url=emu.url))

    try:
        work()  # warm
        profiler = Profiler(interval=0.001, async_mode="disabled")
        start = time.perf_counter()
        profiler.start()
        work()
        profiler.stop()
        wall = time.perf_counter() - start
        out = {"wall_seconds": wall, "ok": True, "emulator": emu.stats()}
    finally:
        emu.close()
    Path(files["profile_text"]).write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    Path(files["profile_html"]).write_text(profiler.output_html())
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile")
    p.add_argument("case", choices=["D", "F", "E1", "E2", "A", "B", "C"])
    p.add_argument("--blocks", type=int, default=None)
    p.add_argument("--out", default=str(PROFILES))
    p.add_argument("--html", action="store_true", help="also write pyinstrument's HTML report")
    p.add_argument("--show-all", action="store_true", help="flow cases: keep Prefect's frames in the text profile")
    p.add_argument(
        "--warm-runs",
        type=int,
        default=0,
        help="A, B: run the flow this many times first, unprofiled (the bench's later repeats find a warm server)",
    )
    args = p.parse_args(argv)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    ctx = BenchContext(root=temp_root(), verbose=True)
    files = {
        "profile_text": str(out_dir / f"{args.case}.pyinstrument.txt"),
        "profile_html": str(out_dir / f"{args.case}.pyinstrument.html"),
        "threads_text": str(out_dir / f"{args.case}.threads.txt"),
    }
    with prefect_test_harness(server_startup_timeout=120):
        ctx.api_url = PREFECT_API_URL.value()
        if args.case in ("D", "F"):
            out = _in_process(ctx, args.case, files)
        elif args.case in ("E1", "E2"):
            latency = e_fanout.LATENCY if args.case == "E1" else 0.0
            n = args.blocks or (e_fanout.BLOCKS_A if args.case == "E1" else e_fanout.BLOCKS_B)
            with ctx.emulator(latency=latency, max_pending_per_email=1) as emu:
                env = e_fanout._env(ctx, emu, "profile")
                spec = {
                    "blocks": e_fanout.blocks(n),
                    "path": str(ctx.fresh_dir("profile-data")),
                    "pack": False,
                    **files,
                }
                emu.reset(exports=True)
                out = run_worker(ctx, "profile_flow", spec, env=env)
                out["emulator"] = emu.stats()
        else:
            module = b_eight_days if args.case == "B" else a_two_series
            blocks = _fetchrun.blocks(module.SERIES, module.INTERVALS, _fetchrun.MONTHS["ours"])
            with ctx.emulator(
                file_size=_fetchrun.FILE_SIZE, export_delay=_fetchrun.EXPORT_DELAY, max_pending_per_email=1
            ) as emu:
                _fetchrun.warm(emu, blocks)
                emu.configure(export_delay=_fetchrun.EXPORT_DELAY, max_pending_per_email=1)
                env = _fetchrun.ours_env(ctx, emu, 1, "profile")
                spec = {
                    "blocks": blocks,
                    "path": str(ctx.fresh_dir("profile-data")),
                    "show_all": args.show_all,
                    **files,
                }
                for i in range(args.warm_runs):
                    emu.reset(exports=True)
                    warm_env = _fetchrun.ours_env(ctx, emu, 1, f"warm-{i}")
                    warm_spec = {"blocks": blocks, "path": str(ctx.fresh_dir("warm-data"))}
                    warm_run = run_worker(ctx, "jsoc_fetch", warm_spec, env=warm_env)
                    print(f"warm-up run {i + 1}: {warm_run['wall_seconds']:.2f} s (not profiled)")
                emu.reset(exports=True)
                if args.case == "C":
                    first = run_worker(ctx, "jsoc_fetch", spec, env=env)
                    print(f"first run {first['wall_seconds']:.2f} s (not profiled)")
                    emu.reset(exports=False)
                out = _fetchrun._observe(emu, run_worker(ctx, "profile_flow", spec, env=env))
                print("emulator time line (s since the run started):")
                print(json.dumps(out["timeline"], indent=1))
                print(f"hand-offs: {out['handoffs']}")
    if not args.html:
        Path(files["profile_html"]).unlink(missing_ok=True)
    print(f"{args.case}: wall {out.get('wall_seconds', 0):.2f} s, ok={out.get('ok')}, {out.get('exception', '')}")
    print(f"emulator: {out['emulator'].get('requests')}")
    for key in ("profile_text", "profile_html", "threads_text"):
        if Path(files[key]).exists():
            print(f"{key}: {files[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
