"""Records of the emulated series: identity, keyword values, record names and SUMS paths.

A record is a ``(slot, key)`` pair: the index of its ``T_REC`` slot and the value of the
series' other prime key (``CAMERA``, ``WAVELNTH`` or ``HARPNUM``). Everything else (record
number, keywords, storage path) is a pure function of that pair, so nothing is stored and any
record can be recomputed from its SUMS path when a file is requested.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from typing import NamedTuple

from .catalog import KeywordDef, SeriesDef, series_by_sunum
from .drmstime import format_drms, format_iso_utc, slot_index, tai_from_calendar, tai_to_utc_label

__all__ = [
    "Record",
    "format_value",
    "is_modelled",
    "harps_active",
    "harp_max",
    "harp_span",
    "keyword_raw",
    "keyword_string",
    "record_from_recnum",
    "record_from_sums",
    "record_name",
    "recnum",
    "slot_bounds",
    "sums_dir",
    "sunum_of",
    "t_rec",
]


class Record(NamedTuple):
    """One record: its ``T_REC`` slot index and the value of the other prime key."""

    slot: int
    key: int


# --- slots and the HARP catalogue -------------------------------------------------------------

_BOUNDS: dict[str, tuple[int, int]] = {}


def slot_bounds(series: SeriesDef) -> tuple[int, int]:
    """First and last slot index holding data in ``series``."""
    b = _BOUNDS.get(series.name)
    if b is None:
        tk = series.time_key
        b = (slot_index(series.first, tk.epoch, tk.step), slot_index(series.last, tk.epoch, tk.step))
        _BOUNDS[series.name] = b
    return b


_HARP_REF = 4864
_HARP_REF_TIME = tai_from_calendar(2014, 11, 28)
_HARP_SPACING = 40  # slots of 720 s between two new HARPs (one every 8 hours)
_HARP_MIN_LIFE = 360  # 3 days
_HARP_EXTRA_LIFE = 480  # up to 4 more days


def harp_span(series: SeriesDef, harpnum: int) -> tuple[int, int] | None:
    """Inclusive slot range during which HARP ``harpnum`` exists, or None."""
    if harpnum < 1:
        return None
    tk = series.time_key
    ref = slot_index(_HARP_REF_TIME, tk.epoch, tk.step)
    birth = ref + (harpnum - _HARP_REF) * _HARP_SPACING
    death = birth + _HARP_MIN_LIFE + ((harpnum * 7919) % 97) * _HARP_EXTRA_LIFE // 96
    lo, hi = slot_bounds(series)
    birth, death = max(birth, lo), min(death, hi)
    return (birth, death) if birth <= death else None


def harps_active(series: SeriesDef, first_slot: int, last_slot: int) -> list[int]:
    """Sorted HARP numbers existing at some slot in ``[first_slot, last_slot]``."""
    tk = series.time_key
    ref = slot_index(_HARP_REF_TIME, tk.epoch, tk.step)
    n_hi = _HARP_REF + (last_slot - ref) // _HARP_SPACING
    n_lo = _HARP_REF + (first_slot - ref - _HARP_MIN_LIFE - _HARP_EXTRA_LIFE) // _HARP_SPACING
    out = []
    for n in range(max(1, n_lo), n_hi + 1):
        span = harp_span(series, n)
        if span and span[0] <= last_slot and span[1] >= first_slot:
            out.append(n)
    return out


def harp_max(series: SeriesDef) -> int:
    """The highest HARP number in the series."""
    last = slot_bounds(series)[1]
    active = harps_active(series, last - _HARP_MIN_LIFE - _HARP_EXTRA_LIFE, last)
    return active[-1] if active else 1


# --- identity ---------------------------------------------------------------------------------


def recnum(series: SeriesDef, rec: Record) -> int:
    """The DRMS record number (unique within the series, grows with time)."""
    first, _ = slot_bounds(series)
    if series.other_values is None:
        return (rec.slot - first) * 64 + rec.key % 64 + 1
    vals = series.other_values
    return (rec.slot - first) * len(vals) + vals.index(rec.key) + 1


def record_from_recnum(series: SeriesDef, number: int) -> Record | None:
    """The record with record number ``number``, or None if there is none."""
    if number < 1:
        return None
    first, last = slot_bounds(series)
    r = number - 1
    if series.other_values is None:
        slot, resid = first + r // 64, r % 64
        if slot > last:
            return None
        for n in harps_active(series, slot, slot):
            if n % 64 == resid:
                return Record(slot, n)
        return None
    vals = series.other_values
    slot = first + r // len(vals)
    if slot > last:
        return None
    return Record(slot, vals[r % len(vals)])


def sunum_of(series: SeriesDef, rec: Record) -> tuple[int, int]:
    """Storage unit number and slot-within-unit of a record."""
    r = recnum(series, rec) - 1
    return series.sunum_base + r // series.unitsize, r % series.unitsize


def sums_dir(series: SeriesDef, rec: Record) -> str:
    """The record's SUMS directory, e.g. ``/SUM58/D300012345/S00008``."""
    sunum, idx = sunum_of(series, rec)
    return f"/SUM{1 + sunum % 99}/D{sunum}/S{idx:05d}"


