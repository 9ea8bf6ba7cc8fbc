"""``hmi.M_45s`` as JSOC's ``jsoc_info?op=series_struct`` describes it (generated data, do not edit).

Source: the reply of jsoc.stanford.edu to ``jsoc_info?op=series_struct&ds=hmi.m_45s``, recorded
in sunpy's test cassette ``sunpy/net/jsoc/tests/cassettes/test_build_table.yaml`` (sunpy/sunpy
commit b361c0cd, 2020-04-10). Keywords, segments and links are in JSOC's order, the series'
definition order (per-segment keywords first); ``Interval`` and ``runtime`` are left out
because the emulator computes them.
"""

# ruff: noqa: E501
from __future__ import annotations

NOTE = 'magnetograms with a cadence of 45 seconds.'
RETENTION = 10000
STAGINGRETENTION = 3
UNITSIZE = 32
ARCHIVE = 1
TAPEGROUP = 6
#: (name, slotted, step) of each prime key, in order.
PRIMEKEYSINFO = (('T_REC', 1, '45.0'), ('CAMERA', 0, None))
DBINDEX = ('T_REC', 'CAMERA')
#: (name, type, recscope, defval, units, note, linkinfo) of each keyword, in JSOC's order.
KEYWORDS = (
    ('cparms_sg000', 'string', 'variable', 'compress Rice', 'none', '', None),
    ('magnetogram_bzero', 'double', 'variable', '0', 'none', '', None),
    ('magnetogram_bscale', 'double', 'variable', '0.1', 'none', '', None),
    ('DATE', 'time', 'variable', '-4712.01.01_11:59:28Z', 'ISO', 'Date_time of processing; ISO 8601 format UTC', None),
    ('DATE__OBS', 'time', 'variable', '-4712.01.01_11:59:27.82Z', 'ISO', '[DATE-OBS] DATE_OBS = T_OBS - EXPTIME/2.0', None),
    ('TELESCOP', 'string', 'constant', 'SDO/HMI', 'none', 'For HMI: SDO/HMI', None),
    ('INSTRUME', 'string', 'variable', '', 'none', 'For HMI: HMI_SIDE1, HMI_FRONT2, or HMI_COMBINED', None),
    ('WAVELNTH', 'float', 'constant', '6173.0', 'Angstrom', 'For HMI: 6173.3 Angstroms', None),
    ('CAMERA', 'int', 'variable', '-2147483648', 'none', 'For HMI: 1 (side camera), 2 (front camera), or 3 (both cameras)', None),
    ('BUNIT', 'string', 'constant', 'Gauss', 'none', 'BUNIT: physical units of data, Gauss', None),
    ('ORIGIN', 'string', 'constant', 'SDO/JSOC-SDP', 'none', 'ORIGIN: location where file made', None),
    ('CONTENT', 'string', 'constant', 'MAGNETOGRAM', 'none', 'CONTENT: MAGNETOGRAM', None),
    ('QUALITY', 'int', 'variable', '0x80000000', 'none', 'Level 1.5 Quality word', None),
    ('QUALLEV1', 'int', 'variable', '0x80000000', 'none', 'Logical OR on the bits of the level 1 Quality word', None),
    ('HISTORY', 'string', 'variable', '', 'none', 'processing history of data', None),
    ('COMMENT', 'string', 'variable', '', 'none', 'commentary on the data', None),
    ('BLD_VERS', 'string', 'variable', '', 'none', 'Code release build number of program that created this record', None),
    ('HCAMID', 'int', 'variable', '-2147483648', 'none', 'HMI_SEQ_ID_EXP_PATH', None),
    ('SOURCE', 'string', 'variable', '', 'none', 'level 1 filtergrams used to produce the observables', None),
    ('TOTVALS', 'int', 'variable', '-2147483648', 'none', 'Expected number of data values (pixels)', None),
    ('DATAVALS', 'int', 'variable', '-2147483648', 'none', 'Actual number of data values in images (pixels)', None),
    ('MISSVALS', 'int', 'variable', '-2147483648', 'none', 'Missing values: TOTVALS - DATAVALS', None),
    ('SATVALS', 'int', 'variable', '-2147483648', 'none', 'Saturated values', None),
    ('DATAMIN2', 'float', 'variable', 'nan', 'Gauss', 'Minimum value from all pixels', None),
    ('DATAMAX2', 'float', 'variable', 'nan', 'Gauss', 'Maximum value from all pixels', None),
    ('DATAMED2', 'float', 'variable', 'nan', 'Gauss', 'Median value from all pixels', None),
    ('DATAMEA2', 'float', 'variable', 'nan', 'Gauss', 'Mean value from all pixels', None),
    ('DATARMS2', 'float', 'variable', 'nan', 'Gauss', 'Rms deviation from the mean value of all pixels', None),
    ('DATASKE2', 'float', 'variable', 'nan', 'Gauss', 'Skewness from the mean value of all pixels', None),
    ('DATAKUR2', 'float', 'variable', 'nan', 'Gauss', 'Kurtosis of all pixels', None),
    ('DATAMIN', 'float', 'variable', 'nan', 'Gauss', 'Minimum value from pixels within 99% of solar radius', None),
    ('DATAMAX', 'float', 'variable', 'nan', 'Gauss', 'Maximum value from pixels within 99% of solar radius', None),
    ('DATAMEDN', 'float', 'variable', 'nan', 'Gauss', 'Median value from pixels within 99% of solar radius', None),
    ('DATAMEAN', 'float', 'variable', 'nan', 'Gauss', 'Mean value from pixels within 99% of solar radius', None),
    ('DATARMS', 'float', 'variable', 'nan', 'Gauss', 'Rms deviation from the mean value of pixels within 99% of solar radius', None),
    ('DATASKEW', 'float', 'variable', 'nan', 'Gauss', 'Skewness from the mean value of pixels within 99% of solar radius', None),
    ('DATAKURT', 'float', 'variable', 'nan', 'Gauss', 'Kurtosis of pixels within 99% of solar radius', None),
    ('CTYPE1', 'string', 'constant', 'HPLN-TAN', 'none', 'CTYPE1: HPLN-TAN (SOLARX)', None),
    ('CTYPE2', 'string', 'constant', 'HPLT-TAN', 'none', 'CTYPE2: HPLT-TAN (SOLARY)', None),
    ('CRPIX1', 'float', 'variable', 'nan', 'pixel', 'CRPIX1: location of the Sun center in CCD x direction', None),
    ('CRPIX2', 'float', 'variable', 'nan', 'pixel', 'CRPIX2: location of the Sun center in CCD y direction', None),
    ('CRVAL1', 'float', 'constant', '0.000000', 'arcsec', 'CRVAL1: x origin - center of the solar disk', None),
    ('CRVAL2', 'float', 'constant', '0.000000', 'arcsec', 'CRVAL2: y origin - center of the solar disk', None),
    ('CDELT1', 'float', 'variable', 'nan', 'arcsec/pixel', 'image scale in the x direction', None),
    ('CDELT2', 'float', 'variable', 'nan', 'arcsec/pixel', 'image scale in the y direction', None),
    ('CUNIT1', 'string', 'constant', 'arcsec', 'arcsec', 'CUNIT1: arcsec', None),
    ('CUNIT2', 'string', 'constant', 'arcsec', 'arcsec', 'CUNIT2: arcsec', None),
    ('CROTA2', 'float', 'variable', 'nan', 'deg', 'CROTA2: INST_ROT + SAT_ROT', None),
    ('CRDER1', 'float', 'variable', 'nan', 'arcsec', 'CRDER1: estimate of random error in coordinate x', None),
    ('CRDER2', 'float', 'variable', 'nan', 'arcsec', 'CRDER2: estimate of random error in coordinate y', None),
    ('CSYSER1', 'float', 'variable', 'nan', 'arcsec', 'CSYSER1: estimate of systematic error in coordinate x', None),
    ('CSYSER2', 'float', 'variable', 'nan', 'arcsec', 'CSYSER2: estimate of systematic error in coordinate y', None),
    ('WCSNAME', 'string', 'constant', 'Helioprojective-cartesian', 'none', 'WCS system name', None),
    ('DSUN_OBS', 'double', 'variable', 'nan', 'm', 'Distance from SDO to Sun center.', None),
    ('DSUN_REF', 'double', 'constant', '149597870691', 'm', 'Astronomical Unit', None),
    ('RSUN_REF', 'double', 'constant', '696000000', 'm', 'Reference radius of the Sun: 696,000,000.0 m', None),
    ('CRLN_OBS', 'float', 'variable', 'nan', 'deg', 'Carrington longitude of the observer', None),
    ('CRLT_OBS', 'float', 'variable', 'nan', 'deg', 'Carrington latitude of the observer', None),
    ('CAR_ROT', 'int', 'variable', '-2147483648', 'none', 'Carrington rotation number of CRLN_OBS', None),
    ('OBS_VR', 'double', 'variable', 'nan', 'm/s', 'velocity of the observer in radial direction. + is away from Sun', None),
    ('OBS_VW', 'double', 'variable', 'nan', 'm/s', 'velocity of the observer solar-westward. + in rough direction of Earth orbit', None),
    ('OBS_VN', 'double', 'variable', 'nan', 'm/s', 'velocity of the observer solar-northward (heliographic). + to north', None),
    ('RSUN_OBS', 'double', 'variable', 'nan', 'arcsec', 'angular radius of Sun. Corresponds to arcsin(RSUN_REF/DSUN_OBS)', None),
    ('T_OBS', 'time', 'variable', '-4712.01.01_11:59:28_TAI', 'TAI', 'nominal time', None),
    ('T_REC', 'time', 'ts_eq', '-4712.01.01_11:59:28_TAI', 'TAI', 'Slot time', None),
    ('T_REC_epoch', 'time', 'constant', '1993.01.01_00:00:00_TAI', 'TAI', 'Time of origin; MDI EPOCH', None),
    ('T_REC_step', 'float', 'constant', '45.0', 'seconds', 'ts_eq step', None),
    ('T_REC_unit', 'string', 'constant', 'secs', 'none', 'ts_eq unit', None),
    ('CADENCE', 'float', 'constant', '45.0', 'seconds', 'repetition interval', None),
    ('DATASIGN', 'int', 'constant', '1', 'none', 'DATASIGN: sign of observable quantity wrt Sun center', None),
    ('HFLID', 'int', 'variable', '-2147483648', 'none', 'HMI_SEQ_ID_FRAMELIST', None),
    ('HCFTID', 'int', 'variable', '-2147483648', 'none', 'HMI_SEQ_ID_FOCUS', None),
    ('QLOOK', 'int', 'constant', '0', 'none', 'QLOOK: 0=final data, 1=quick-look data', None),
    ('CAL_FSN', 'int', 'variable', '-2147483648', 'none', 'FSN of the look-up table used to produce the observables', None),
    ('LUTQUERY', 'string', 'variable', '', 'none', 'query used for the look-up tables', None),
    ('TSEL', 'float', 'variable', 'nan', 'degree Celsius', 'temperature keyword for polarization calibration', None),
    ('TFRONT', 'float', 'variable', 'nan', 'degree Celsius', 'temperature keyword for polarization calibration', None),
    ('TINTNUM', 'int', 'variable', '-2147483648', 'none', 'number of points used for the temporal interpolation', None),
    ('SINTNUM', 'int', 'variable', '-2147483648', 'none', 'number of points used for the spatial interpolation', None),
    ('DISTCOEF', 'string', 'variable', '', 'none', 'path to the distortion coefficient table used to produce the data', None),
    ('ROTCOEF', 'string', 'variable', '', 'none', 'path to the differential-rotation coefficient table used to produce the data', None),
    ('ODICOEFF', 'int', 'variable', '-2147483648', 'none', 'order of the distortion-coefficient polynomials', None),
    ('OROCOEFF', 'int', 'variable', '-2147483648', 'none', 'order of the differential-rotation polynomials', None),
    ('POLCALM', 'int', 'variable', '-2147483648', 'none', 'method used by the polarization calibration subroutine', None),
    ('CODEVER0', 'string', 'variable', '', 'none', 'version of the l.o.s. observable code used to produce the data', None),
    ('CODEVER1', 'string', 'variable', '', 'none', 'version of the gapfilling subroutine used to produce the data', None),
    ('CODEVER2', 'string', 'variable', '', 'none', 'version of the temporal interpolation subroutine used to produce the data', None),
    ('CODEVER3', 'string', 'variable', '', 'none', 'version of the polarization calibration subroutine used to produce the data', None),
    ('CALVER64', 'longlong', 'variable', '0x0000000000000000', 'none', 'Calibration Version', None),
    ('T_REC_index', 'longlong', 'index', '0', 'none', 'Index keyword associated with T_REC', None),
)
#: (name, type, units, protocol, dims, note) of each segment, in JSOC's order.
SEGMENTS = (
    ('magnetogram', 'int', 'Gauss', 'fits', '4096x4096', 'magnetogram'),
)
#: (name, target, kind, note) of each link.
LINKS = (
)
