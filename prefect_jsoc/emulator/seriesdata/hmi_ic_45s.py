"""``hmi.Ic_45s``: JSOC's definition, inferred from ``hmi.M_45s``.

No recorded ``series_struct`` reply of ``hmi.Ic_45s`` was found. What is known of it:

* ``Client.keys('hmi.Ic_45s')`` on the real JSOC starts ``cparms_sg000, continuum_bzero,
  continuum_bscale, DATE, DATE__OBS, TELESCOP, INSTRUME, WAVELNTH, CAMERA, BUNIT, ...`` (printed in
  a public drms tutorial), which is ``hmi.M_45s``'s order with the segment renamed: the HMI
  45-second observables share one definition template.
* The note is JSOC's (``showextseries``, as stored in sunpy's ``sunpy/net/jsoc/data/attrs.json``).
* The segment's type, units and note, and its ``bzero``/``bscale``, are those of the ``continuum``
  segment of ``hmi.sharp_720s`` (recorded), which is cut from this series.

Everything else (keyword list, types, units, notes, storage figures) is ``hmi.M_45s``'s.
"""

from __future__ import annotations

from . import hmi_m_45s as _base

NOTE = "continuum intensities with a cadence of 45 seconds."
RETENTION = _base.RETENTION
STAGINGRETENTION = _base.STAGINGRETENTION
UNITSIZE = _base.UNITSIZE
ARCHIVE = _base.ARCHIVE
TAPEGROUP = _base.TAPEGROUP
PRIMEKEYSINFO = _base.PRIMEKEYSINFO
DBINDEX = _base.DBINDEX

_CHANGES = {
    "magnetogram_bzero": ("continuum_bzero", "double", "variable", "97304", "none", "", None),
    "magnetogram_bscale": ("continuum_bscale", "double", "variable", "3", "none", "", None),
    "BUNIT": ("BUNIT", "string", "constant", "DN/s", "none", "BUNIT: physical units of data, DN/s", None),
    "CONTENT": ("CONTENT", "string", "constant", "CONTINUUM INTENSITY", "none", "CONTENT: CONTINUUM INTENSITY", None),
}
_DN = (
    "DATAMIN",
    "DATAMAX",
    "DATAMEDN",
    "DATAMEAN",
    "DATARMS",
    "DATAMIN2",
    "DATAMAX2",
    "DATAMED2",
    "DATAMEA2",
    "DATARMS2",
)


def _keyword(row: tuple) -> tuple:
    if row[0] in _CHANGES:
        return _CHANGES[row[0]]
    if row[0] in _DN:
        return (*row[:4], "DN/s", *row[5:])
    return row


KEYWORDS = tuple(_keyword(row) for row in _base.KEYWORDS)
SEGMENTS = (("continuum", "int", "DN/s", "fits", "4096x4096", "continuum intensity"),)
LINKS = _base.LINKS
