"""The series definitions JSOC reports in ``series_struct``, as data (one module per series).

Four are JSOC's own replies, recorded (``hmi.M_45s``, ``hmi.V_45s``, ``hmi.sharp_720s``,
``aia.lev1_euv_12s``); three are inferred from a recorded sibling (``hmi.Ic_45s``, ``hmi.M_720s``,
``aia.lev1_uv_24s``). Each module's docstring names its source. Every module defines ``NOTE``,
``RETENTION``, ``STAGINGRETENTION``, ``UNITSIZE``, ``ARCHIVE``, ``TAPEGROUP``, ``PRIMEKEYSINFO``,
``DBINDEX``, ``KEYWORDS``, ``SEGMENTS`` and ``LINKS`` (row layouts in ``hmi_m_45s.py``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["load"]


def load(module: str) -> ModuleType:
    """The data module ``module`` of this package, e.g. ``load("hmi_m_45s")``."""
    return importlib.import_module(f"{__name__}.{module}")
