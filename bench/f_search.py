"""Scenario F: a large search.

``hmi.v_45s`` over 52 days (about 100,000 records) with the keywords sunpy shows by default
(``T_REC, TELESCOP, INSTRUME, WAVELNTH, CAR_ROT``):

* ``drms``: ``drms.Client.query`` (a pandas DataFrame), a new client per repeat;
* ``ours``: the ``search`` task (an astropy Table, persisted by Prefect as the task's cached
  result), with ``refresh_cache=True`` so its one-hour cache never answers but its result is
  written, as on a first search.

Both run in the bench process against an emulator in its own process. The emulator must stream
the answer: its peak RSS growth while answering is compared with the size of the JSON answer
(measured with a raw HTTP GET of the same ``rs_list`` call), and must stay under one copy of it.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
import urllib.request

from bench._env import BenchContext, drms_server_config
from bench._report import ScenarioResult
from bench._timing import median, proc_peak_rss_mb, proc_rss_mb, ratio, stopwatch

TITLE = "F. Large search: ~100k records of hmi.v_45s (52 days)"
KEYS = ["T_REC", "TELESCOP", "INSTRUME", "WAVELNTH", "CAR_ROT"]


def run(ctx: BenchContext) -> ScenarioResult:
    import drms

    from prefect_jsoc import JsocQuery, JsocSettings
    from prefect_jsoc.tasks import search

    days = 5 if ctx.quick else 52
    repeats = max(ctx.repeats, 5) if not ctx.quick else ctx.repeats  # cheap and noisy: take 5
    start = dt.datetime(2014, 1, 1)
    query = JsocQuery(series="hmi.v_45s", start=start.isoformat(), end=(start + dt.timedelta(days=days)).isoformat())
    res = ScenarioResult("F", TITLE, params={"days": days, "keys": KEYS, "repeats": repeats})
    runs: dict[str, list[float | None]] = {"drms": [], "ours": []}
    counts: dict[str, int] = {}
    with ctx.emulator() as emu:
        from bench._worker import recordsets

        recordset = recordsets([query], emu.url)[0]
        res.params["recordset"] = recordset
        # settle the emulator's own start-up memory with a small call, then take its baseline
        drms.Client(drms_server_config(emu.url, "EMU")).query("hmi.v_45s[2014.01.01_00:00:00_TAI/10m]", key=KEYS)
        base_rss = proc_rss_mb(emu.pid)
        base_peak = proc_peak_rss_mb(emu.pid)
        url = f"{emu.url}cgi-bin/ajax/jsoc_info?op=rs_list&ds={urllib.parse.quote(recordset)}&key={','.join(KEYS)}"
        with urllib.request.urlopen(url, timeout=300) as reply:
            answer_bytes = len(reply.read())
        emu_peak_raw = proc_peak_rss_mb(emu.pid)

        settings = JsocSettings(server_url=emu.url)
        fresh_search = search.with_options(refresh_cache=True)

        def ours() -> int:
            return len(fresh_search(query, keys=None, settings=settings).table)

        def plain_drms() -> int:
            client = drms.Client(drms_server_config(emu.url, "EMU"))
            return len(client.query(recordset, key=KEYS))

        contenders = {"ours": ours, "drms": plain_drms}
        ours()  # warm: imports and the series definition cache, as drms's first call warms pandas
        for rep in range(repeats):
            order = ["drms", "ours"] if rep % 2 == 0 else ["ours", "drms"]
            for who in order:
                with stopwatch() as sw:
                    counts[who] = contenders[who]()
                runs[who].append(sw.seconds)
                if ctx.verbose:
                    ctx.log(f"F {who}: {sw.seconds:.3f} s, {counts[who]} rows")
        emu_peak = proc_peak_rss_mb(emu.pid)

    res.params["records"] = counts
    res.contender("drms.Client.query", runs["drms"], rows=counts.get("drms"))
    res.contender("ours: search task", runs["ours"], rows=counts.get("ours"))
    res.headline("ours / drms (wall time)", ratio(median(runs["ours"]), median(runs["drms"])), "<=", 1.2)
    res.check("same rows", f"{counts.get('ours')} vs {counts.get('drms')}", counts.get("ours") == counts.get("drms"))
    growth = None if emu_peak_raw is None or base_rss is None else max(emu_peak_raw, emu_peak or 0) - base_rss
    copies = None if growth is None else growth * 1024 * 1024 / answer_bytes
    res.check(
        "emulator: peak RSS growth / answer size",
        None if copies is None else round(copies, 2),
        None if copies is None else copies < 1.0,
        bar="< 1 (streams; never holds the whole table)",
        answer_mb=round(answer_bytes / 1e6, 1),
        rss_growth_mb=None if growth is None else round(growth, 1),
        emulator_rss_before_mb=base_rss,
        emulator_peak_before_mb=base_peak,
        emulator_peak_after_mb=emu_peak,
    )
    return res
