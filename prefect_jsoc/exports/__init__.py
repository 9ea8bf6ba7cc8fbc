"""Submitting and awaiting exports: the plain functions behind the ``stage`` and ``await_export`` tasks.

Restart safety comes from Prefect, not from files here: ``stage`` is cached on the export's content,
so a re-run re-attaches to the same request id; a run that finds no cache entry (another host without
shared result storage) asks JSOC again, and JSOC answers an identical request within 24 hours with
the same request id, which :mod:`prefect_jsoc.export_events` recognises and logs as a re-attachment.
A pending-export slot (:mod:`prefect_jsoc.limits`) is taken by ``stage`` and released by
``await_export``, so every composition of the tasks keeps JSOC's limit.

* :mod:`~prefect_jsoc.exports.stage`: :func:`stage_export`, submission and JSOC's back-pressure;
* :mod:`~prefect_jsoc.exports.wait`: :func:`wait_for_export` and its polling schedule;
* :mod:`~prefect_jsoc.exports.manifests`: the files of a completed export (:func:`build_files`)
  and their split over a packed export's blocks (:func:`split_manifest`).
"""

from __future__ import annotations

from .manifests import build_files, split_manifest
from .stage import stage_export
from .wait import FIRST_POLL, PENDING_STATUSES, SECOND_POLL, ProgressCallback, wait_for_export

__all__ = [
    "FIRST_POLL",
    "PENDING_STATUSES",
    "SECOND_POLL",
    "ProgressCallback",
    "build_files",
    "split_manifest",
    "stage_export",
    "wait_for_export",
]
