"""``hmi.M_720s``: JSOC's definition, keyword order recorded, the rest inferred from ``hmi.M_45s``.

* Keyword order: ``Client.keys('hmi.M_720s')`` of the real JSOC as kept in ARCAFF/ARCCnet
  (``arccnet/data_generation/magnetograms/instruments/hmi.py``, ``HMILOSMagnetogram.keys``). That
  list also has ``DATE-OBS`` after ``DATE__OBS``; it is left out here because a DRMS keyword name
  cannot contain ``-`` (it is the FITS spelling of ``DATE__OBS``, which the list's users query by).
* The note is JSOC's (``showextseries``, as stored in sunpy's ``sunpy/net/jsoc/data/attrs.json``).
* Types, units, notes and defaults of every keyword are ``hmi.M_45s``'s (recorded), except the
  720-second step and cadence; the storage figures are ``hmi.M_45s``'s too.
"""

from __future__ import annotations

from . import hmi_m_45s as _base

NOTE = "magnetograms with a cadence of 720 seconds."
RETENTION = _base.RETENTION
STAGINGRETENTION = _base.STAGINGRETENTION
UNITSIZE = _base.UNITSIZE
ARCHIVE = _base.ARCHIVE
TAPEGROUP = _base.TAPEGROUP
PRIMEKEYSINFO = (("T_REC", 1, "720.0"), ("CAMERA", 0, None))
DBINDEX = _base.DBINDEX

_ORDER = (
    "cparms_sg000",
    "magnetogram_bzero",
    "magnetogram_bscale",
    "DATE",
    "DATE__OBS",
    "TELESCOP",
    "INSTRUME",
    "WAVELNTH",
    "CAMERA",
    "BUNIT",
    "ORIGIN",
    "CONTENT",
    "QUALITY",
    "QUALLEV1",
    "HISTORY",
    "COMMENT",
    "BLD_VERS",
    "HCAMID",
    "TOTVALS",
    "DATAVALS",
    "MISSVALS",
    "SATVALS",
    "DATAMIN2",
    "DATAMAX2",
    "DATAMED2",
    "DATAMEA2",
    "DATARMS2",
    "DATASKE2",
    "DATAKUR2",
    "DATAMIN",
    "DATAMAX",
    "DATAMEDN",
    "DATAMEAN",
    "DATARMS",
    "DATASKEW",
    "DATAKURT",
    "CTYPE1",
    "CTYPE2",
    "CRPIX1",
    "CRPIX2",
    "CRVAL1",
    "CRVAL2",
    "CDELT1",
    "CDELT2",
    "CUNIT1",
    "CUNIT2",
    "CROTA2",
    "CRDER1",
    "CRDER2",
    "CSYSER1",
    "CSYSER2",
    "WCSNAME",
    "DSUN_OBS",
    "DSUN_REF",
    "RSUN_REF",
    "CRLN_OBS",
    "CRLT_OBS",
    "CAR_ROT",
    "OBS_VR",
    "OBS_VW",
    "OBS_VN",
    "RSUN_OBS",
    "T_OBS",
    "T_REC",
    "T_REC_epoch",
    "T_REC_step",
    "T_REC_unit",
    "CADENCE",
    "DATASIGN",
    "HFLID",
    "HCFTID",
    "QLOOK",
    "CAL_FSN",
    "LUTQUERY",
    "TSEL",
    "TFRONT",
    "TINTNUM",
    "SINTNUM",
    "DISTCOEF",
    "ROTCOEF",
    "ODICOEFF",
    "OROCOEFF",
    "POLCALM",
    "CODEVER0",
    "CODEVER1",
    "CODEVER2",
    "CODEVER3",
    "T_REC_index",
    "CALVER64",
)
_BY_NAME = {row[0]: row for row in _base.KEYWORDS}
_CHANGES = {
    "T_REC_step": ("T_REC_step", "float", "constant", "720.0", "seconds", "ts_eq step", None),
    "CADENCE": ("CADENCE", "float", "constant", "720.0", "seconds", "repetition interval", None),
}
KEYWORDS = tuple(_CHANGES.get(name, _BY_NAME[name]) for name in _ORDER)
SEGMENTS = _base.SEGMENTS
LINKS = _base.LINKS
