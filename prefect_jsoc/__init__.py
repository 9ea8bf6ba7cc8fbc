"""prefect-jsoc: restart-safe, observable Prefect tasks and flows for JSOC (SDO/HMI/AIA) data.

Importing the package is light (the emulator's command and test plugin need nothing else): every
name loads on first use. Prefect registers the ``JsocSettings`` block through the collection entry
point, which names :mod:`prefect_jsoc.settings`.

Example:
    ```python
    from prefect_jsoc import JsocQuery, search, validate, stage, await_export, download

    q = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00:00", end="2014-01-01T00:05:00",
                  segments=["magnetogram"])
    ```
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from prefect_jsoc._log import keep_plain_calls_quiet

__all__ = [
    "Cutout",
    "DownloadResult",
    "ExportHandle",
    "ExportManifest",
    "JsocError",
    "JsocQuery",
    "JsocSettings",
    "JsocTransientError",
    "JsocValidationError",
    "KeywordFilter",
    "ManifestFile",
    "SearchResult",
    "await_export",
    "download",
    "or_queries",
    "search",
    "split_interval",
    "stage",
    "validate",
]

_LAZY = {
    "JsocSettings": "prefect_jsoc.settings",
    "Cutout": "prefect_jsoc.query",
    "JsocQuery": "prefect_jsoc.query",
    "KeywordFilter": "prefect_jsoc.query",
    "or_queries": "prefect_jsoc.query",
    "split_interval": "prefect_jsoc.query",
    "DownloadResult": "prefect_jsoc.models",
    "ExportHandle": "prefect_jsoc.models",
    "ExportManifest": "prefect_jsoc.models",
    "ManifestFile": "prefect_jsoc.models",
    "SearchResult": "prefect_jsoc.models",
    "JsocError": "prefect_jsoc.errors",
    "JsocTransientError": "prefect_jsoc.errors",
    "JsocValidationError": "prefect_jsoc.errors",
    "await_export": "prefect_jsoc.tasks",
    "download": "prefect_jsoc.tasks",
    "search": "prefect_jsoc.tasks",
    "stage": "prefect_jsoc.tasks",
    "validate": "prefect_jsoc.tasks",
}

if TYPE_CHECKING:  # pragma: no cover
    from prefect_jsoc.errors import JsocError, JsocTransientError, JsocValidationError
    from prefect_jsoc.models import DownloadResult, ExportHandle, ExportManifest, ManifestFile, SearchResult
    from prefect_jsoc.query import Cutout, JsocQuery, KeywordFilter, or_queries, split_interval
    from prefect_jsoc.settings import JsocSettings
    from prefect_jsoc.tasks import await_export, download, search, stage, validate


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'prefect_jsoc' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    keep_plain_calls_quiet()  # a plain task call (a notebook's ``search(q)``) prints only what matters
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
