"""``jsoc_info`` documents: ``series_struct``, ``rs_summary`` and the streamed ``rs_list``.

``rs_list`` is column-oriented (one array of values per keyword and segment), so the body is
produced in chunks, one pass over the record set per column, and never held whole in memory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from .catalog import KeywordDef, SeriesDef
from .fitsfiles import image_shape, sums_file_size
from .record_selection import RecordSet
from .records import (
    Record,
    harp_max,
    harp_span,
    is_modelled,
    keyword_string,
    recnum,
    record_name,
    slot_bounds,
    sums_dir,
    sunum_of,
    t_rec,
)

__all__ = ["rs_list_chunks", "rs_summary", "series_struct"]

_BATCH = 4096
_PSEUDO_NUMERIC = ("*recnum*", "*sunum*")


def series_struct(series: SeriesDef, file_size: int) -> dict[str, Any]:
    """The ``op=series_struct`` document of a series, fields in the order jsoc_info writes them."""
    rows, cols = image_shape(file_size)
    first, last = slot_bounds(series)
    first_rec = _edge_record(series, first, first=True)
    last_rec = _edge_record(series, last, first=False)
    keywords = []
    for kw in series.keywords:
        entry: dict[str, Any] = {"name": kw.name}
        if kw.linkinfo:
            entry["linkinfo"] = kw.linkinfo
        entry.update(type=kw.type, recscope=kw.recscope, defval=kw.defval, units=kw.units, note=kw.note)
        keywords.append(entry)
    segments = []
    for seg in series.segments:
        if seg.link is not None:
            segments.append(
                {
                    "name": seg.name,
                    "type": seg.type,
                    "units": None,
                    "protocol": f"link via {seg.link}",
                    "dims": None,
                    "note": seg.note,
                }
            )
        else:
            segments.append(
                {
                    "name": seg.name,
                    "type": seg.type,
                    "units": seg.units,
                    "protocol": "fits",
                    "dims": "VARxVAR" if seg.variable_dims else f"{cols}x{rows}",
                    "note": seg.note,
                }
            )
    pk_info = []
    for pk in series.primekeys:
        if pk == series.time_key.name:
            pk_info.append({"name": pk, "slotted": 1, "step": series.time_key.step_text})
        else:
            pk_info.append({"name": pk, "slotted": 0})
    return {
        "note": series.note,
        "retention": series.retention,
        "stagingretention": series.stagingretention,
        "unitsize": series.unitsize,
        "archive": series.archive,
        "tapegroup": series.tapegroup,
        "primekeys": list(series.primekeys),
        "primekeysinfo": pk_info,
        "dbindex": list(series.dbindex or series.primekeys),
        "keywords": keywords,
        "segments": segments,
        "links": [{"name": ln.name, "target": ln.target, "kind": ln.kind, "note": ln.note} for ln in series.links],
        "Interval": {
            "FirstRecord": record_name(series, first_rec) if first_rec else "NA",
            "FirstRecnum": recnum(series, first_rec) if first_rec else "NA",
            "LastRecord": record_name(series, last_rec) if last_rec else "NA",
            "LastRecnum": recnum(series, last_rec) if last_rec else "NA",
            "MaxRecnum": recnum(series, last_rec) if last_rec else 0,
        },
        "runtime": 0.012,
        "status": 0,
    }


def _edge_record(series: SeriesDef, slot: int, *, first: bool) -> Record | None:
    if series.other_values is not None:
        vals = series.other_values
        return Record(slot, vals[0] if first else vals[-1])
    harp = 1 if first else harp_max(series)
    span = harp_span(series, harp)
    if span is None:
        return None
    return Record(span[0] if first else span[1], harp)


def rs_summary(rs: RecordSet, limit: int, started: float) -> dict[str, Any]:
    """The ``op=rs_summary`` document."""
    return {"count": rs.count(limit), "runtime": round(time.monotonic() - started, 3), "status": 0}


def _constant_text(kw: KeywordDef | None) -> str | None:
    """The text every record shows for ``kw`` when it does not vary (a fixed value or MISSING)."""
    if kw is None:
        return None
    if kw.value is not None:
        return kw.defval
    if not is_modelled(kw):
        return "MISSING"
    return None


def _keyword_fn(series: SeriesDef, name: str, file_size: int) -> Callable[[Record], Any]:
    kw = series.keyword(name)
    if kw is not None:
        return lambda r: keyword_string(series, r, kw)
    if name == "*recnum*":
        return lambda r: recnum(series, r)
    if name == "*sunum*":
        return lambda r: sunum_of(series, r)[0]
    if name == "*size*":
        size = str(sums_file_size(file_size) * len(series.segments))
        return lambda r: size
    if name == "*online*":
        return lambda r: "Y"
    if name == "*retain*":
        return lambda r: "2031.01.01"
    if name == "*archive*":
        return lambda r: "Y" if series.archive else "N"
    if name == "*recdir*":
        return lambda r: sums_dir(series, r)
    if name == "*dirmtime*":
        from .drmstime import format_drms

        return lambda r: format_drms(t_rec(series, r) + 3 * 86400 + 321).replace("_TAI", "_UTC")
    if name == "*logdir*":
        return lambda r: "NA"
    if name == "*spec*":
        return lambda r: record_name(series, r)
    return lambda r: "Invalid KeyLink"


def _column(rs: RecordSet, limit: int, fn: Callable[[Record], Any]) -> Iterator[str]:
    batch: list[Any] = []
    first = True
    for rec in rs.records(limit):
        batch.append(fn(rec))
        if len(batch) >= _BATCH:
            yield ("" if first else ",") + json.dumps(batch)[1:-1]
            first, batch = False, []
    if batch:
        yield ("" if first else ",") + json.dumps(batch)[1:-1]


def _repeat(value: str, count: int) -> Iterator[str]:
    item = json.dumps(value)
    for start in range(0, count, _BATCH):
        n = min(_BATCH, count - start)
        yield ("," if start else "") + ",".join([item] * n)


def expand_keys(series: SeriesDef, keys: list[str]) -> list[str]:
    """Replace ``**ALL**``/``**NONE**`` by the keyword names they stand for."""
    out: list[str] = []
    for k in keys:
        if k == "**ALL**":
            out.extend(kw.name for kw in series.keywords)
        elif k != "**NONE**":
            out.append(k)
    return out


def rs_list_chunks(
    rs: RecordSet,
    keys: list[str],
    segs: list[str],
    links: list[str],
    recinfo: bool,
    limit: int,
    file_size: int,
    started: float,
) -> Iterator[str]:
    """The ``op=rs_list`` document as a sequence of JSON text chunks."""
    series = rs.series
    count = rs.count(limit)
    if count == 0:
        yield json.dumps({"count": 0, "runtime": round(time.monotonic() - started, 3), "status": 0})
        return
    rows, cols = image_shape(file_size)
    yield '{"keywords":['
    for i, name in enumerate(expand_keys(series, keys)):
        kw = series.keyword(name)
        shown = kw.name if kw is not None and name.upper() != "DATE-OBS" else name
        yield ("," if i else "") + '{"name":' + json.dumps(shown) + ',"values":['
        constant = _constant_text(kw)
        if constant is not None:
            yield from _repeat(constant, count)
        else:
            yield from _column(rs, limit, _keyword_fn(series, name, file_size))
        yield "]}"
    yield '],"segments":['
    for i, name in enumerate(s for s in segs if s not in ("**ALL**", "**NONE**")):
        seg = series.segment(name)
        yield ("," if i else "") + '{"name":' + json.dumps(name) + ',"values":['
        if seg is None:
            yield from _repeat("InvalidSegName", count)
            extras = {"dims": "NA", "cparms": "", "bzeros": "NA", "bscales": "NA"}
        else:
            fname = seg.filename
            yield from _column(rs, limit, lambda r, f=fname: f"{sums_dir(series, r)}/{f}")
            extras = {
                "dims": f"{cols}x{rows}",
                "cparms": seg.cparms,
                "bzeros": f"{seg.bzero:g}",
                "bscales": f"{seg.bscale:g}",
            }
        for key, value in extras.items():
            yield f'],"{key}":['
            yield from _repeat(value, count)
        yield "]}"
    yield '],"links":['
    for i, name in enumerate(links):
        link = next((ln for ln in series.links if ln.name.lower() == name.lower()), None)
        yield ("," if i else "") + '{"name":' + json.dumps(name) + ',"values":['
        if link is None:
            yield from _repeat("Invalid_Link", count)
        else:
            target = link.target
            yield from _column(rs, limit, lambda r, t=target: f"{t}[:#{recnum(series, r)}]")
        yield "]}"
    if recinfo:
        yield '],"recinfo":['
        yield from _column(rs, limit, lambda r: {"name": record_name(series, r), "online": 1})
    yield f'],"count":{count},"runtime":{round(time.monotonic() - started, 3)},"status":0}}'