def record_from_sums(sum_part: int, sunum: int, idx: int) -> tuple[SeriesDef, Record] | None:
    """Invert :func:`sums_dir`: the series and record stored at ``/SUM{sum_part}/D{sunum}/S{idx}``."""
    series = series_by_sunum(sunum)
    if series is None or sum_part != 1 + sunum % 99 or not 0 <= idx < series.unitsize:
        return None
    rec = record_from_recnum(series, (sunum - series.sunum_base) * series.unitsize + idx + 1)
    return (series, rec) if rec is not None else None


def t_rec(series: SeriesDef, rec: Record) -> float:
    """TAI seconds of the record's slot."""
    return series.time_key.epoch + rec.slot * series.time_key.step


def format_trec(series: SeriesDef, tai: float) -> str:
    """Format a slot time the way the series prints ``T_REC``."""
    if series.time_key.style == "iso":
        return format_iso_utc(tai)
    return format_drms(tai)


def record_name(series: SeriesDef, rec: Record, segment: str | None = None) -> str:
    """The record specification, e.g. ``hmi.M_45s[2014.01.01_00:00:45_TAI][2]``."""
    parts = []
    for pk in series.primekeys:
        if pk == series.time_key.name:
            parts.append(f"[{format_trec(series, t_rec(series, rec))}]")
        else:
            parts.append(f"[{rec.key}]")
    seg = f"{{{segment}}}" if segment else ""
    return f"{series.name}{''.join(parts)}{seg}"


# --- keyword values ---------------------------------------------------------------------------


def _jitter(number: int, salt: int) -> float:
    """Deterministic value in [0, 1) for a record number and a salt."""
    h = (number * 2654435761 + salt * 40503 + 12345) & 0xFFFFFFFF
    h ^= h >> 15
    h = (h * 2246822519) & 0xFFFFFFFF
    h ^= h >> 13
    return h / 4294967296.0


def _jd(tai: float) -> float:
    return 2443144.5 + tai_to_utc_label(tai) / 86400.0


def _doy(tai: float) -> float:
    return (_jd(tai) - 2451544.5) % 365.25


def _carrington(tai: float) -> float:
    return (_jd(tai) - 2398167.4) / 27.2753 + 1.0


def _dsun(tai: float) -> float:
    return 1.495978707e11 * (1.0 - 0.0167 * math.cos(2 * math.pi * (_doy(tai) - 3.0) / 365.25))


_AIA_TELESCOPE = {94: 4, 304: 4, 131: 1, 335: 1, 193: 2, 211: 2, 171: 3, 1600: 3, 1700: 3}
_AIA_EXPTIME = {94: 2.901, 131: 2.901, 171: 1.999, 193: 2.0, 211: 2.901, 304: 2.901, 335: 2.901, 1600: 2.999, 1700: 1.0}


def _quality(series: SeriesDef, rec: Record) -> int:
    # About 2% of records carry a (harmless) non-zero quality flag.
    return 0x00000400 if _jitter(recnum(series, rec), 7) < 0.02 else 0


def _t_obs(series: SeriesDef, rec: Record) -> float:
    j = _jitter(recnum(series, rec), 1)
    if series.params.get("instrument") == "AIA":
        return t_rec(series, rec) + 1.0 + 0.6 * j
    return t_rec(series, rec) - 0.2 - 1.5 * j


def _exptime(series: SeriesDef, rec: Record) -> float:
    if series.params.get("instrument") == "AIA":
        return _AIA_EXPTIME.get(rec.key, 2.0) + 0.001 * _jitter(recnum(series, rec), 2)
    return series.params.get("exptime", 0.115)


def _date_obs(series: SeriesDef, rec: Record) -> float:
    return _t_obs(series, rec) - _exptime(series, rec) / 2  # DATE_OBS = T_OBS - EXPTIME/2


def _date(series: SeriesDef, rec: Record) -> float:
    return math.floor(t_rec(series, rec) / 60) * 60 + 3 * 86400 + 321  # processed 3 days later


def _telescope(series: SeriesDef, rec: Record) -> int:
    return _AIA_TELESCOPE.get(rec.key, 3)


def _camera(series: SeriesDef, rec: Record) -> int:
    if series.other_key == "CAMERA":
        return rec.key
    if series.params.get("instrument") == "AIA":
        return _telescope(series, rec)
    return series.params["camera"]


