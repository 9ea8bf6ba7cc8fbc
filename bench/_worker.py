"""One measured contender in its own process: ``python -m bench._worker JOB SPEC.json OUT.json``.

Each job times itself from just before the measured work to just after it (imports, interpreter
start-up and the Prefect server are outside the timing) and writes a JSON result with
``wall_seconds``, the process's peak RSS, and the Unix times ``t_start_unix``/``t_end_unix`` (to
place the emulator's request log on the run's own time line). Jobs:

* ``sunpy_fido``: ``Fido.search`` + ``Fido.fetch`` of an OR of blocks (sunpy's recommended way);
* ``sunpy_client``: ``JSOCClient.search`` + ``JSOCClient.fetch`` of the same OR in one response;
* ``jsoc_fetch``: our ``jsoc_fetch`` flow (settings from ``PREFECT_JSOC_*`` in the environment;
  ``"pack": false`` in the spec turns packing off: one export per block);
* ``drms_loop``: a plain sequential drms loop: query, url_quick export, urllib download per block;
* ``plain_loop``: our plain functions (validate, search, stage, await, download) in a loop, no
  Prefect: the same work as ``jsoc_fetch(..., pack=False)`` without orchestration;
* ``noop_map``: a flow mapping N no-op tasks (Prefect's own floor per task run; N=0: per flow run);
* ``profile_flow``: ``jsoc_fetch`` under pyinstrument (writes a text and an HTML profile).
"""

from __future__ import annotations

import contextlib
import functools
import json
import operator
import os
import sys
import time
import traceback
import urllib.request
from pathlib import Path
from typing import Any

from bench._timing import peak_rss_mb

EMAIL = "bench@example.org"


def _queries(blocks: list[dict[str, Any]]) -> list[Any]:
    from prefect_jsoc import JsocQuery

    return [JsocQuery(**b) for b in blocks]


def recordsets(blocks: list[Any], url: str) -> list[str]:
    """The DRMS record set of each block (a dict of ``JsocQuery`` fields or a ``JsocQuery``), as our
    validation builds it: the order of the prime keys in it is the series', which the server knows."""
    from prefect_jsoc import JsocQuery, JsocSettings
    from prefect_jsoc.validation import validate_query

    settings = JsocSettings(server_url=url)
    queries = [b if isinstance(b, JsocQuery) else JsocQuery(**b) for b in blocks]
    return [validate_query(q, settings, export=False).recordset() for q in queries]


def _patch_drms(url: str) -> None:
    """Point drms's built-in ``jsoc`` server (what sunpy uses) at the emulator."""
    from drms.config import _server_configs

    from bench._env import drms_server_config

    _server_configs["jsoc"] = drms_server_config(url, "JSOC")


def _sunpy_attrs(blocks: list[dict[str, Any]]) -> Any:
    import astropy.units as u
    from sunpy.net import attrs as a

    terms = []
    for b in blocks:
        term = a.Time(b["start"], b["end"]) & a.jsoc.Series(b["series"]) & a.jsoc.Notify(EMAIL)
        for seg in b.get("segments") or []:
            term = term & a.jsoc.Segment(seg)
        for wl in b.get("wavelength") or []:
            term = term & a.Wavelength(wl * u.AA)
        terms.append(term)
    return functools.reduce(operator.or_, terms)


def job_sunpy_fido(spec: dict[str, Any]) -> dict[str, Any]:
    _patch_drms(spec["url"])
    from sunpy.net import Fido

    query = _sunpy_attrs(spec["blocks"])
    out: dict[str, Any] = {"t_start_unix": time.time()}
    before = set(sys.modules)
    start = time.perf_counter()
    try:
        found = Fido.search(query)
        out["search_seconds"] = time.perf_counter() - start
        files = Fido.fetch(
            found, path=str(Path(spec["path"]) / "{file}"), progress=False, max_conn=spec.get("max_conn", 1)
        )
        out["files"] = len(files)
        out["errors"] = len(files.errors)
        out["error_text"] = [str(e) for e in files.errors[:3]]
        out["ok"] = not files.errors
    except Exception as exc:  # noqa: BLE001 - what sunpy does is the result
        out["ok"] = False
        out["exception"] = f"{type(exc).__name__}: {exc}"
    out["wall_seconds"] = time.perf_counter() - start
    out["imported_while_timed"] = _imported_since(before)
    return out


