"""DRMS record-set specifications: parsing a ``ds`` string into a :class:`RecordSet`.

Grammar handled (``drms_names`` in NetDRMS)::

    series [filter]... [{seg,seg}]
    filter    := [] | [value-set] | [KEY=value-set] | [? sql ?] | [:#recnum-set]
    value-set := item {, item}
    time item := ^ | $ | t | t-t[@cadence] | t/duration[@cadence]
    int item  := ^ | $ | v | v-v[@skip] | v/count[@skip]
    duration  := <number>(s|m|h|d|u)            (u: slots of the key)

What DRMS does, and so this module does (``parse_value_set`` and ``sql_primekey_value_set`` in
``base/drms/libs/api/drms_names.c``, lm-jps/drms 37272932):

* The items of a value set are ORed: a record matched by two items is selected once, and the
  records come back in prime-key order whatever the order of the items.
* Every item stands alone, so each range carries its own ``@cadence``. A cadence on a single
  value (``[t@90s]``) is a syntax error, as are an empty item (``[a,,b]``, ``[,]``), a trailing
  comma (``[a,]``), ``[KEY=]``, a non-integer value of an integer key and a duration unit other
  than one letter (``10min``).
* Filters without a key name fill the prime keys in order; ``[]`` skips one; ``[KEY=...]`` and
  ``[? ?]`` do not move the position. Several filters are ANDed.
* ``T_REC`` is slotted: a range selects every slot from the one containing its start to the one
  containing its end (both included), ``t/d`` excludes the end, and ``@cadence`` keeps every
  ``round(cadence/step)``-th slot from the start. ``^``/``$`` are the first/last value in the
  whole series.

Not emulated: several record sets of one series joined by a top-level comma
(``hmi.m_45s[a],hmi.m_45s[b]``), which DRMS accepts; the emulator refuses it as unparsable. Put the
comma inside the brackets instead (``hmi.m_45s[a,b]``).

Records are produced lazily and in prime-key order by :class:`~.record_selection.RecordSet`.
"""

from __future__ import annotations

import math
import re

from .catalog import SeriesDef, find_series
from .drmstime import TimeParseError, parse_increment, parse_time, slot_index
from .record_selection import Progression, RecordSet, is_member
from .records import harp_max, slot_bounds
from .where import Predicate, WhereError, compile_where

__all__ = ["RecordSet", "RecordSetError", "parse_recordset"]


