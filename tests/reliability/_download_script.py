"""Download one export's files in a real process; the download tests race, signal or SIGKILL it.

Usage: ``python _download_script.py MANIFEST_JSON PATH MODE`` where ``MODE`` is

* ``direct``: :func:`~prefect_jsoc.downloads.download_manifest` in the main thread, no flow;
* ``flow-main``: a flow calls the ``download`` task directly (the task runs in the main thread);
* ``flow-thread``: a flow submits the ``download`` task to a ``ThreadPoolTaskRunner`` (the task runs
  on a worker thread, as each export unit of ``jsoc_fetch`` does).

Settings come from ``PREFECT_JSOC_*`` environment variables, the Prefect API from
``PREFECT_API_URL``. The script prints ``READY`` once imports are done, and ``RESULT <json>`` at
the end.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    from prefect import flow
    from prefect.task_runners import ThreadPoolTaskRunner

    from prefect_jsoc.downloads import download_manifest
    from prefect_jsoc.models import ExportManifest
    from prefect_jsoc.tasks import download

    manifest = ExportManifest.model_validate_json(Path(sys.argv[1]).read_text())
    path, mode = sys.argv[2], sys.argv[3]

    @flow(name="download-in-main-thread")
    def in_main_thread() -> object:
        return download(manifest, path)

    @flow(name="download-on-a-worker-thread", task_runner=ThreadPoolTaskRunner(max_workers=2))
    def on_worker_thread() -> object:
        return download.submit(manifest, path).result()

    print("READY", flush=True)
    if mode == "direct":
        result = download_manifest(manifest, path)
    elif mode == "flow-main":
        result = in_main_thread()
    elif mode == "flow-thread":
        result = on_worker_thread()
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    doc = {"downloaded": result.downloaded, "skipped": result.skipped, "paths": [str(p) for p in result.paths]}
    print("RESULT " + json.dumps(doc), flush=True)


if __name__ == "__main__":
    main()