def _instrume(series: SeriesDef, rec: Record) -> str:
    if series.params.get("instrument") == "AIA":
        return f"AIA_{_telescope(series, rec)}"
    return series.params["instrume"]


def _data_stat(series: SeriesDef, rec: Record, kw: KeywordDef) -> float | int | None:
    n = recnum(series, rec)
    j = _jitter(n, zlib.crc32(kw.name.encode()) & 0xFFFF)
    base = {"DATAMIN": -2500.0, "DATAMAX": 3000.0, "DATAMEAN": 0.5, "DATAMEDN": 0.2}[kw.name]
    if series.params.get("instrument") == "AIA":
        base = {"DATAMIN": 0.0, "DATAMAX": 16000.0, "DATAMEAN": 40.0 + rec.key / 10, "DATAMEDN": 20.0}[kw.name]
    if kw.name == "DATAMEDN" and _quality(series, rec):
        return None  # reported as MISSING
    value = base + (j - 0.5) * (100.0 if kw.name in ("DATAMIN", "DATAMAX") else 2.0)
    return int(value) if kw.is_integer else value


def _harp_offset(series: SeriesDef, rec: Record) -> float:
    span = harp_span(series, rec.key)
    return ((rec.slot - span[0]) if span else 0) * series.time_key.step / 86400.0


def _slot_number(series: SeriesDef, rec: Record) -> int:
    """``T_REC_index``: the slot counted from the series' ``T_REC_epoch``."""
    epoch = series.keyword("T_REC_epoch")
    base = epoch.value if epoch is not None and isinstance(epoch.value, float) else series.time_key.epoch
    return math.floor((t_rec(series, rec) - base) / series.time_key.step + 0.5)


def _rsun_obs(series: SeriesDef, rec: Record) -> float:
    return 959.63 * 1.495978707e11 / _dsun(t_rec(series, rec))


def _crlt_obs(series: SeriesDef, rec: Record) -> float:
    return 7.25 * math.sin(2 * math.pi * (_doy(t_rec(series, rec)) - 158.0) / 365.25)


def _totvals(series: SeriesDef, rec: Record) -> int:
    return 16_777_216 if series.params.get("instrument") == "AIA" else 12_951_002


def _missvals(series: SeriesDef, rec: Record) -> int:
    return 0 if not _quality(series, rec) else 1_200


Provider = Callable[[SeriesDef, Record, KeywordDef], "float | int | str | None"]

