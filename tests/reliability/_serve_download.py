"""Serve a deployment whose flow downloads one export on a task-runner thread (``flow.serve``).

The cancellation test starts this script, creates a run of the deployment, and cancels it through
the Prefect API as the UI's Cancel button does; the runner then terminates the run's process.
Settings come from ``PREFECT_JSOC_*`` environment variables, the Prefect API from ``PREFECT_API_URL``.
"""

from __future__ import annotations

from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner


@flow(name="download-served", task_runner=ThreadPoolTaskRunner(max_workers=2))
def download_served(manifest_json: str, path: str) -> int:
    """Download the files of the manifest (JSON) into ``path`` with the ``download`` task."""
    from prefect_jsoc.models import ExportManifest
    from prefect_jsoc.tasks import download

    manifest = ExportManifest.model_validate_json(manifest_json)
    return download.submit(manifest, path).result().downloaded


if __name__ == "__main__":
    download_served.serve(name="cancel-test")