def job_sunpy_client(spec: dict[str, Any]) -> dict[str, Any]:
    _patch_drms(spec["url"])
    from sunpy.net.jsoc import JSOCClient

    query = _sunpy_attrs(spec["blocks"])
    out: dict[str, Any] = {"t_start_unix": time.time()}
    start = time.perf_counter()
    try:
        client = JSOCClient()
        found = client.search(query)
        out["search_seconds"] = time.perf_counter() - start
        files = client.fetch(found, path=str(Path(spec["path"]) / "{file}"), progress=False)
        out["files"] = len(files)
        out["errors"] = len(files.errors)
        out["ok"] = not files.errors
    except Exception as exc:  # noqa: BLE001 - what sunpy does is the result
        out["ok"] = False
        out["exception"] = f"{type(exc).__name__}: {exc}"
    out["wall_seconds"] = time.perf_counter() - start
    return out


def _fetch_summary(result: Any) -> dict[str, Any]:
    return {
        "files": len(result.files),
        "request_ids": len(result.request_ids),
        "failed": len(result.failed),
        "failed_blocks": [f"{b.label}: {b.failed_step}: {b.error}" for b in result.failed][:5],
        "downloaded": sum(b.downloaded for b in result.blocks),
        "skipped": sum(b.skipped for b in result.blocks),
        "ok": not result.failed,
    }


#: What Prefect and prefect-jsoc import on a flow's first call rather than at import time (Prefect's
#: engines, FastAPI's encoder for the flow's parameters, our download stack). sunpy imports its
#: whole stack with ``from sunpy.net import Fido``; importing these before the timer keeps imports
#: out of both tools' timings alike. ``imported_while_timed`` in each result shows what was left.
LAZY_IMPORTS = (
    "prefect.flow_engine",
    "prefect.task_engine",
    "fastapi.encoders",
    "aiohttp",
    "parfive",
    "prefect_jsoc.downloads.transfer",
    "astropy.utils.iers",
)


def _import_lazy_modules() -> None:
    import importlib

    for name in LAZY_IMPORTS:
        importlib.import_module(name)


def _imported_since(before: set[str]) -> list[str]:
    """Top-level packages of the modules imported since ``before`` (a ``sys.modules`` snapshot)."""
    return sorted({name.split(".")[0] for name in set(sys.modules) - before})


def _heartbeats(on: bool) -> Any:
    """Prefect's default flow-run heartbeats, or none (information only: what their end-of-run join costs)."""
    if on:
        return contextlib.nullcontext()
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    return temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})


