"""``python -m bench.profile CASE``: profile one bench case (for bars that are missed).

Cases:
    s1         the download task over 48 x 8 MB files (scenario 1), in this process
    s5         the search task over ~100k records (scenario 5), in this process
    s4a        jsoc_fetch over 200 url_quick blocks with 300 ms per CGI call (scenario 4 A)
    s4b        jsoc_fetch over 500 url_quick blocks, no latency (scenario 4 B)
    s3         the re-run from cache of scenario 2's flow (the first run is made, not profiled)
    s2strict   scenario 2's flow with one pending export per e-mail

Writes, under ``bench/results/profiles/`` (or ``--out``): ``CASE.pyinstrument.txt`` (pyinstrument,
the flow's main thread; ``--html`` adds the interactive ``.html``), and ``CASE.threads.txt`` (every
thread, sampled: the tasks run on Prefect's thread pool, which pyinstrument does not see).
``--blocks N`` changes the block count of s4a/s4b.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

_HOME = Path(tempfile.mkdtemp(prefix="prefect-jsoc-bench-home-"))
os.environ.setdefault("PREFECT_HOME", str(_HOME))
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"

from bench import s2_fetch, s4_fanout  # noqa: E402
from bench._env import BenchContext, run_worker, temp_root  # noqa: E402

PROFILES = Path(__file__).resolve().parent / "results" / "profiles"


def _in_process(ctx: BenchContext, case: str, files: dict[str, str]) -> dict:
    """Profile the s1 download task or the s5 search task in this process (they run in its main thread)."""
    import time

    from pyinstrument import Profiler

    from prefect_jsoc import JsocQuery, JsocSettings
    from prefect_jsoc.tasks import download, search

    if case == "s1":
        from bench import s1_download as s1

        emu = ctx.emulator(file_size=s1.FILE_SIZE)
        listed = s1._files(emu.url, 48)
        warm = ctx.fresh_dir("warm")
        s1._curl(listed, warm, warm / "curl.cfg")
        manifest = s1._manifest(listed, [(warm / f["filename"]).stat().st_size for f in listed])

        def work() -> None:
            dest = ctx.fresh_dir("dl")
            download(manifest, str(dest), settings=JsocSettings(server_url=emu.url, state_dir=str(dest) + "-state"))
    else:
        emu = ctx.emulator()
        query = JsocQuery(series="hmi.v_45s", start="2014-01-01T00:00:00", end="2014-02-22T00:00:00")

        def work() -> None:
            search(query, settings=JsocSettings(server_url=emu.url, state_dir=str(ctx.fresh_dir("state"))))

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
    p.add_argument("case", choices=["s1", "s5", "s4a", "s4b", "s3", "s2strict"])
    p.add_argument("--blocks", type=int, default=None)
    p.add_argument("--out", default=str(PROFILES))
    p.add_argument("--html", action="store_true", help="also write pyinstrument's HTML report")
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
        if args.case in ("s1", "s5"):
            out = _in_process(ctx, args.case, files)
        elif args.case in ("s4a", "s4b"):
            latency = s4_fanout.LATENCY if args.case == "s4a" else 0.0
            n = args.blocks or (s4_fanout.BLOCKS_A if args.case == "s4a" else s4_fanout.BLOCKS_B)
            with ctx.emulator(latency=latency, max_pending_per_email=1) as emu:
                env = s4_fanout._env(ctx, emu, "profile")
                spec = {"blocks": s4_fanout.blocks(n), "path": str(ctx.fresh_dir("profile-data")), **files}
                out = run_worker(ctx, "profile_flow", spec, env=env)
                out["emulator"] = emu.stats()
        else:
            blocks = s2_fetch.blocks()
            pending = 1 if args.case == "s2strict" else s2_fetch.PENDING
            with ctx.emulator(file_size=s2_fetch.FILE_SIZE, export_delay=s2_fetch.EXPORT_DELAY,
                              max_pending_per_email=pending) as emu:
                s2_fetch._warm(ctx, emu, blocks)
                emu.configure(export_delay=s2_fetch.EXPORT_DELAY, max_pending_per_email=pending)
                env = s2_fetch.ours_env(emu, ctx, pending, "profile")
                spec = {"blocks": blocks, "path": str(ctx.fresh_dir("profile-data")), **files}
                if args.case == "s3":
                    first = run_worker(ctx, "jsoc_fetch", spec, env=env)
                    print(f"first run {first['wall_seconds']:.2f} s (not profiled)")
                    emu.reset(exports=False)
                out = run_worker(ctx, "profile_flow", spec, env=env)
                out["emulator"] = emu.stats()
    if not args.html:
        Path(files["profile_html"]).unlink(missing_ok=True)
    print(f"{args.case}: wall {out.get('wall_seconds', 0):.2f} s, ok={out.get('ok')}, "
          f"{out.get('exception', '')}")
    print(f"emulator: {out['emulator'].get('requests')}")
    for key in ("profile_text", "profile_html", "threads_text"):
        if Path(files[key]).exists():
            print(f"{key}: {files[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
