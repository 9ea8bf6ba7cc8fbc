"""Scenario D: download throughput (the physical limit).

The emulator serves the same N files of about 8 MB (a realistic AIA image) to:

* ``aiohttp``: a plain aiohttp streaming reader (1 MiB reads) writing to disk, one connection
  (the practical limit of a Python client on this machine);
* ``parfive defaults``: ``parfive.Downloader()`` as constructed with no arguments
  (max_conn=5, max_splits=5, 1 KiB reads; progress bar off), what sunpy builds on;
* ``parfive as Fido uses it for JSOC``: max_conn=1, max_splits=1 (information);
* ``ours (download task)``: the ``download`` Prefect task with default politeness (one
  connection), including its FITS verification and rename;
* ``ours (engine, no Prefect)``: ``download_manifest`` called directly (information);
* ``curl``: one curl process fetching every URL over one connection, to ``/dev/null`` (what the
  emulator can serve) and to disk (what the disk takes): shows whether the emulator is the
  bottleneck.

Every contender writes into a fresh directory; the files were generated and read once before
timing (so the emulator's own file generation is not measured). The order of contenders rotates
between repeats.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

from bench._env import EMAIL, BenchContext, drms_server_config
from bench._report import ScenarioResult
from bench._timing import median, ratio, stopwatch

TITLE = "D. Download throughput: N x 8 MB files, same emulator"
FILE_SIZE = 8 * 1024 * 1024


def _files(url: str, count: int) -> list[dict[str, Any]]:
    """URLs, names and sizes of ``count`` AIA images (a url_quick as-is export)."""
    import drms

    client = drms.Client(drms_server_config(url), email=EMAIL)
    req = client.export(
        f"aia.lev1_euv_12s[2014-01-01T00:00:00Z/{count * 12}s][171]{{image}}", method="url_quick", protocol="as-is"
    )
    rows = req.urls.to_dict("records")[:count]
    if len(rows) != count:
        raise RuntimeError(f"The emulator listed {len(rows)} files, expected {count}.")
    return [
        {"url": r["url"], "record": r["record"], "filename": f"aia.lev1_euv_12s.{i:03d}.image.fits"}
        for i, r in enumerate(rows)
    ]


def _curl(files: list[dict[str, Any]], dest: Path | None, cfg_path: Path) -> None:
    lines = []
    for f in files:
        out = "/dev/null" if dest is None else str(dest / f["filename"])
        lines.append(f'url = "{f["url"]}"\noutput = "{out}"\n')
    cfg_path.write_text("".join(lines))
    subprocess.run(["curl", "-sS", "--fail", "-K", str(cfg_path)], check=True)


async def _aiohttp(files: list[dict[str, Any]], dest: Path, connections: int) -> None:
    import aiohttp

    limit = asyncio.Semaphore(connections)
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(f: dict[str, Any]) -> None:
            async with limit, session.get(f["url"]) as reply:
                reply.raise_for_status()
                with open(dest / f["filename"], "wb") as fh:
                    async for chunk in reply.content.iter_chunked(1 << 20):
                        fh.write(chunk)

        await asyncio.gather(*(one(f) for f in files))


def _parfive(files: list[dict[str, Any]], dest: Path, **kwargs: Any) -> None:
    from parfive import Downloader

    dl = Downloader(progress=False, overwrite=True, **kwargs)
    for f in files:
        dl.enqueue_file(f["url"], path=dest, filename=f["filename"])
    results = asyncio.run(dl.run_download())
    if results.errors:
        raise RuntimeError(f"parfive failed on {len(results.errors)} files: {results.errors[0]}")


def _manifest(files: list[dict[str, Any]], sizes: list[int]) -> Any:
    from prefect_jsoc.models import ExportManifest, ManifestFile

    return ExportManifest(
        request_id=None,
        query_key="bench-s1",
        label="bench s1 aia.lev1_euv_12s",
        series="aia.lev1_euv_12s",
        method="url_quick",
        protocol="as-is",
        files=[
            ManifestFile(url=f["url"], filename=f["filename"], record=f["record"], size=s) for f, s in zip(files, sizes)
        ],
    )


def run(ctx: BenchContext) -> ScenarioResult:
    count = 8 if ctx.quick else 48
    repeats = ctx.repeats if ctx.quick else max(ctx.repeats, 5)  # cheap and noisy: take 5
    res = ScenarioResult(
        "D",
        TITLE,
        params={
            "files": count,
            "file_size_setting": FILE_SIZE,
            "repeats": repeats,
            "connections_ours": 1,
            "connections_aiohttp": 1,
        },
    )
    from prefect_jsoc import JsocSettings
    from prefect_jsoc.downloads import download_manifest
    from prefect_jsoc.tasks import download

    with ctx.emulator(file_size=FILE_SIZE) as emu:
        files = _files(emu.url, count)
        warm = ctx.fresh_dir("s1-warm")
        _curl(files, warm, warm / "curl.cfg")  # generate every file once, warm the page cache
        sizes = [(warm / f["filename"]).stat().st_size for f in files]
        total = sum(sizes)
        ctx.cleanup(warm)
        res.params["bytes_total"] = total
        manifest = _manifest(files, sizes)

        def ours_task(dest: Path, files: list[dict[str, Any]], manifest: Any) -> None:
            settings = JsocSettings(server_url=emu.url, max_connections=1)
            out = download(manifest, str(dest), settings=settings)
            assert out.downloaded == len(files), out

        def ours_engine(dest: Path, files: list[dict[str, Any]], manifest: Any) -> None:
            settings = JsocSettings(server_url=emu.url, max_connections=1)
            out = download_manifest(manifest, dest, settings)
            assert out.downloaded == len(files), out

        contenders = {
            "aiohttp (1 conn, 1 MiB reads)": lambda d, f, m: asyncio.run(_aiohttp(f, d, 1)),
            "ours: download task (1 conn)": ours_task,
            "parfive defaults (5 conn x 5 splits)": lambda d, f, m: _parfive(f, d),
            "curl -> /dev/null (emulator ceiling)": lambda d, f, m: _curl(f, None, d / "curl.cfg"),
            "curl -> disk": lambda d, f, m: _curl(f, d, d.parent / (d.name + ".cfg")),
            "ours: engine, no Prefect (1 conn)": ours_engine,
            "parfive as Fido uses it for JSOC (1 conn)": lambda d, f, m: _parfive(f, d, max_conn=1, max_splits=1),
        }
        names = list(contenders)
        few, few_manifest = files[:2], _manifest(files[:2], sizes[:2])
        for name in names:  # warm-up on two files (imports, first connections), not timed
            dest = ctx.fresh_dir("s1-warmup")
            contenders[name](dest, few, few_manifest)
            ctx.cleanup(dest)
        runs: dict[str, list[float | None]] = {name: [] for name in contenders}
        for rep in range(repeats):
            order = names[rep % len(names) :] + names[: rep % len(names)]
            for name in order:
                dest = ctx.fresh_dir("s1-dl")
                emu.reset(exports=False)
                with stopwatch() as sw:
                    contenders[name](dest, files, manifest)
                served = emu.stats()["bytes_served"]
                if served < total:
                    raise RuntimeError(f"{name}: the emulator served {served} of {total} bytes.")
                runs[name].append(sw.seconds)
                if ctx.verbose:
                    ctx.log(f"s1 {name}: {sw.seconds:.3f} s ({total / sw.seconds / 1e6:.0f} MB/s)")
                ctx.cleanup(dest)

    mbs: dict[str, float | None] = {}
    for name, values in runs.items():
        med = median(values)
        mbs[name] = None if med is None else total / med / 1e6
        res.contender(
            name,
            values,
            show=f"{med:.3f} s = {mbs[name]:.0f} MB/s",
            median_mb_per_s=mbs[name],
            runs_mb_per_s=[total / v / 1e6 for v in values if v],
        )

    ours, base = mbs["ours: download task (1 conn)"], mbs["aiohttp (1 conn, 1 MiB reads)"]
    pdef = mbs["parfive defaults (5 conn x 5 splits)"]
    res.headline("ours / aiohttp (throughput)", ratio(ours, base), ">=", 0.85)
    res.headline("ours / parfive defaults (throughput)", ratio(ours, pdef), ">=", 3.0)
    res.headline(
        "ours / parfive as Fido uses it for JSOC",
        ratio(ours, mbs["parfive as Fido uses it for JSOC (1 conn)"]),
        None,
        None,
    )
    res.headline(
        "ours: task / engine without Prefect", ratio(ours, mbs["ours: engine, no Prefect (1 conn)"]), None, None
    )
    headroom = ratio(mbs["curl -> /dev/null (emulator ceiling)"], base)
    res.check(
        "emulator headroom: curl->/dev/null / aiohttp",
        None if headroom is None else round(headroom, 2),
        None if headroom is None else headroom >= 1.0,
        bar=">= 1 (emulator not the bottleneck)",
    )
    res.notes.append(
        "MB/s = bytes of all files / median wall time; aiohttp and ours use one connection (JSOC's rule); "
        "parfive defaults use 5 connections x 5 splits and still lose to its 1 KiB read size."
    )
    return res
