"""The emulator's series catalogue, as data.

Each :class:`SeriesDef` says what JSOC's ``series_struct`` says about a series (prime keys,
keywords, segments, links) plus the few facts the emulator needs to invent records: the slotted
time key (epoch and step), the values of the other prime key, the span of data and the SUMS
numbering. Keyword values come from the provider named in each :class:`KeywordDef`
(see ``records.py``). To add a series, append a definition to ``_build()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .drmstime import tai_from_calendar

__all__ = [
    "AIA_EUV_WAVELENGTHS",
    "KeywordDef",
    "LinkDef",
    "SHARP_SEGMENTS",
    "SegmentDef",
    "SeriesDef",
    "TimeKeyDef",
    "all_series",
    "find_series",
    "series_by_sunum",
]

AIA_EUV_WAVELENGTHS = (94, 131, 171, 193, 211, 304, 335)
AIA_UV_WAVELENGTHS = (1600, 1700)

SHARP_SEGMENTS = (
    "magnetogram", "bitmap", "Dopplergram", "continuum", "inclination", "azimuth", "field",
    "vlos_mag", "dop_width", "eta_0", "damping", "src_continuum", "src_grad", "alpha_mag",
    "chisq", "conv_flag", "info_map", "confid_map", "inclination_err", "azimuth_err",
    "field_err", "vlos_err", "alpha_err", "field_inclination_err", "field_az_err",
    "inclin_azimuth_err", "field_alpha_err", "inclination_alpha_err", "azimuth_alpha_err",
    "disambig", "conf_disambig",
)


@dataclass(frozen=True)
class KeywordDef:
    """One DRMS keyword: what ``series_struct`` reports and how values are made.

    Attributes:
        name: DRMS keyword name.
        type: DRMS type (``char, short, int, longlong, float, double, time, string``).
        units: Unit string (for time keywords, the zone: ``TAI`` or ``UTC``).
        note: Description.
        provider: Name of the value function in ``records.py``; ``None`` means ``value``.
        value: Constant value when ``provider`` is ``None``.
        fmt: printf-style format for numeric values (JSOC reports every value as a string).
        recscope: DRMS record scope (``variable``, ``constant``, ``ts_eq``, ``segment``).
        arg: Free argument passed to the provider (e.g. a segment name).
    """

    name: str
    type: str
    units: str = "none"
    note: str = ""
    provider: str | None = None
    value: str | int | float | None = None
    fmt: str = "%g"
    recscope: str = "variable"
    arg: str | None = None

    @property
    def defval(self) -> str:
        """The default value as ``series_struct`` prints it."""
        if self.type == "time":
            return "-4712.01.01_11:59_TAI"
        if self.type in ("int", "short", "longlong"):
            return "-2147483648"
        if self.type in ("float", "double"):
            return "nan"
        return ""

    @property
    def is_numeric(self) -> bool:
        """True for integer and real types."""
        return self.type in ("char", "short", "int", "longlong", "float", "double")


@dataclass(frozen=True)
class SegmentDef:
    """One data segment (a file per record)."""

    name: str
    type: str = "int"
    units: str = "none"
    note: str = ""
    link: str | None = None
    bzero: float = 0.0
    bscale: float = 1.0
    cparms: str = "compress Rice"
    variable_dims: bool = False

    @property
    def filename(self) -> str:
        """The file name of this segment inside a storage unit."""
        if self.link is not None and self.name == "image":
            return "image_lev1.fits"
        return f"{self.name}.fits"


@dataclass(frozen=True)
class LinkDef:
    """A DRMS link to records of another series."""

    name: str
    target: str
    kind: str = "DYNAMIC"
    note: str = ""


@dataclass(frozen=True)
class TimeKeyDef:
    """The slotted time prime key (``recscope: ts_eq``)."""

    name: str
    epoch: float
    step: float
    unit: str = "TAI"
    style: str = "drms"  # "drms": 2014.01.01_00:00:45_TAI; "iso": 2014-01-01T00:00:01Z (UTC)
    epoch_text: str = "1993.01.01_00:00:00_TAI"


@dataclass(frozen=True)
class SeriesDef:
    """A data series and the recipe for its records.

    Attributes:
        name: Canonical name as JSOC spells it (matching is case-insensitive).
        note: Series description.
        primekeys: Prime keys in DRMS order.
        time_key: The slotted time prime key.
        other_key: The other prime key (``CAMERA``, ``WAVELNTH`` or ``HARPNUM``).
        other_values: Values the other key takes in every slot; ``None`` means the HARP
            catalogue (regions that come and go, see ``records.py``).
        keywords: Keywords in series order.
        segments: Segments in series order.
        links: Links to other series.
        first: TAI seconds of the first record's slot.
        last: TAI seconds of the last record's slot.
        sunum_base: First storage-unit number of this series.
        unitsize: Records per storage unit.
        params: Physical parameters read by the keyword providers.
    """

    name: str
    note: str
    primekeys: tuple[str, ...]
    time_key: TimeKeyDef
    other_key: str
    other_values: tuple[int, ...] | None
    keywords: tuple[KeywordDef, ...]
    segments: tuple[SegmentDef, ...]
    links: tuple[LinkDef, ...] = ()
    first: float = 0.0
    last: float = 0.0
    sunum_base: int = 0
    unitsize: int = 32
    retention: int = 10000
    tapegroup: int = 2
    archive: int = 1
    params: dict = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_kw", {k.name: k for k in self.keywords})
        object.__setattr__(self, "_kw_upper", {k.name.upper(): k for k in self.keywords})
        object.__setattr__(self, "_seg", {s.name: s for s in self.segments})

    @property
    def time_first(self) -> bool:
        """True when the time key is the first prime key."""
        return self.primekeys[0] == self.time_key.name

    def keyword(self, name: str) -> KeywordDef | None:
        """Look a keyword up by name (exact, then case-insensitive; ``DATE-OBS`` aliases ``DATE__OBS``)."""
        kw = self._kw.get(name)  # type: ignore[attr-defined]
        if kw is None:
            kw = self._kw_upper.get(name.upper().replace("-", "__"))  # type: ignore[attr-defined]
        return kw

    def segment(self, name: str) -> SegmentDef | None:
        """Look a segment up by its exact name."""
        return self._seg.get(name)  # type: ignore[attr-defined]

    def segment_by_filename(self, filename: str) -> SegmentDef | None:
        """Find the segment stored under ``filename`` in a storage unit."""
        for seg in self.segments:
            if seg.filename == filename:
                return seg
        return None


def _kw(name: str, type_: str, units: str = "none", note: str = "", *, provider: str | None = None,
        value: str | int | float | None = None, fmt: str = "%g", recscope: str = "variable",
        arg: str | None = None) -> KeywordDef:
    if provider is None and value is None:
        provider = name.lower().replace("__", "_").replace("-", "_")
    return KeywordDef(name, type_, units, note or name, provider, value, fmt, recscope, arg)


_HMI_EPOCH = tai_from_calendar(1993, 1, 1)
_AIA_EPOCH = 0.0  # 1977.01.01_00:00:00_TAI


def _wcs_keywords(cdelt: float) -> list[KeywordDef]:
    return [
        _kw("CTYPE1", "string", value="HPLN-TAN", note="[CTYPE1] Coordinate type"),
        _kw("CTYPE2", "string", value="HPLT-TAN", note="[CTYPE2] Coordinate type"),
        _kw("CUNIT1", "string", value="arcsec", note="[CUNIT1] Units of CDELT1"),
        _kw("CUNIT2", "string", value="arcsec", note="[CUNIT2] Units of CDELT2"),
        _kw("CRPIX1", "float", "pixel", "[CRPIX1] Location of Sun center in CCD x direction", fmt="%.6f"),
        _kw("CRPIX2", "float", "pixel", "[CRPIX2] Location of Sun center in CCD y direction", fmt="%.6f"),
        _kw("CRVAL1", "float", "arcsec", "[CRVAL1] x origin", value=0.0, fmt="%.6f"),
        _kw("CRVAL2", "float", "arcsec", "[CRVAL2] y origin", value=0.0, fmt="%.6f"),
        _kw("CDELT1", "float", "arcsec/pixel", "[CDELT1] Image scale in x", value=cdelt, fmt="%.6f"),
        _kw("CDELT2", "float", "arcsec/pixel", "[CDELT2] Image scale in y", value=cdelt, fmt="%.6f"),
        _kw("CROTA2", "float", "degree", "[CROTA2] Rotation of the image", fmt="%.6f"),
        _kw("RSUN_OBS", "double", "arcsec", "[RSUN_OBS] Apparent radius of the Sun", fmt="%.6f"),
        _kw("RSUN_REF", "double", "m", "Reference radius of the Sun", value=696000000.0, fmt="%.1f"),
        _kw("DSUN_OBS", "double", "m", "[DSUN_OBS] Distance from SDO to Sun center", fmt="%.2f"),
        _kw("CRLN_OBS", "float", "degree", "[CRLN_OBS] Carrington longitude of the observer", fmt="%.6f"),
        _kw("CRLT_OBS", "float", "degree", "[CRLT_OBS] Carrington latitude of the observer", fmt="%.6f"),
        _kw("HGLN_OBS", "float", "degree", "[HGLN_OBS] Stonyhurst longitude of the observer", value=0.0, fmt="%.6f"),
        _kw("CAR_ROT", "int", "none", "[CAR_ROT] Carrington rotation number of CRLN_OBS", fmt="%d"),
    ]


def _hmi_full_disk(name: str, note: str, segment: SegmentDef, step: float, camera: int,
                   sunum_base: int, content: str, instrume: str) -> SeriesDef:
    kws = [
        _kw("T_REC", "time", "TAI", "[T_REC] Slot time", recscope="ts_eq"),
        _kw("CAMERA", "int", "none", "[CAMERA] Camera number (1: side, 2: front, 3: combined)", fmt="%d"),
        _kw("T_OBS", "time", "TAI", "[T_OBS] Nominal time of the observation"),
        _kw("DATE__OBS", "string", "ISO", "[DATE-OBS] Start of the observation, UTC"),
        _kw("DATE", "string", "ISO", "[DATE] Time of processing, UTC"),
        _kw("TELESCOP", "string", value="SDO/HMI", note="[TELESCOP] For HMI: SDO/HMI"),
        _kw("INSTRUME", "string", value=instrume, note="[INSTRUME] For HMI: HMI_SIDE1, HMI_FRONT2 or HMI_COMBINED"),
        _kw("WAVELNTH", "float", "angstrom", "[WAVELNTH] Wavelength of the Fe I line", value=6173.0, fmt="%.1f",
            recscope="constant"),
        _kw("CONTENT", "string", value=content, note="[CONTENT] Data content"),
        _kw("QUALITY", "int", "none", "[QUALITY] Level 1 quality word", fmt="0x%08x"),
        _kw("QUALLEV1", "int", "none", "[QUALLEV1] Level 1 quality word from observables", provider="quality",
            fmt="0x%08x"),
        *_wcs_keywords(0.504273),
        _kw("DATAMIN", "double", segment.units, "[DATAMIN] Minimum value of the image", fmt="%.6f"),
        _kw("DATAMAX", "double", segment.units, "[DATAMAX] Maximum value of the image", fmt="%.6f"),
        _kw("DATAMEAN", "double", segment.units, "[DATAMEAN] Mean value of the image", fmt="%.6f"),
        _kw("DATAMEDN", "double", segment.units, "[DATAMEDN] Median value of the image", fmt="%.6f"),
        _kw("TOTVALS", "int", "none", "[TOTVALS] Expected number of values", fmt="%d"),
        _kw("MISSVALS", "int", "none", "[MISSVALS] Number of missing values", fmt="%d"),
        _kw("CALVER64", "longlong", "none", "[CALVER64] Calibration version", value=0x2102, fmt="0x%016x"),
    ]
    return SeriesDef(
        name=name, note=note, primekeys=("T_REC", "CAMERA"),
        time_key=TimeKeyDef("T_REC", _HMI_EPOCH, step),
        other_key="CAMERA", other_values=(camera,), keywords=tuple(kws), segments=(segment,),
        first=tai_from_calendar(2010, 5, 1), last=tai_from_calendar(2026, 1, 1),
        sunum_base=sunum_base, unitsize=32 if step < 100 else 4, retention=10000 if step < 100 else 100000,
        params={"instrument": "HMI", "exptime": 0.115, "crota2": 180.08, "center": 2048.5},
    )


def _sharp() -> SeriesDef:
    segs = []
    for name in SHARP_SEGMENTS:
        if name in ("bitmap", "conv_flag", "info_map", "confid_map", "disambig", "conf_disambig"):
            segs.append(SegmentDef(name, "char", "none", f"{name} map", cparms="compress Rice", variable_dims=True))
        else:
            segs.append(SegmentDef(name, "int", "none", f"{name}", bscale=0.01, variable_dims=True))
    kws = [
        _kw("HARPNUM", "int", "none", "[HARPNUM] HARP ID", fmt="%d"),
        _kw("T_REC", "time", "TAI", "[T_REC] Slot time", recscope="ts_eq"),
        _kw("T_OBS", "time", "TAI", "[T_OBS] Nominal time of the observation"),
        _kw("DATE__OBS", "string", "ISO", "[DATE-OBS] Start of the observation, UTC"),
        _kw("DATE", "string", "ISO", "[DATE] Time of processing, UTC"),
        _kw("TELESCOP", "string", value="SDO/HMI", note="[TELESCOP] For HMI: SDO/HMI"),
        _kw("INSTRUME", "string", value="HMI_COMBINED", note="[INSTRUME] HMI_COMBINED"),
        _kw("WAVELNTH", "float", "angstrom", "[WAVELNTH] Wavelength", value=6173.0, fmt="%.1f", recscope="constant"),
        _kw("CAMERA", "int", "none", "[CAMERA] Camera", value=3, fmt="%d"),
        _kw("QUALITY", "int", "none", "[QUALITY] Level 1 quality word", fmt="0x%08x"),
        _kw("NOAA_AR", "int", "none", "[NOAA_AR] NOAA active region number that best matches the HARP", fmt="%d"),
        _kw("NOAA_NUM", "int", "none", "[NOAA_NUM] Number of NOAA active regions in the HARP", fmt="%d"),
        _kw("NOAA_ARS", "string", "none", "[NOAA_ARS] Comma-separated list of NOAA active regions"),
        *_wcs_keywords(0.03),
        _kw("LAT_FWT", "float", "degree", "[LAT_FWT] Latitude of the flux-weighted center", fmt="%.6f"),
        _kw("LON_FWT", "float", "degree", "[LON_FWT] Longitude of the flux-weighted center", fmt="%.6f"),
        _kw("AREA_ACR", "float", "mu-hemisphere", "[AREA_ACR] De-projected area of active pixels", fmt="%.6f"),
        _kw("USFLUX", "float", "Mx", "[USFLUX] Total unsigned flux", fmt="%.6e"),
        _kw("MEANGAM", "float", "degree", "[MEANGAM] Mean angle of field from radial", fmt="%.6f"),
        _kw("TOTUSJZ", "float", "A", "[TOTUSJZ] Total unsigned vertical current", fmt="%.6e"),
    ]
    for seg in segs:
        kws.append(_kw(f"{seg.name}_bzero", "double", "none", f"{seg.name} bzero", provider="seg_bzero",
                       arg=seg.name, fmt="%g", recscope="constant"))
        kws.append(_kw(f"{seg.name}_bscale", "double", "none", f"{seg.name} bscale", provider="seg_bscale",
                       arg=seg.name, fmt="%g", recscope="constant"))
    return SeriesDef(
        name="hmi.sharp_720s",
        note="Spaceweather HMI Active Region Patch (SHARP): CCD coordinates",
        primekeys=("HARPNUM", "T_REC"),
        time_key=TimeKeyDef("T_REC", _HMI_EPOCH, 720.0),
        other_key="HARPNUM", other_values=None, keywords=tuple(kws), segments=tuple(segs),
        links=(LinkDef("MDATA", "hmi.M_720s", note="Magnetogram data"),),
        first=tai_from_calendar(2010, 5, 1), last=tai_from_calendar(2026, 1, 1),
        sunum_base=340_000_000, unitsize=1, retention=100000, tapegroup=12,
        params={"instrument": "HMI", "exptime": 0.115, "crota2": 180.08, "center": 120.5},
    )


def _aia(name: str, note: str, step: float, wavelengths: tuple[int, ...], sunum_base: int) -> SeriesDef:
    segs = (
        SegmentDef("image", "int", "none", "AIA level 1 image", link="lev1"),
        SegmentDef("spikes", "int", "none", "Removed cosmic-ray spikes", link="lev1"),
    )
    kws = [
        _kw("T_REC", "time", "UTC", "[T_REC] Slot time", recscope="ts_eq"),
        _kw("WAVELNTH", "int", "angstrom", "[WAVELNTH] Wavelength", fmt="%d"),
        _kw("T_OBS", "time", "UTC", "[T_OBS] Observation time, mid exposure"),
        _kw("DATE__OBS", "string", "ISO", "[DATE-OBS] Start of the observation, UTC"),
        _kw("DATE", "string", "ISO", "[DATE] Time of processing, UTC"),
        _kw("TELESCOP", "string", value="SDO/AIA", note="[TELESCOP] SDO/AIA"),
        _kw("INSTRUME", "string", note="[INSTRUME] AIA_1, AIA_2, AIA_3 or AIA_4"),
        _kw("WAVEUNIT", "string", value="angstrom", note="[WAVEUNIT] Wavelength unit"),
        _kw("QUALITY", "int", "none", "[QUALITY] Level 1 quality word", fmt="0x%08x"),
        _kw("EXPTIME", "float", "s", "[EXPTIME] Exposure duration", fmt="%.6f"),
        *_wcs_keywords(0.6),
        _kw("DATAMIN", "int", "DN", "[DATAMIN] Minimum value of the image", fmt="%d"),
        _kw("DATAMAX", "int", "DN", "[DATAMAX] Maximum value of the image", fmt="%d"),
        _kw("DATAMEAN", "float", "DN", "[DATAMEAN] Mean value of the image", fmt="%.6f"),
        _kw("DATAMEDN", "float", "DN", "[DATAMEDN] Median value of the image", fmt="%.6f"),
        _kw("PERCENTD", "float", "%", "[PERCENTD] Percentage of good pixels", fmt="%.4f"),
    ]
    return SeriesDef(
        name=name, note=note, primekeys=("T_REC", "WAVELNTH"),
        time_key=TimeKeyDef("T_REC", _AIA_EPOCH, step, unit="UTC", style="iso",
                            epoch_text="1977.01.01_00:00:00_TAI"),
        other_key="WAVELNTH", other_values=wavelengths, keywords=tuple(kws), segments=segs,
        links=(LinkDef("lev1", "aia.lev1", note="Level 1 record"),),
        first=tai_from_calendar(2010, 5, 13), last=tai_from_calendar(2026, 1, 1),
        sunum_base=sunum_base, unitsize=64, retention=60, tapegroup=30,
        params={"instrument": "AIA", "crota2": 0.01, "center": 2048.5},
    )


def _build() -> tuple[SeriesDef, ...]:
    return (
        _hmi_full_disk("hmi.M_45s", "LOS magnetograms with 45s cadence",
                       SegmentDef("magnetogram", "int", "Gauss", "magnetogram", bscale=0.1),
                       45.0, 2, 300_000_000, "MAGNETOGRAM", "HMI_FRONT2"),
        _hmi_full_disk("hmi.V_45s", "Dopplergrams with a cadence of 45 seconds",
                       SegmentDef("Dopplergram", "int", "m/s", "Dopplergram", bscale=0.5),
                       45.0, 2, 310_000_000, "DOPPLERGRAM", "HMI_FRONT2"),
        _hmi_full_disk("hmi.Ic_45s", "continuum intensities with a cadence of 45 seconds",
                       SegmentDef("continuum", "int", "DN/s", "continuum intensity", bzero=97304.0, bscale=3.0),
                       45.0, 2, 320_000_000, "CONTINUUM INTENSITY", "HMI_FRONT2"),
        _hmi_full_disk("hmi.M_720s", "LOS magnetograms with 720s cadence",
                       SegmentDef("magnetogram", "int", "Gauss", "magnetogram", bscale=0.1),
                       720.0, 3, 330_000_000, "MAGNETOGRAM", "HMI_COMBINED"),
        _sharp(),
        _aia("aia.lev1_euv_12s", "AIA Level 1, 12 second cadence", 12.0, AIA_EUV_WAVELENGTHS, 400_000_000),
        _aia("aia.lev1_uv_24s", "AIA Level 1, 24 second cadence", 24.0, AIA_UV_WAVELENGTHS, 460_000_000),
    )


_SERIES: tuple[SeriesDef, ...] = _build()
_BY_LOWER = {s.name.lower(): s for s in _SERIES}


def all_series() -> tuple[SeriesDef, ...]:
    """Every series of the catalogue, sorted by name as ``showextseries`` lists them."""
    return tuple(sorted(_SERIES, key=lambda s: s.name.lower()))


def find_series(name: str) -> SeriesDef | None:
    """Find a series by name, case-insensitively."""
    return _BY_LOWER.get(name.strip().lower())


def series_by_sunum(sunum: int) -> SeriesDef | None:
    """The series owning a data storage unit number (exports use numbers above all of these)."""
    best = None
    for s in _SERIES:
        if sunum >= s.sunum_base and (best is None or s.sunum_base > best.sunum_base):
            best = s
    if best is not None and sunum - best.sunum_base >= 60_000_000:
        return None
    return best