class RecordSetError(ValueError):
    """A record-set specification the server rejects.

    Attributes:
        kind: ``syntax`` (unparsable), ``series`` (unknown series), ``multi`` (several series),
            ``subset`` (bad prime-key filter), ``query`` (bad ``[? ?]`` clause) or ``segment``.
        series: The series name as given, when known.
        subset: The record set without its segment list (what ``jsoc_fetch`` quotes back).
    """

    def __init__(self, kind: str, message: str, series: str = "", subset: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.series = series
        self.subset = subset


_NAME = re.compile(r"^\s*([A-Za-z_][\w.]*)")


def _split_filters(text: str, start: int) -> tuple[list[str], str | None, int]:
    """Split ``[..][..]{..}`` after the series name into filters and the segment list."""
    filters: list[str] = []
    segs: str | None = None
    i, n = start, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "[" and segs is None:
            if text.startswith("[?", i):
                end = text.find("?]", i + 2)
                if end < 0:
                    raise RecordSetError("syntax", "unterminated [? ?] clause")
                filters.append(text[i + 1 : end + 1])
                i = end + 2
            else:
                end = text.find("]", i + 1)
                if end < 0:
                    raise RecordSetError("syntax", "unterminated filter")
                filters.append(text[i + 1 : end])
                i = end + 1
        elif c == "{" and segs is None:
            end = text.find("}", i + 1)
            if end < 0:
                raise RecordSetError("syntax", "unterminated segment list")
            segs = text[i + 1 : end]
            i = end + 1
        else:
            return filters, segs, i
    return filters, segs, i


def _items(value: str) -> list[str]:
    """The comma-separated items of a value set; an empty one is a syntax error, as in DRMS."""
    items = [item.strip() for item in value.split(",")]
    if any(not item for item in items):
        raise ValueError(f"empty item in value set {value!r}")
    return items


def _time_item(series: SeriesDef, item: str) -> Progression:
    tk = series.time_key
    first, last = slot_bounds(series)
    if item == "^":
        return (first, first, 1)
    if item == "$":
        return (last, last, 1)

    def slot(t: float) -> int:
        return slot_index(t, tk.epoch, tk.step)

    body, at, cadence = item.partition("@")
    body = body.strip()
    step = 1
    if at:
        # DRMS rounds the cadence to whole slots; a cadence below half a slot would divide by zero.
        step = math.floor(parse_increment(cadence, tk.step) / tk.step + 0.5)
        if step < 1:
            raise ValueError(f"cadence {cadence!r} is shorter than one slot")
    if "/" in body:
        start, _, duration = body.partition("/")
        a = parse_time(start, tk.unit)
        return (slot(a), slot(a + parse_increment(duration, tk.step)) - 1, step)
    for m in re.finditer("-", body):
        try:
            a, b = parse_time(body[: m.start()], tk.unit), parse_time(body[m.end() :], tk.unit)
        except TimeParseError:
            continue
        return (slot(a), slot(b), step)
    if at:  # DRMS reads no cadence after a single value: "[t@90s]" is a syntax error
        raise ValueError(f"a cadence needs a range: {item!r}")
    t = slot(parse_time(body, tk.unit))
    return (t, t, 1)


_INT_ITEM = re.compile(r"^([+-]?\d+)(?:\s*([-/])\s*([+-]?\d+)(?:\s*@\s*(\d+))?)?$")


def _int_item(series: SeriesDef, item: str) -> Progression:
    if item in ("^", "$"):
        if series.other_values is None:
            v = harp_max(series) if item == "$" else 1
        else:
            v = max(series.other_values) if item == "$" else min(series.other_values)
        return (v, v, 1)
    m = _INT_ITEM.match(item)
    if m is None:
        raise ValueError(f"not an integer value or range: {item!r}")
    a = int(m[1])
    if m[2] is None:
        return (a, a, 1)
    skip = int(m[4]) if m[4] is not None else 1
    if skip < 1:
        raise ValueError(f"skip must be positive: {item!r}")
    b = int(m[3]) if m[2] == "-" else a + int(m[3]) - 1  # v/count is [v, v+count)
    return (a, b, skip)


def _value_set(series: SeriesDef, key: str, value: str) -> list[Progression]:
    parse = _time_item if key == series.time_key.name else _int_item
    return [parse(series, item) for item in _items(value)]


def _and(a: Predicate | None, b: Predicate) -> Predicate:
    return b if a is None else (lambda s, r: a(s, r) and b(s, r))


def _apply_filter(rs: RecordSet, key: str, value: str) -> None:
    progs = _value_set(rs.series, key, value)
    is_time = key == rs.series.time_key.name
    current = rs.slots if is_time else rs.others
    if current is None:
        if is_time:
            rs.slots = progs
        else:
            rs.others = progs
        return
    # The key is filtered twice: DRMS ANDs the filters, so the second one only narrows.
    if is_time:
        rs.where = _and(rs.where, lambda s, r: any(is_member(p, r.slot) for p in progs))
    else:
        rs.where = _and(rs.where, lambda s, r: any(is_member(p, r.key) for p in progs))


def _recnum_ranges(text: str) -> list[tuple[int, int]]:
    out = []
    for item in _items(text):
        m = re.fullmatch(r"#(\d+)(?:\s*-\s*#(\d+))?", item)
        if m is None:
            raise ValueError(item)
        a = int(m[1])
        out.append((a, int(m[2]) if m[2] else a))
    return out


def parse_recordset(text: str) -> RecordSet:
    """Parse a record-set specification against the catalogue.

    Args:
        text: The ``ds`` parameter, e.g. ``hmi.M_45s[2014.01.01_00:00:00_TAI/1h@90s]{magnetogram}``
            or ``hmi.m_45s[2014.01.01_00:00:35_TAI/3m,2014.01.02_00:00:35_TAI/3m]``.

    Returns:
        The parsed :class:`RecordSet`.

    Raises:
        RecordSetError: For syntax errors, unknown series, prime keys, segments or keywords.
    """
    m = _NAME.match(text)
    if m is None:
        raise RecordSetError("syntax", f"invalid record-set specification `{text}`")
    name = m[1]
    series = find_series(name)
    if series is None:
        raise RecordSetError("series", "series not found", series=name)
    try:
        filters, segs, end = _split_filters(text, m.end())
    except RecordSetError as exc:
        raise RecordSetError("syntax", f"invalid record-set specification `{text}`", name) from exc
    rest = text[end:].strip()
    subset = text[:end].rstrip()
    if segs is not None:
        subset = subset[: subset.rfind("{")].rstrip()
    if rest:
        if rest.startswith(","):
            other = _NAME.match(rest[1:])
            if other and other[1].lower() != series.name.lower():
                raise RecordSetError(
                    "multi",
                    f"invalid record-set specification `{text}`; the records must belong to a single data series",
                    name,
                    subset,
                )
        raise RecordSetError("syntax", f"invalid record-set specification `{text}`", name, subset)
    rs = RecordSet(series=series, text=text, filters=filters)
    position = 0  # the prime key an unnamed filter applies to
    for f in filters:
        fs = f.strip()
        try:
            if fs.startswith("?"):
                clause = fs[1:-1] if fs.endswith("?") else fs[1:]
                rs.where_text = clause.strip()
                try:
                    pred = compile_where(series, clause)
                except WhereError as exc:
                    raise RecordSetError("query", str(exc), name, subset) from exc
                rs.where = _and(rs.where, pred)
                continue
            if fs.startswith(":"):
                rs.recnums = _recnum_ranges(fs[1:].strip())
                continue
            km = re.match(r"^([A-Za-z_]\w*)\s*=(?!=)\s*(.*)$", fs, re.S)
            if km is not None:
                key = next((pk for pk in series.primekeys if pk.lower() == km[1].lower()), None)
                if key is None:
                    raise RecordSetError("subset", f"invalid record-set specification `{text}`", name, subset)
                _apply_filter(rs, key, km[2])  # a named filter does not move the position
                continue
            if position >= len(series.primekeys):
                raise RecordSetError("subset", f"invalid record-set specification `{text}`", name, subset)
            if fs:
                _apply_filter(rs, series.primekeys[position], fs)
            position += 1
        except (TimeParseError, ValueError) as exc:
            if isinstance(exc, RecordSetError):
                raise
            raise RecordSetError("subset", f"invalid record-set specification `{text}`", name, subset) from exc
    if segs is not None:
        names = [s for s in re.split(r"[\s,]+", segs) if s]
        for seg in names:
            if seg != "**ALL**" and series.segment(seg) is None:
                raise RecordSetError("segment", f"invalid record-set specification `{text}`", name, subset)
        rs.segments = None if not names or "**ALL**" in names else names
    return rs
