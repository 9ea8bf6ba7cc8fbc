"""A parsed record set's selection: which records it holds, in prime-key order, and how many.

The selection is kept as arithmetic progressions of slot numbers and of the other prime key's values
(see :mod:`.recordset` for how a specification becomes one); records are produced lazily.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

from .catalog import SeriesDef
from .records import Record, harp_max, harp_span, harps_active, record_from_recnum, slot_bounds
from .where import Predicate

__all__ = ["Progression", "RecordSet", "is_member"]

Progression = tuple[int, int, int]  # first, last (inclusive), step


@dataclass
class RecordSet:
    """A parsed record set of one series; iterate it with :meth:`records`."""

    series: SeriesDef
    text: str
    slots: list[Progression] | None = None  # None: every slot
    others: list[Progression] | None = None  # None: every value of the other prime key
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
        return [p for p in (_clip(p, lo, hi) for p in (self.slots or [(first, last, 1)])) if p is not None]

    @staticmethod
    def _iter_slots(progs: list[Progression]) -> Iterator[int]:
        if len(progs) == 1:
            a, b, k = progs[0]
            return iter(range(a, b + 1, k))
        merged = heapq.merge(*(range(a, b + 1, k) for a, b, k in progs))
        return (s for s, _ in itertools.groupby(merged))  # the union, each slot once

    @staticmethod
    def _count_slots(progs: list[Progression]) -> int:
        if len(progs) == 1:
            a, b, k = progs[0]
            return (b - a) // k + 1
        return sum(1 for _ in RecordSet._iter_slots(progs))

    def _allowed(self, value: int) -> bool:
        return self.others is None or any(is_member(p, value) for p in self.others)

    def _slot_ok(self, slot: int) -> bool:
        return any(is_member(p, slot) for p in self._progressions())

    def _harps(self) -> list[int]:
        progs = self._progressions()
        if not progs:
            return []
        lo, hi = min(p[0] for p in progs), max(p[1] for p in progs)
        if self.others is None:
            return harps_active(self.series, lo, hi)
        top = harp_max(self.series)
        out: set[int] = set()
        for p in self.others:
            clipped = _clip(p, 1, top)
            if clipped is None:
                continue
            a, b, k = clipped
            for n in range(a, b + 1, k):
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


def is_member(p: Progression, value: int) -> bool:
    """True if ``value`` is one of the numbers of progression ``p``."""
    a, b, k = p
    return a <= value <= b and (value - a) % k == 0


def _clip(p: Progression, lo: int, hi: int) -> Progression | None:
    """The part of progression ``p`` inside ``[lo, hi]``, or None if empty."""
    a, b, k = p
    if a < lo:
        a += -((a - lo) // k) * k  # first element >= lo
    b = min(b, hi)
    return (a, b, k) if a <= b else None
