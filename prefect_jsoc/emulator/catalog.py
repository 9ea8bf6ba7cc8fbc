"""The emulator's series catalogue.

What JSOC's ``series_struct`` says about a series (its keywords in definition order with their
types, units, notes and defaults, its segments, links, prime keys and storage figures) is data,
one module per series in ``seriesdata/``, each naming its source. This module adds the recipe the
emulator needs to invent records (:data:`_RECIPES`): the span of data, the values of the prime
key beside ``T_REC``, the SUMS numbering and a few physical parameters. Keyword values come from
the providers in ``records.py``; a keyword no provider knows is reported ``MISSING``, and a
constant keyword is its default, as in DRMS. To add a series, add a data module and a recipe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType

from .drmstime import TimeParseError, parse_time, tai_from_calendar
from .seriesdata import load

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


@dataclass(frozen=True)
class KeywordDef:
    """One DRMS keyword: what ``series_struct`` reports, and how the emulator prints values.

    Attributes:
        name: DRMS keyword name.
        type: DRMS type (``char, short, int, longlong, float, double, time, string``).
        recscope: DRMS record scope (``variable``, ``constant``, ``ts_eq``, ``index``, ``segment``).
        defval: The default value as JSOC prints it.
        units: Unit string (for time keywords the zone: ``TAI``, or ``ISO`` for UTC).
        note: Description.
        linkinfo: ``link->keyword`` for a keyword read through a link, else None.
        value: The fixed value of a constant keyword (or of a per-segment ``bzero``, ``bscale``
            or ``cparms`` keyword), typed; None when a provider computes it per record.
        fmt: printf-style format of numeric values (JSOC reports every value as a string).
        decimals: Decimals of the seconds of a time value.
    """

    name: str
    type: str
    recscope: str = "variable"
    defval: str = ""
    units: str = "none"
    note: str = ""
    linkinfo: str | None = None
    value: str | int | float | None = None
    fmt: str = "%f"
    decimals: int = 2

    @property
    def is_numeric(self) -> bool:
        """True for integer and real types."""
        return self.type in ("char", "short", "int", "longlong", "float", "double")

    @property
    def is_integer(self) -> bool:
        """True for integer types."""
        return self.type in ("char", "short", "int", "longlong")


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
        """The file name of this segment inside a storage unit (AIA level 1 stores ``image_lev1.fits``)."""
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
    """The slotted time prime key (``recscope: ts_eq``).

    Attributes:
        name: Keyword name (``T_REC``).
        epoch: TAI seconds of the centre of slot 0.
        step: Seconds per slot.
        step_text: The step as ``primekeysinfo`` prints it (``"45.0"``, ``"12.000000"``).
        unit: Zone of times given without one: ``TAI``, or ``UTC`` for a key whose units are ``ISO``.
        style: ``drms`` (``2014.01.01_00:00:45_TAI``) or ``iso`` (``2014-01-01T00:00:01Z``, UTC).
    """

    name: str
    epoch: float
    step: float
    step_text: str = ""
    unit: str = "TAI"
    style: str = "drms"


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
        keywords: Keywords in series (definition) order.
        segments: Segments in series order.
        links: Links to other series.
        dbindex: Keys of the database index, as ``series_struct`` lists them.
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
    dbindex: tuple[str, ...] = ()
    first: float = 0.0
    last: float = 0.0
    sunum_base: int = 0
    unitsize: int = 32
    retention: int = 10000
    stagingretention: int = 3
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


# --- how values are printed ------------------------------------------------------------------

# printf formats of the keywords the emulator computes, matching what jsoc_info prints for them
# (e.g. CRPIX1 '2061.370117', DSUN_OBS '147096672338.47', DATAMEAN '27.9984', PERCENTD '100.00').
_FORMATS = {
    "QUALITY": "0x%08x",
    "QUALLEV0": "0x%08x",
    "QUALLEV1": "0x%08x",
    "CALVER64": "0x%016x",
    "DSUN_OBS": "%.2f",
    "DATAMEAN": "%.4f",
    "PERCENTD": "%.2f",
    "USFLUX": "%.6e",
    "TOTUSJZ": "%.6e",
}
_TIME_DECIMALS = {"T_REC": 0, "DATE": 0}


def _typed(type_: str, text: str) -> str | int | float | None:
    """A printed default as a typed value (TAI seconds for times); None if it does not parse."""
    try:
        if type_ in ("char", "short", "int", "longlong"):
            return int(text, 0)
        if type_ in ("float", "double"):
            return float(text)
        if type_ == "time":
            return parse_time(text)
    except (ValueError, TimeParseError):
        return None
    return text


def _keyword(row: tuple, segment_names: set[str]) -> KeywordDef:
    name, type_, recscope, defval, units, note, linkinfo = row
    base = name.rsplit("_", 1)[0]
    # Per-segment compression and scaling keywords vary per record in DRMS but are the same
    # for every record of a series, so they are served as their defaults.
    fixed = (
        recscope == "constant"
        or name.startswith("cparms_sg")
        or (base in segment_names and name.endswith(("_bzero", "_bscale")))
    )
    fmt = _FORMATS.get(name, "%d" if type_ in ("char", "short", "int", "longlong") else "%f")
    return KeywordDef(
        name,
        type_,
        recscope,
        defval,
        units,
        note,
        linkinfo,
        value=_typed(type_, defval) if fixed else None,
        fmt=fmt,
        decimals=_TIME_DECIMALS.get(name, 2),
    )


def _segments(data: ModuleType, keywords: tuple[KeywordDef, ...]) -> tuple[SegmentDef, ...]:
    by_name = {k.name: k for k in keywords}
    out = []
    for i, (name, type_, units, protocol, dims, note) in enumerate(data.SEGMENTS):
        bzero, bscale = by_name.get(f"{name}_bzero"), by_name.get(f"{name}_bscale")
        cparms = by_name.get(f"cparms_sg{i:03d}")
        link = protocol[len("link via ") :] if protocol.startswith("link via ") else None
        out.append(
            SegmentDef(
                name,
                type_,
                units or "",
                note,
                link,
                bzero=float(bzero.value) if bzero is not None and bzero.value is not None else 0.0,
                bscale=float(bscale.value) if bscale is not None and bscale.value is not None else 1.0,
                cparms=str(cparms.defval) if cparms is not None else "compress Rice",
                variable_dims=bool(dims) and str(dims).startswith("VAR"),
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class _Recipe:
    """What the emulator adds to a series definition to invent its records."""

    module: str
    name: str
    other_values: tuple[int, ...] | None
    epoch: float
    first: float
    last: float
    sunum_base: int
    params: dict


def _build(recipe: _Recipe) -> SeriesDef:
    data = load(recipe.module)
    segment_names = {row[0] for row in data.SEGMENTS}
    keywords = tuple(_keyword(row, segment_names) for row in data.KEYWORDS)
    primekeys = tuple(name for name, _, _ in data.PRIMEKEYSINFO)
    time_name, _, step_text = next(p for p in data.PRIMEKEYSINFO if p[1])
    other_key = next(name for name, slotted, _ in data.PRIMEKEYSINFO if not slotted)
    iso = next(k for k in keywords if k.name == time_name).units == "ISO"
    time_key = TimeKeyDef(
        time_name,
        recipe.epoch,
        float(step_text),
        step_text,
        unit="UTC" if iso else "TAI",
        style="iso" if iso else "drms",
    )
    return SeriesDef(
        name=recipe.name,
        note=data.NOTE,
        primekeys=primekeys,
        time_key=time_key,
        other_key=other_key,
        other_values=recipe.other_values,
        keywords=keywords,
        segments=_segments(data, keywords),
        links=tuple(LinkDef(*row) for row in data.LINKS),
        dbindex=tuple(data.DBINDEX),
        first=recipe.first,
        last=recipe.last,
        sunum_base=recipe.sunum_base,
        unitsize=data.UNITSIZE,
        retention=data.RETENTION,
        stagingretention=data.STAGINGRETENTION,
        tapegroup=data.TAPEGROUP,
        archive=data.ARCHIVE,
        params=recipe.params,
    )


_HMI_EPOCH = tai_from_calendar(1993, 1, 1)  # T_REC_epoch of the HMI series
# AIA slots fall on 00:00:01Z, 00:00:13Z, ... in 2014, as JSOC prints them; this grid gives that.
_AIA_EPOCH = 0.0
_HMI_SPAN = {"first": tai_from_calendar(2010, 5, 1), "last": tai_from_calendar(2026, 1, 1)}
_AIA_SPAN = {"first": tai_from_calendar(2010, 5, 13), "last": tai_from_calendar(2026, 1, 1)}


def _hmi(instrume: str, camera: int) -> dict:
    return {
        "instrument": "HMI",
        "instrume": instrume,
        "camera": camera,
        "exptime": 0.115,
        "crota2": 180.08,
        "center": 2048.5,
        "cdelt": 0.504273,
    }


# Storage-unit ranges must not overlap: aia.lev1_euv_12s alone has about 290 million records,
# one per storage unit, as on JSOC.
_RECIPES = (
    _Recipe(
        "hmi_m_45s", "hmi.M_45s", (2,), _HMI_EPOCH, **_HMI_SPAN, sunum_base=300_000_000, params=_hmi("HMI_FRONT2", 2)
    ),
    _Recipe(
        "hmi_v_45s", "hmi.V_45s", (2,), _HMI_EPOCH, **_HMI_SPAN, sunum_base=310_000_000, params=_hmi("HMI_FRONT2", 2)
    ),
    _Recipe(
        "hmi_ic_45s", "hmi.Ic_45s", (2,), _HMI_EPOCH, **_HMI_SPAN, sunum_base=320_000_000, params=_hmi("HMI_FRONT2", 2)
    ),
    _Recipe(
        "hmi_m_720s",
        "hmi.M_720s",
        (3,),
        _HMI_EPOCH,
        **_HMI_SPAN,
        sunum_base=330_000_000,
        params=_hmi("HMI_COMBINED", 3),
    ),
    _Recipe(
        "hmi_sharp_720s",
        "hmi.sharp_720s",
        None,
        _HMI_EPOCH,
        **_HMI_SPAN,
        sunum_base=340_000_000,
        params={**_hmi("HMI_COMBINED", 3), "center": 120.5, "cdelt": 0.504},
    ),
    _Recipe(
        "aia_lev1_euv_12s",
        "aia.lev1_euv_12s",
        AIA_EUV_WAVELENGTHS,
        _AIA_EPOCH,
        **_AIA_SPAN,
        sunum_base=400_000_000,
        params={"instrument": "AIA", "crota2": 0.01, "center": 2048.5, "cdelt": 0.6},
    ),
    _Recipe(
        "aia_lev1_uv_24s",
        "aia.lev1_uv_24s",
        AIA_UV_WAVELENGTHS,
        _AIA_EPOCH,
        **_AIA_SPAN,
        sunum_base=700_000_000,
        params={"instrument": "AIA", "crota2": 0.01, "center": 2048.5, "cdelt": 0.6},
    ),
)

_SERIES: tuple[SeriesDef, ...] = tuple(_build(r) for r in _RECIPES)
_BY_LOWER = {s.name.lower(): s for s in _SERIES}
_BY_BASE = sorted(_SERIES, key=lambda s: s.sunum_base)

#: The segments of ``hmi.sharp_720s``, in JSOC's order.
SHARP_SEGMENTS = tuple(seg.name for seg in _BY_LOWER["hmi.sharp_720s"].segments)


def all_series() -> tuple[SeriesDef, ...]:
    """Every series of the catalogue, sorted by name as ``showextseries`` lists them."""
    return tuple(sorted(_SERIES, key=lambda s: s.name.lower()))


def find_series(name: str) -> SeriesDef | None:
    """Find a series by name, case-insensitively."""
    return _BY_LOWER.get(name.strip().lower())


def series_by_sunum(sunum: int) -> SeriesDef | None:
    """The series owning a data storage unit number (exports use numbers above all of these)."""
    for i, s in enumerate(_BY_BASE):
        end = _BY_BASE[i + 1].sunum_base if i + 1 < len(_BY_BASE) else s.sunum_base + 100_000_000
        if s.sunum_base <= sunum < end:
            return s
    return None
