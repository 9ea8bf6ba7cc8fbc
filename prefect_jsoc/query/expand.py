"""Many queries from one description: OR expansion, interval splitting, and reading what callers pass."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from prefect_jsoc.errors import (
    EmptyQueryError,
    InvalidSampleError,
    InvalidSeriesError,
    InvalidTimeRangeError,
    RawAttrsError,
    UnsupportedQueryError,
)
from prefect_jsoc.query._typed import preview
from prefect_jsoc.query.attrs import is_sunpy_attr
from prefect_jsoc.query.model import JsocQuery
from prefect_jsoc.query.times import format_seconds, parse_duration
from prefect_jsoc.query.validated import ValidatedQuery

__all__ = ["MAX_CHUNKS", "or_queries", "queries_from", "split_interval"]

#: Most chunks :func:`split_interval` makes; more is a typo in the chunk length, not a plan.
MAX_CHUNKS = 100_000


def or_queries(
    series: str | Sequence[str],
    intervals: Sequence[tuple[Any, Any]] | None = None,
    **common: Any,
) -> list[JsocQuery]:
    """Expand several series and/or several intervals into one query per combination.

    This is the OR of sunpy (``Series(a) | Series(b)``), ready for fan-out with ``.map``.
    Duplicates (equal cache keys) are dropped; the order is series-major.

    Args:
        series: One series name or several.
        intervals: ``(start, end)`` pairs. When omitted, ``start``/``end`` from ``common`` apply.
        **common: Every other :class:`JsocQuery` field, shared by all queries.

    Returns:
        The queries.

    Raises:
        JsocValidationError: When any combination is not a valid query.

    Example:
        ```python
        from prefect_jsoc.query import or_queries
        qs = or_queries(["hmi.M_45s", "hmi.Ic_45s"],
                        intervals=[("2014-01-01T00:00", "2014-01-01T00:05"),
                                   ("2014-01-02T00:00", "2014-01-02T00:05")])
        assert len(qs) == 4
        ```
    """
    names = [series] if isinstance(series, str) else list(series)
    if not names:
        raise InvalidSeriesError("or_queries needs at least one series, for example ['hmi.M_45s'].")
    spans: list[tuple[Any, Any] | None] = list(intervals) if intervals is not None else [None]
    if not spans:
        raise InvalidTimeRangeError("or_queries got an empty list of intervals; give at least one (start, end).")
    out: dict[str, JsocQuery] = {}
    for name in names:
        for span in spans:
            fields = dict(common, series=name)
            if span is not None:
                try:
                    fields["start"], fields["end"] = span
                except (TypeError, ValueError) as exc:
                    raise InvalidTimeRangeError(
                        f"Each interval must be a (start, end) pair, got {preview(span)}."
                    ) from exc
            query = JsocQuery(**fields)
            out.setdefault(query.cache_key(), query)
    return list(out.values())


def split_interval(query: JsocQuery, every: Any) -> list[JsocQuery]:
    """Split one long query into consecutive chunks of at most ``every``.

    Chunks do not overlap: every chunk except the last excludes its end (DRMS ``a/duration``),
    so a record on a boundary is exported once. With a ``sample`` cadence, ``every`` must be a
    multiple of it so the sampling grid stays the same.

    Args:
        query: A query with a time range.
        every: Chunk length (seconds, timedelta, Quantity or a string such as ``"6h"``).

    Returns:
        The chunks, in time order (a one-element list when the range is short).

    Raises:
        InvalidTimeRangeError: When the query has no time range.
        InvalidSampleError: When ``every`` is not a positive multiple of the cadence, or would make
            more than :data:`MAX_CHUNKS` chunks.

    Example:
        ```python
        from prefect_jsoc.query import JsocQuery, split_interval
        q = JsocQuery(series="hmi.M_45s", start="2014-01-01", end="2014-01-02")
        assert len(split_interval(q, "6h")) == 4
        ```
    """
    if query.start is None or query.end is None:
        raise InvalidTimeRangeError(f"split_interval needs a query with start and end; {query.label} has none.")
    step = parse_duration(every, what="chunk length")
    if query.sample is not None:
        ratio = step / query.sample
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise InvalidSampleError(
                f"The chunk length {format_seconds(step)}s is not a multiple of the sample cadence "
                f"{format_seconds(query.sample)}s; choose a multiple so chunks keep the same sampling grid."
            )
    span = (query.end - query.start).total_seconds()
    if span / step > MAX_CHUNKS:
        raise InvalidSampleError(
            f"A chunk length of {format_seconds(step)}s would split {query.label} into more than "
            f"{MAX_CHUNKS:,} chunks; choose a longer one, such as '6h'."
        )
    delta = dt.timedelta(seconds=step)
    out: list[JsocQuery] = []
    t = query.start
    while t < query.end:
        nxt = min(t + delta, query.end)
        last = nxt >= query.end
        out.append(
            query.model_copy(update={"start": t, "end": nxt, "end_inclusive": query.end_inclusive if last else False})
        )
        t = nxt
    return out or [query]  # start == end with an inclusive end: a single instant


def queries_from(obj: Any) -> list[JsocQuery]:
    """Read what a caller passes as "the queries": one or several, in any accepted form.

    Args:
        obj: A :class:`JsocQuery`, a :class:`ValidatedQuery` (its query is used), a mapping of
            :class:`JsocQuery` fields, or a list/tuple of those (nested lists, such as several
            ``JsocQuery.from_attrs(...)`` results, are flattened).

    Returns:
        The queries, in order.

    Raises:
        RawAttrsError: When given sunpy attrs: convert them with ``JsocQuery.from_attrs(...)``.
        UnsupportedQueryError: When given anything else.
        EmptyQueryError: When the list is empty.
        JsocValidationError: When a mapping is not a valid query.

    Example:
        ```python
        from prefect_jsoc.query import JsocQuery, queries_from
        q = JsocQuery(series="hmi.M_45s", start="2014-01-01", end="2014-01-01T00:05")
        assert queries_from([q, {"series": "hmi.M_45s", "start": "2014-01-02", "end": "2014-01-02T00:05"}])[0] == q
        ```
    """
    if isinstance(obj, (list, tuple)):
        if not obj:
            raise EmptyQueryError("The list of queries is empty; give at least one JsocQuery.")
        return [query for item in obj for query in queries_from(item)]
    if isinstance(obj, JsocQuery):
        return [obj]
    if isinstance(obj, ValidatedQuery):
        return [obj.query]
    if isinstance(obj, Mapping):
        return [JsocQuery(**obj)]
    if is_sunpy_attr(obj):
        raise RawAttrsError(
            f"Got the sunpy attrs {preview(obj, 80)} where JsocQuery objects are expected. Convert them first: "
            "JsocQuery.from_attrs(a.Time(...), a.jsoc.Series(...), ...) returns one query per OR branch."
        )
    raise UnsupportedQueryError(
        f"Cannot read queries from a {type(obj).__name__} ({preview(obj)}); give a JsocQuery, a ValidatedQuery, a "
        "mapping of JsocQuery fields, or a list of them (JsocQuery.from_attrs(...) turns sunpy attrs into queries)."
    )
