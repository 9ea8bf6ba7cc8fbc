"""One "host" of the multi-host tests: import everything, say READY, wait for "go", fetch, report.

Usage: ``python _host_fetch.py PATH BLOCKS_JSON`` where ``BLOCKS_JSON`` is a list of ``JsocQuery``
keyword dictionaries. The JSOC server, e-mail and Prefect API come from ``PREFECT_JSOC_SERVER_URL``,
``PREFECT_JSOC_EMAIL`` and ``PREFECT_API_URL``, as they would on a user's machine.

Waiting for "go" on stdin after the imports lets the test start several hosts at the same moment
and time the fetch itself, not the interpreter's start-up. Output on stdout, one line each:

* ``READY`` once ``prefect_jsoc.flows`` is imported;
* ``RESULT <json>`` at the end: ``ok``, ``elapsed_seconds`` (the flow's own figure), ``wall_seconds``
  (from "go" to the result) and, per block, ``label``, ``series``, ``request_id``, ``files``
  (absolute paths), ``downloaded``, ``skipped`` and ``error``.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    from prefect_jsoc import JsocQuery
    from prefect_jsoc.flows import jsoc_fetch

    path, specs = sys.argv[1], json.loads(sys.argv[2])
    queries = [JsocQuery(**spec) for spec in specs]
    print("READY", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    started = time.monotonic()
    result = jsoc_fetch(queries, path=path, fail_on_error=False)
    doc = {
        "ok": result.ok,
        "elapsed_seconds": result.elapsed_seconds,
        "wall_seconds": time.monotonic() - started,
        "blocks": [
            {
                "label": b.label,
                "series": b.series,
                "request_id": b.request_id,
                "files": [str(p) for p in b.files],
                "downloaded": b.downloaded,
                "skipped": b.skipped,
                "error": b.error,
            }
            for b in result.blocks
        ],
    }
    print("RESULT " + json.dumps(doc), flush=True)


if __name__ == "__main__":
    main()
