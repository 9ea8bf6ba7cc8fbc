"""``aia.lev1_uv_24s``: JSOC's definition, inferred from ``aia.lev1_euv_12s``.

No recorded ``series_struct`` reply of ``aia.lev1_uv_24s`` was found. Both series are views of
``aia.lev1`` through the ``lev1`` link with one definition template, so everything here is
``aia.lev1_euv_12s``'s (recorded) except the 24-second slot step and the note, which is JSOC's
(``showextseries``, as stored in sunpy's ``sunpy/net/jsoc/data/attrs.json``).
"""

from __future__ import annotations

from . import aia_lev1_euv_12s as _base

NOTE = "AIA Level 1, 24 second cadence"
RETENTION = _base.RETENTION
STAGINGRETENTION = _base.STAGINGRETENTION
UNITSIZE = _base.UNITSIZE
ARCHIVE = _base.ARCHIVE
TAPEGROUP = _base.TAPEGROUP
PRIMEKEYSINFO = (("T_REC", 1, "24.000000"), ("WAVELNTH", 0, None))
DBINDEX = _base.DBINDEX
KEYWORDS = tuple(
    ("T_REC_step", "double", "constant", "24.000000", "second", "T_REC step", None) if row[0] == "T_REC_step" else row
    for row in _base.KEYWORDS
)
SEGMENTS = _base.SEGMENTS
LINKS = _base.LINKS