def job_jsoc_fetch(spec: dict[str, Any]) -> dict[str, Any]:
    from prefect_jsoc.flows import jsoc_fetch

    _import_lazy_modules()
    queries = _queries(spec["blocks"])
    out: dict[str, Any] = {"t_start_unix": time.time()}
    before = set(sys.modules)
    start = time.perf_counter()
    try:
        with _heartbeats(spec.get("heartbeats", True)):
            result = jsoc_fetch(queries, path=spec["path"], fail_on_error=False, pack=spec.get("pack", True))
        out.update(_fetch_summary(result))
        out["flow_elapsed_seconds"] = result.elapsed_seconds
    except Exception as exc:  # noqa: BLE001 - reported
        out["ok"] = False
        out["exception"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc()[-4000:]
    out["wall_seconds"] = time.perf_counter() - start
    out["imported_while_timed"] = _imported_since(before)
    return out


def job_profile_flow(spec: dict[str, Any]) -> dict[str, Any]:
    """``jsoc_fetch`` under pyinstrument (main thread) and the all-thread sampler (task threads)."""
    from pyinstrument import Profiler

    import prefect_jsoc.flows  # noqa: F401 - imports are not part of the profile
    from bench._sampler import ThreadSampler

    profiler = Profiler(interval=0.005, async_mode="disabled")
    sampler = ThreadSampler(interval=0.005)
    sampler.start()
    profiler.start()
    try:
        out = job_jsoc_fetch(spec)
    finally:
        profiler.stop()
        sampler.stop()
    text = profiler.output_text(unicode=False, color=False, show_all=bool(spec.get("show_all")))
    Path(spec["profile_text"]).write_text(text)
    Path(spec["profile_html"]).write_text(profiler.output_html())
    Path(spec["threads_text"]).write_text(sampler.report())
    out.update({k: spec[k] for k in ("profile_text", "profile_html", "threads_text")})
    return out


def job_drms_loop(spec: dict[str, Any]) -> dict[str, Any]:
    import drms

    from bench._env import drms_server_config

    client = drms.Client(drms_server_config(spec["url"], "EMU"), email=EMAIL)
    calls = [0]
    real = client._json._json_request

    def counted(url: str) -> Any:
        calls[0] += 1
        return real(url)

    client._json._json_request = counted  # count this loop's CGI calls (loops may run side by side)
    dest = Path(spec["path"])
    dest.mkdir(parents=True, exist_ok=True)
    keys = spec.get("keys") or ["T_REC", "TELESCOP", "INSTRUME", "WAVELNTH", "CAR_ROT"]
    files = 0
    start = time.perf_counter()
    for i, ds in enumerate(spec["recordsets"]):
        client.query(ds, key=keys)
        req = client.export(ds, method="url_quick", protocol="as-is")
        for j, url in enumerate(req.urls.url):
            with urllib.request.urlopen(url, timeout=60) as reply, open(dest / f"{i:05d}.{j}.fits", "wb") as fh:
                while chunk := reply.read(1 << 20):
                    fh.write(chunk)
            files += 1
    return {
        "wall_seconds": time.perf_counter() - start,
        "files": files,
        "ok": files >= len(spec["recordsets"]),
        "cgi_calls": calls[0],
    }


def job_plain_loop(spec: dict[str, Any]) -> dict[str, Any]:
    """The flow's work per block without Prefect: validate, search, stage, await, download in a loop.

    One export per block, as ``jsoc_fetch(..., pack=False)`` does; the export slots are the same
    Prefect global concurrency limits the flow takes.
    """
    from prefect_jsoc.downloads import download_manifest
    from prefect_jsoc.exports import stage_export, wait_for_export
    from prefect_jsoc.settings import JsocSettings
    from prefect_jsoc.validation import search_records, validate_query

    settings = JsocSettings.resolve()
    queries = _queries(spec["blocks"])
    files = 0
    start = time.perf_counter()
    for q in queries:
        checked = validate_query(q, settings)
        search_records(checked, None, settings)
        handle = stage_export(checked, settings)
        manifest = wait_for_export(handle, settings)
        files += len(download_manifest(manifest, spec["path"], settings).paths)
    return {"wall_seconds": time.perf_counter() - start, "files": files, "ok": files >= len(queries)}


def job_noop_map(spec: dict[str, Any]) -> dict[str, Any]:
    from prefect import flow, task
    from prefect.task_runners import ThreadPoolTaskRunner

    @task
    def noop(i: int) -> int:
        return i

    inside: dict[str, float] = {}

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=spec.get("workers", 32)))
    def noop_flow(n: int) -> int:
        began = time.perf_counter()
        done = len(noop.map(range(n)).result()) if n else 0
        inside["map_seconds"] = time.perf_counter() - began  # the map alone, inside the flow run
        return done

    start = time.perf_counter()
    count = noop_flow(spec["tasks"])
    return {"wall_seconds": time.perf_counter() - start, "tasks": count, "ok": count == spec["tasks"], **inside}


JOBS = {name[4:]: fn for name, fn in globals().items() if name.startswith("job_")}


def main() -> int:
    job, spec_path, out_path = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    spec = json.loads(spec_path.read_text())
    try:
        out = JOBS[job](spec)
    except Exception as exc:  # noqa: BLE001 - the parent reports it
        out = {"ok": False, "exception": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    out["t_end_unix"] = time.time()
    out["peak_rss_mb"] = peak_rss_mb()
    out["pid"] = os.getpid()
    out_path.write_text(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