# Values of the keywords the emulator models, by keyword name. Any other keyword that is not
# constant is MISSING, as an unset keyword is on JSOC.
_PROVIDERS: dict[str, Provider] = {
    "T_REC": lambda s, r, k: t_rec(s, r),
    "T_REC_INDEX": lambda s, r, k: _slot_number(s, r),
    "T_OBS": lambda s, r, k: _t_obs(s, r),
    "DATE__OBS": lambda s, r, k: _date_obs(s, r),
    "DATE": lambda s, r, k: _date(s, r),
    "CAMERA": lambda s, r, k: _camera(s, r),
    "WAVELNTH": lambda s, r, k: r.key,
    "HARPNUM": lambda s, r, k: r.key,
    "INSTRUME": lambda s, r, k: _instrume(s, r),
    "TELESCOP": lambda s, r, k: "SDO/AIA" if s.params.get("instrument") == "AIA" else "SDO/HMI",
    "WAVE_STR": lambda s, r, k: f"{r.key}_THIN" if r.key < 1000 else str(r.key),
    "IMG_TYPE": lambda s, r, k: "LIGHT",
    "QUALITY": lambda s, r, k: _quality(s, r),
    "QUALLEV0": lambda s, r, k: 0,
    "QUALLEV1": lambda s, r, k: _quality(s, r),
    "CALVER64": lambda s, r, k: 0x2102,
    "EXPTIME": lambda s, r, k: _exptime(s, r),
    "CTYPE1": lambda s, r, k: "HPLN-TAN",
    "CTYPE2": lambda s, r, k: "HPLT-TAN",
    "CUNIT1": lambda s, r, k: "arcsec",
    "CUNIT2": lambda s, r, k: "arcsec",
    "CRVAL1": lambda s, r, k: 0.0,
    "CRVAL2": lambda s, r, k: 0.0,
    "CDELT1": lambda s, r, k: s.params["cdelt"],
    "CDELT2": lambda s, r, k: s.params["cdelt"],
    "CRPIX1": lambda s, r, k: s.params["center"] + 2 * _jitter(recnum(s, r), 3) - 1,
    "CRPIX2": lambda s, r, k: s.params["center"] + 2 * _jitter(recnum(s, r), 4) - 1,
    "CROTA2": lambda s, r, k: s.params["crota2"] + 0.01 * _jitter(recnum(s, r), 5),
    "DSUN_OBS": lambda s, r, k: _dsun(t_rec(s, r)),
    "RSUN_OBS": lambda s, r, k: _rsun_obs(s, r),
    "R_SUN": lambda s, r, k: _rsun_obs(s, r) / s.params["cdelt"],
    "CRLN_OBS": lambda s, r, k: 360.0 * (1.0 - (_carrington(t_rec(s, r)) % 1.0)),
    "CRLT_OBS": lambda s, r, k: _crlt_obs(s, r),
    "HGLN_OBS": lambda s, r, k: 0.0,
    "HGLT_OBS": lambda s, r, k: _crlt_obs(s, r),
    "CAR_ROT": lambda s, r, k: int(_carrington(t_rec(s, r))),
    "DATAMIN": _data_stat,
    "DATAMAX": _data_stat,
    "DATAMEAN": _data_stat,
    "DATAMEDN": _data_stat,
    "TOTVALS": lambda s, r, k: _totvals(s, r),
    "DATAVALS": lambda s, r, k: _totvals(s, r) - _missvals(s, r),
    "MISSVALS": lambda s, r, k: _missvals(s, r),
    "PERCENTD": lambda s, r, k: 100.0 * (1 - _missvals(s, r) / _totvals(s, r)),
    "NOAA_AR": lambda s, r, k: 0 if r.key % 3 == 0 else 12192 + (r.key - 4864) * 2 // 3,
    "NOAA_NUM": lambda s, r, k: 0 if r.key % 3 == 0 else 1,
    "NOAA_ARS": lambda s, r, k: "" if r.key % 3 == 0 else str(12192 + (r.key - 4864) * 2 // 3),
    "LAT_FWT": lambda s, r, k: -30.0 + 60.0 * _jitter(r.key, 8),
    "LON_FWT": lambda s, r, k: -70.0 + 13.2 * _harp_offset(s, r),
    "AREA_ACR": lambda s, r, k: 50.0 + 900.0 * _jitter(r.key, 9) * (1 + 0.1 * _jitter(recnum(s, r), 9)),
    "USFLUX": lambda s, r, k: 1e21 + 4e22 * _jitter(r.key, 10) * (1 + 0.1 * _jitter(recnum(s, r), 10)),
    "MEANGAM": lambda s, r, k: 20.0 + 40.0 * _jitter(recnum(s, r), 11),
    "TOTUSJZ": lambda s, r, k: 1e12 + 5e13 * _jitter(recnum(s, r), 12),
}


def is_modelled(kw: KeywordDef) -> bool:
    """True if the emulator has a value for ``kw`` (a fixed value or a provider)."""
    return kw.value is not None or kw.name.upper() in _PROVIDERS


def keyword_raw(series: SeriesDef, rec: Record, kw: KeywordDef) -> float | int | str | None:
    """The typed value of a keyword for a record (TAI seconds for times, None when missing)."""
    if kw.value is not None or kw.recscope == "constant":
        return kw.value
    provider = _PROVIDERS.get(kw.name.upper())
    if provider is None:
        return None
    value = provider(series, rec, kw)
    if value is not None and kw.is_integer and not isinstance(value, int):
        return int(value)
    return value


def format_value(series: SeriesDef, kw: KeywordDef, raw: float | int | str | None) -> str:
    """Format a keyword value the way ``jsoc_info`` prints it (always a string).

    A missing value (and an empty string, DRMS's missing string) prints ``MISSING``, except for
    ``QUALITY``; a fixed value prints as JSOC defines it. Times print in their keyword's zone:
    ``ISO`` units as UTC ``2014-01-01T00:00:07.12Z``, ``TAI`` as ``2014.01.01_00:00:41.20_TAI``.
    """
    if raw is None or (raw == "" and kw.name != "QUALITY"):
        return "MISSING"
    if kw.value is not None and raw == kw.value:
        return kw.defval
    if kw.type == "time":
        if kw.recscope == "ts_eq":
            return format_trec(series, raw)  # type: ignore[arg-type]
        if kw.units in ("ISO", "UTC"):
            return format_iso_utc(raw, decimals=kw.decimals)  # type: ignore[arg-type]
        return format_drms(raw, decimals=kw.decimals)  # type: ignore[arg-type]
    if kw.type == "string":
        return str(raw)
    return kw.fmt % raw


def keyword_string(series: SeriesDef, rec: Record, kw: KeywordDef) -> str:
    """The value of a keyword for a record as ``jsoc_info`` prints it."""
    return format_value(series, kw, keyword_raw(series, rec, kw))
