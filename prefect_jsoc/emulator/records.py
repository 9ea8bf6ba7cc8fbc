"""Records of the emulated series: identity, keyword values, record names and SUMS paths.

A record is a ``(slot, key)`` pair: the index of its ``T_REC`` slot and the value of the
series' other prime key (``CAMERA``, ``WAVELNTH`` or ``HARPNUM``). Everything else (record
number, keywords, storage path) is a pure function of that pair, so nothing is stored and any
record can be recomputed from its SUMS path when a file is requested.
"""

from __future__ import annotations

import math
import zlib
from typing import NamedTuple

from .catalog import KeywordDef, SeriesDef, series_by_sunum
from .drmstime import format_drms, format_iso_utc, slot_index, tai_from_calendar, tai_to_utc_label

__all__ = [
    "Record",
    "format_value",
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
    return ((_jd(tai) - 2451544.5) % 365.25)


def _carrington(tai: float) -> float:
    return (_jd(tai) - 2398167.4) / 27.2753 + 1.0


def _dsun(tai: float) -> float:
    return 1.495978707e11 * (1.0 - 0.0167 * math.cos(2 * math.pi * (_doy(tai) - 3.0) / 365.25))


_AIA_TELESCOPE = {94: 4, 304: 4, 131: 1, 335: 1, 193: 2, 211: 2, 171: 3, 1600: 3, 1700: 3}
_AIA_EXPTIME = {94: 2.901, 131: 2.901, 171: 1.999, 193: 2.0, 211: 2.901, 304: 2.901, 335: 2.901,
                1600: 2.999, 1700: 1.0}


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


def _p_date_obs(series: SeriesDef, rec: Record, kw: KeywordDef) -> str:
    start = _t_obs(series, rec) - _exptime(series, rec) / 2
    return format_iso_utc(start, decimals=2, zulu=series.params.get("instrument") != "AIA")


def _p_date(series: SeriesDef, rec: Record, kw: KeywordDef) -> str:
    return format_iso_utc(math.floor(t_rec(series, rec) / 60) * 60 + 3 * 86400 + 321)


def _p_instrume(series: SeriesDef, rec: Record, kw: KeywordDef) -> str:
    return f"AIA_{_AIA_TELESCOPE.get(rec.key, 3)}"


def _p_data_stat(series: SeriesDef, rec: Record, kw: KeywordDef) -> float | int | None:
    n = recnum(series, rec)
    j = _jitter(n, zlib.crc32(kw.name.encode()) & 0xFFFF)
    base = {"DATAMIN": -2500.0, "DATAMAX": 3000.0, "DATAMEAN": 0.5, "DATAMEDN": 0.2}[kw.name]
    if series.params.get("instrument") == "AIA":
        base = {"DATAMIN": 0.0, "DATAMAX": 16000.0, "DATAMEAN": 40.0 + rec.key / 10, "DATAMEDN": 20.0}[kw.name]
    if kw.name == "DATAMEDN" and _quality(series, rec):
        return None  # reported as MISSING
    value = base + (j - 0.5) * (100.0 if kw.name in ("DATAMIN", "DATAMAX") else 2.0)
    return int(value) if kw.type in ("int", "short", "longlong") else value


def _harp_offset(series: SeriesDef, rec: Record) -> float:
    span = harp_span(series, rec.key)
    return ((rec.slot - span[0]) if span else 0) * series.time_key.step / 86400.0


_PROVIDERS = {
    "t_rec": lambda s, r, k: t_rec(s, r),
    "t_obs": lambda s, r, k: _t_obs(s, r),
    "date_obs": _p_date_obs,
    "date": _p_date,
    "camera": lambda s, r, k: r.key,
    "wavelnth": lambda s, r, k: r.key,
    "harpnum": lambda s, r, k: r.key,
    "instrume": _p_instrume,
    "quality": lambda s, r, k: _quality(s, r),
    "exptime": lambda s, r, k: _exptime(s, r),
    "crpix1": lambda s, r, k: s.params["center"] + 2 * _jitter(recnum(s, r), 3) - 1,
    "crpix2": lambda s, r, k: s.params["center"] + 2 * _jitter(recnum(s, r), 4) - 1,
    "crota2": lambda s, r, k: s.params["crota2"] + 0.01 * _jitter(recnum(s, r), 5),
    "dsun_obs": lambda s, r, k: _dsun(t_rec(s, r)),
    "rsun_obs": lambda s, r, k: 959.63 * 1.495978707e11 / _dsun(t_rec(s, r)),
    "crln_obs": lambda s, r, k: 360.0 * (1.0 - (_carrington(t_rec(s, r)) % 1.0)),
    "crlt_obs": lambda s, r, k: 7.25 * math.sin(2 * math.pi * (_doy(t_rec(s, r)) - 158.0) / 365.25),
    "car_rot": lambda s, r, k: int(_carrington(t_rec(s, r))),
    "datamin": _p_data_stat,
    "datamax": _p_data_stat,
    "datamean": _p_data_stat,
    "datamedn": _p_data_stat,
    "totvals": lambda s, r, k: 12_951_002,
    "missvals": lambda s, r, k: 0 if not _quality(s, r) else 1_200,
    "percentd": lambda s, r, k: 99.9 + 0.1 * _jitter(recnum(s, r), 6),
    "noaa_ar": lambda s, r, k: 0 if r.key % 3 == 0 else 12192 + (r.key - 4864) * 2 // 3,
    "noaa_num": lambda s, r, k: 0 if r.key % 3 == 0 else 1,
    "noaa_ars": lambda s, r, k: "" if r.key % 3 == 0 else str(12192 + (r.key - 4864) * 2 // 3),
    "lat_fwt": lambda s, r, k: -30.0 + 60.0 * _jitter(r.key, 8),
    "lon_fwt": lambda s, r, k: -70.0 + 13.2 * _harp_offset(s, r),
    "area_acr": lambda s, r, k: 50.0 + 900.0 * _jitter(r.key, 9) * (1 + 0.1 * _jitter(recnum(s, r), 9)),
    "usflux": lambda s, r, k: 1e21 + 4e22 * _jitter(r.key, 10) * (1 + 0.1 * _jitter(recnum(s, r), 10)),
    "meangam": lambda s, r, k: 20.0 + 40.0 * _jitter(recnum(s, r), 11),
    "totusjz": lambda s, r, k: 1e12 + 5e13 * _jitter(recnum(s, r), 12),
    "seg_bzero": lambda s, r, k: s.segment(k.arg).bzero,
    "seg_bscale": lambda s, r, k: s.segment(k.arg).bscale,
}


def keyword_raw(series: SeriesDef, rec: Record, kw: KeywordDef) -> float | int | str | None:
    """The typed value of a keyword for a record (TAI seconds for times, None when missing)."""
    if kw.provider is None:
        return kw.value
    return _PROVIDERS[kw.provider](series, rec, kw)


def format_value(series: SeriesDef, kw: KeywordDef, raw: float | int | str | None) -> str:
    """Format a keyword value the way ``jsoc_info`` prints it (always a string)."""
    if raw is None:
        return "MISSING"
    if kw.type == "time":
        if kw.recscope == "ts_eq":
            return format_trec(series, raw)  # type: ignore[arg-type]
        if series.time_key.style == "iso":
            return format_iso_utc(raw, decimals=2)  # type: ignore[arg-type]
        return format_drms(raw, decimals=2)  # type: ignore[arg-type]
    if kw.type == "string":
        return str(raw)
    return kw.fmt % raw


def keyword_string(series: SeriesDef, rec: Record, kw: KeywordDef) -> str:
    """The value of a keyword for a record as ``jsoc_info`` prints it."""
    return format_value(series, kw, keyword_raw(series, rec, kw))

