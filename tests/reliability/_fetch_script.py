"""Run ``jsoc_fetch`` once, as a scheduled deployment would; the crash tests SIGKILL it.

Usage: ``python _fetch_script.py PATH QUERIES_JSON``. Settings come from ``PREFECT_JSOC_*``
environment variables; the Prefect API from ``PREFECT_API_URL``. The last line on stdout is
``RESULT <json>`` with each block's request id, files and counts.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    from prefect_jsoc import JsocQuery
    from prefect_jsoc.flows import jsoc_fetch

    path, specs = sys.argv[1], json.loads(sys.argv[2])
    queries = [JsocQuery(**spec) for spec in specs]
    result = jsoc_fetch(queries, path=path, fail_on_error=False)
    doc = {
        "ok": result.ok,
        "blocks": [
            {
                "label": b.label,
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
