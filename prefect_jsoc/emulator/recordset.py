"""DRMS record-set specifications: parsing and record selection.

Grammar handled (``drms_names``)::

    series [filter]... [{seg,seg}]
    filter := [] | [value-set] | [KEY=value-set] | [? sql ?] | [:#recnum-set] | [$] | [^]
    value-set := item {, item}
    time item := t | t-t | t/duration ; each with an optional @cadence
    int item  := v | v-v

Filters apply to prime keys by position; ``T_REC`` is slotted, so a range selects every slot
from the one containing its start to the one containing its end (both included), ``t/d``
excludes the end, and ``@cadence`` keeps every ``round(cadence/step)``-th slot.
Records are produced lazily and in prime-key order; nothing is materialised.
"""

from __future__ import annotations

import heapq
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from .catalog import SeriesDef, find_series
from .drmstime import TimeParseError, parse_duration, parse_time, slot_index
from .records import Record, harp_max, harp_span, harps_active, record_from_recnum, slot_bounds
from .where import Predicate, WhereError, compile_where

__all__ = ["RecordSet", "RecordSetError", "parse_recordset"]

Progression = tuple[int, int, int]  # first, last (inclusive), step


class RecordSetError(ValueError):
    """A record-set specification the server rejects.

    Attributes:
        kind: ``syntax`` (unparsable), ``series`` (unknown series), ``multi`` (several series),
            ``subset`` (bad prime-key filter), ``query`` (bad ``[? ?]`` clause) or ``segment``.
        series: The series name as given, when known.
    """

    def __init__(self, kind: str, message: str, series: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.series = series


@dataclass
class RecordSet:
    """A parsed record set of one series; iterate it with :meth:`records`."""

    series: SeriesDef
    text: str
    slots: list[Progression] | None = None  # None: every slot
    others: list[tuple[int, int]] | None = None  # inclusive ranges of the other prime key
    recnums: list[tuple[int, int]] | None = None
    where: Predicate | None = None
    where_text: str = ""
    segments: list[str] | None = None
    filters: list[str] = field(default_factory=list)

    # --- selection ---------------------------------------------------------------------------

    def _progressions(self, lo: int | None = None, hi: int | None = None) -> list[Progression]:
        first, last = slot_bounds(self.series)
        lo = first if lo is None else max(lo, first)
        hi = last if hi is None else min(hi, last)
        out = []
        for a, b, k in self.slots if self.slots is not None else [(first, last, 1)]:
            if a < lo:
                a += -((a - lo) // k) * k  # first element >= lo
            b = min(b, hi)
            if a <= b:
                out.append((a, b, k))
        return out

    @staticmethod
    def _iter_slots(progs: list[Progression]) -> Iterator[int]:
        if len(progs) == 1:
            a, b, k = progs[0]
            return iter(range(a, b + 1, k))
        merged = heapq.merge(*(range(a, b + 1, k) for a, b, k in progs))
        return (s for s, _ in itertools.groupby(merged))

    @staticmethod
    def _count_slots(progs: list[Progression]) -> int:
        if len(progs) == 1:
            a, b, k = progs[0]
            return (b - a) // k + 1
        return sum(1 for _ in RecordSet._iter_slots(progs))

    def _allowed(self, value: int) -> bool:
        return self.others is None or any(lo <= value <= hi for lo, hi in self.others)

    def _slot_ok(self, slot: int) -> bool:
        return any(a <= slot <= b and (slot - a) % k == 0 for a, b, k in self._progressions())

    def _harps(self) -> list[int]:
        progs = self._progressions()
        if not progs:
            return []
        lo, hi = min(p[0] for p in progs), max(p[1] for p in progs)
        if self.others is None:
            return harps_active(self.series, lo, hi)
        out: set[int] = set()
        for a, b in self.others:
            for n in range(max(a, 1), min(b, harp_max(self.series)) + 1):
                span = harp_span(self.series, n)
                if span and span[0] <= hi and span[1] >= lo:
                    out.add(n)
        return sorted(out)

    def _iter_unfiltered(self) -> Iterator[Record]:
        s = self.series
        if self.recnums is not None:
            for a, b in self.recnums:
                for n in range(a, b + 1):
                    rec = record_from_recnum(s, n)
                    if rec is not None and self._allowed(rec.key) and self._slot_ok(rec.slot):
                        yield rec
            return
        if s.other_values is not None:
            values = [v for v in s.other_values if self._allowed(v)]
            if not values:
                return
            if len(values) == 1:
                v = values[0]
                for slot in self._iter_slots(self._progressions()):
                    yield Record(slot, v)
                return
            for slot in self._iter_slots(self._progressions()):
                for v in values:
                    yield Record(slot, v)
            return
        for n in self._harps():
            span = harp_span(s, n)
            progs = self._progressions(*span)  # type: ignore[misc]
            if progs:
                for slot in self._iter_slots(progs):
                    yield Record(slot, n)

    def records(self, limit: int | None = None) -> Iterator[Record]:
        """The selected records in prime-key order.

        Args:
            limit: ``n`` as JSOC takes it: positive keeps the first n, negative the last |n|.
        """
        it: Iterator[Record] = self._iter_unfiltered()
        if self.where is not None:
            where, series = self.where, self.series
            it = (r for r in it if where(series, r))
        if limit:
            if limit > 0:
                return itertools.islice(it, limit)
            total = self.count()
            return itertools.islice(it, max(0, total + limit), None)
        return it

    def count(self, limit: int | None = None) -> int:
        """Number of selected records, computed arithmetically when no ``[? ?]`` clause is set."""
        if self.where is not None or self.recnums is not None:
            total = sum(1 for _ in self.records())
        elif self.series.other_values is not None:
            nvals = sum(1 for v in self.series.other_values if self._allowed(v))
            progs = self._progressions()
            total = self._count_slots(progs) * nvals if progs and nvals else 0
        else:
            total = 0
            for n in self._harps():
                progs = self._progressions(*harp_span(self.series, n))  # type: ignore[misc]
                if progs:
                    total += self._count_slots(progs)
        if limit:
            return min(total, abs(limit))
        return total


# --- parsing ---------------------------------------------------------------------------------

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
                filters.append(text[i + 1:end + 1])
                i = end + 2
            else:
                end = text.find("]", i + 1)
                if end < 0:
                    raise RecordSetError("syntax", "unterminated filter")
                filters.append(text[i + 1:end])
                i = end + 1
        elif c == "{" and segs is None:
            end = text.find("}", i + 1)
            if end < 0:
                raise RecordSetError("syntax", "unterminated segment list")
            segs = text[i + 1:end]
            i = end + 1
        else:
            return filters, segs, i
    return filters, segs, i


def _time_item(rs: RecordSet, item: str) -> list[Progression]:
    tk = rs.series.time_key
    first, last = slot_bounds(rs.series)
    zone = tk.unit

    def slot(t: float) -> int:
        return slot_index(t, tk.epoch, tk.step)

    item = item.strip()
    if item in ("$",):
        return [(last, last, 1)]
    if item in ("^",):
        return [(first, first, 1)]
    body, _, cadence = item.partition("@")
    step = 1
    if cadence:
        step = max(1, round(parse_duration(cadence) / tk.step))
    if "/" in body:
        start, _, dur = body.partition("/")
        a = parse_time(start, zone)
        b = slot(a + parse_duration(dur)) - 1
        return [(slot(a), b, step)]
    try:
        t = slot(parse_time(body, zone))
        return [(t, t, step)]
    except TimeParseError:
        pass
    for m in re.finditer("-", body):
        left, right = body[:m.start()], body[m.end():]
        try:
            a, b = parse_time(left, zone), parse_time(right, zone)
        except TimeParseError:
            continue
        return [(slot(a), slot(b), step)]
    raise TimeParseError(item)


def _int_item(rs: RecordSet, item: str) -> tuple[int, int]:
    item = item.strip()
    s = rs.series
    values = s.other_values
    if item in ("$", "^"):
        if values is None:
            v = harp_max(s) if item == "$" else 1
        else:
            v = max(values) if item == "$" else min(values)
        return (v, v)
    m = re.fullmatch(r"(-?\d+(?:\.0*)?)(?:\s*-\s*(-?\d+(?:\.0*)?))?", item)
    if m is None:
        raise ValueError(item)
    a = int(float(m[1]))
    b = int(float(m[2])) if m[2] else a
    return (a, b)


def _apply_filter(rs: RecordSet, key: str, value: str) -> None:
    items = [x for x in value.split(",")] if value.strip() else []
    if not items or value.strip() == "*":
        return
    if key == rs.series.time_key.name:
        progs: list[Progression] = []
        for item in items:
            progs.extend(_time_item(rs, item))
        rs.slots = progs
    else:
        ranges = [_int_item(rs, item) for item in items]
        rs.others = ranges


def _recnum_ranges(text: str) -> list[tuple[int, int]]:
    out = []
    for item in text.split(","):
        m = re.fullmatch(r"\s*#(\d+)(?:\s*-\s*#(\d+))?\s*", item)
        if m is None:
            raise ValueError(item)
        a = int(m[1])
        out.append((a, int(m[2]) if m[2] else a))
    return out


def parse_recordset(text: str) -> RecordSet:
    """Parse a record-set specification against the catalogue.

    Args:
        text: The ``ds`` parameter, e.g. ``hmi.M_45s[2014.01.01_00:00:00_TAI/1h@90s]{magnetogram}``.

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
    if rest:
        if rest.startswith(","):
            other = _NAME.match(rest[1:])
            if other and (find_series(other[1]) or other[1]).__str__().lower() != series.name.lower():
                raise RecordSetError(
                    "multi",
                    f"invalid record-set specification `{text}`; the records must belong to a single "
                    "data series", name)
        raise RecordSetError("syntax", f"invalid record-set specification `{text}`", name)
    rs = RecordSet(series=series, text=text, filters=filters)
    position = 0
    for f in filters:
        fs = f.strip()
        try:
            if fs.startswith("?"):
                clause = fs[1:-1] if fs.endswith("?") else fs[1:]
                rs.where_text = clause.strip()
                try:
                    pred = compile_where(series, clause)
                except WhereError as exc:
                    raise RecordSetError("query", str(exc), name) from exc
                prev = rs.where
                rs.where = pred if prev is None else (lambda a, b: lambda s, r: a(s, r) and b(s, r))(prev, pred)
                continue
            if fs.startswith(":"):
                rs.recnums = _recnum_ranges(fs[1:])
                continue
            km = re.match(r"^([A-Za-z_]\w*)\s*=(?!=)\s*(.*)$", fs, re.S)
            if km is not None:
                key = next((pk for pk in series.primekeys if pk.lower() == km[1].lower()), None)
                if key is None:
                    raise RecordSetError("subset", f"invalid record-set specification `{text}`", name)
                _apply_filter(rs, key, km[2])
                position = series.primekeys.index(key) + 1
                continue
            if position >= len(series.primekeys):
                raise RecordSetError("subset", f"invalid record-set specification `{text}`", name)
            _apply_filter(rs, series.primekeys[position], fs)
            position += 1
        except (TimeParseError, ValueError) as exc:
            if isinstance(exc, RecordSetError):
                raise
            raise RecordSetError("subset", f"invalid record-set specification `{text}`", name) from exc
    if segs is not None:
        names = [s for s in re.split(r"[\s,]+", segs) if s]
        for seg in names:
            if seg != "**ALL**" and series.segment(seg) is None:
                raise RecordSetError("segment", f"invalid record-set specification `{text}`", name)
        rs.segments = None if not names or "**ALL**" in names else names
    return rs
