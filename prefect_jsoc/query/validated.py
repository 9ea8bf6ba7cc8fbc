"""A query checked against its series (:class:`ValidatedQuery`), and packing several into one export."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote_plus

from pydantic import model_validator

from prefect_jsoc.errors import CannotPackError, JsocProtocolError
from prefect_jsoc.query._typed import TypedModel
from prefect_jsoc.query.model import JsocQuery
from prefect_jsoc.query.render import SeriesLayout, primekey_items, with_items
from prefect_jsoc.query.selection import item_selects, parse_record_spec

__all__ = ["MAX_PACKED_LENGTH", "ValidatedQuery", "pack_recordset"]

#: Longest packed record set, URL-encoded. drms sends exports as a GET request; JSOC's web server
#: refuses request lines over 8190 bytes, which must also hold the other export parameters.
MAX_PACKED_LENGTH = 6000


class ValidatedQuery(TypedModel):
    """A :class:`JsocQuery` checked against its series on the server: what ``validate`` returns.

    Its record set is always one JSOC accepts, because the layout places every prime key.
    Construction fails (typed) when the query does not fit the layout.

    Attributes:
        query: The query as the user wrote it.
        layout: The series' layout, from the server.
        record_count: Records matched, when ``validate`` counted them.
        size_mb: Estimated export size in MB, when known.

    Example:
        ```python
        from prefect_jsoc.query import JsocQuery, SeriesLayout, ValidatedQuery
        hmi = SeriesLayout(primekeys=("T_REC", "CAMERA"), time_primekeys=("T_REC",), slot_steps={"T_REC": 45})
        v = ValidatedQuery(query=JsocQuery(series="hmi.M_45s", start="2014-01-01", end="2014-01-01T00:02"),
                           layout=hmi)
        assert v.recordset() == "hmi.M_45s[2014.01.01_00:00:35_TAI-2014.01.01_00:02:35_TAI]"
        assert v.selects(["2014.01.01_00:00:45_TAI", "2"])
        ```
    """

    query: JsocQuery
    layout: SeriesLayout
    record_count: int | None = None
    size_mb: float | None = None

    @model_validator(mode="after")
    def _fits_the_layout(self) -> ValidatedQuery:
        self._positions()  # raises the typed error when a prime key has no place
        return self

    def _positions(self) -> tuple[tuple[str, bool, float | None], ...]:
        """(item, is a time key, slot step) per prime-key position, rendered once: ``selects`` runs per file.

        Kept in ``__dict__`` as ``cached_property`` would, with the query and layout it was made from,
        so a ``model_copy(update=...)`` of either never sees a stale rendering.
        """
        cached = self.__dict__.get("_rendered")
        if cached is None or cached[0] is not self.query or cached[1] is not self.layout:
            items = primekey_items(self.query, self.layout)
            positions = tuple(
                (item, self.layout.is_time_key(key), self.layout.slot_step(key))
                for key, item in zip(self.layout.primekeys, items, strict=True)
            )
            cached = self.__dict__["_rendered"] = (self.query, self.layout, positions)
        return cached[2]

    @property
    def series(self) -> str:
        """The series name as the query spells it."""
        return self.query.series

    @property
    def label(self) -> str:
        """The query's human name (see :attr:`JsocQuery.label`)."""
        return self.query.label

    def cache_key(self) -> str:
        """The query's cache key: validation adds nothing that changes the data."""
        return self.query.cache_key()

    def recordset(self) -> str:
        """Return the DRMS record set, e.g. ``hmi.sharp_720s[4864][2014.01.01_00:00:35_TAI-...]``."""
        return with_items(self.query, self.layout, self.primekey_items())

    def primekey_items(self) -> tuple[str, ...]:
        """Return the rendered value of each prime-key position, in layout order, ``""`` where open.

        Example: ``("2014.01.01_00:00:35_TAI-2014.01.01_00:02:35_TAI", "")`` for ``hmi.M_45s``
        (``[T_REC][CAMERA]``) with only a time range.
        """
        return tuple(item for item, _, _ in self._positions())

    def _pack_content(self) -> dict[str, Any]:
        q = self.query
        return {
            "series": q.series.lower(),
            "prime keys": [k.upper() for k in self.layout.primekeys],
            "filters": sorted([f.name.upper(), f.op, f.value] for f in q.filters),
            "segments": sorted(s.lower() for s in q.segments),
            "protocol": q.protocol,
            "method": q.method,
            "cut-out": q.process(),
            "sample": q.sample,
        }

    def pack_signature(self) -> str:
        """Return a digest of everything two blocks must share to be exported together.

        That is the series (any case), the layout's prime keys, filters, segments, protocol,
        method, cut-out processing (with its reference time) and cadence; not the prime-key
        values, which :func:`pack_recordset` lists. The notify e-mail is not part of it either:
        group by the effective address before packing.
        """
        blob = json.dumps(self._pack_content(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    def selects(self, values: Sequence[str] | str) -> bool:
        """Tell whether this block selects the record whose prime-key values are ``values``.

        Used to give the files of a packed export back to their blocks. Only prime keys are
        compared: filters and segments are equal across a pack.

        Args:
            values: The record's prime-key values as JSOC prints them, in layout order, e.g.
                ``["2014.01.01_00:00:45_TAI", "3"]`` or AIA's ``["2014-01-01T00:00:11Z", "171"]``;
                or the record spec itself (``"hmi.M_45s[2014.01.01_00:00:45_TAI][3]"``).

        Returns:
            True when the record lies in this block (see :mod:`prefect_jsoc.query.selection` for
            the rules: TAI times, whole slots, numeric ranges).

        Raises:
            JsocProtocolError: When the number of values is not the number of prime keys.
        """
        if isinstance(values, str):
            series, values = parse_record_spec(values)
            if series.lower() != self.series.lower():
                return False
        positions = self._positions()
        if len(values) != len(positions):
            keys = self.layout.primekeys
            raise JsocProtocolError(
                f"A record of {self.series} was given {len(values)} prime-key values {list(values)}, but the "
                f"series has {len(keys)} prime keys ({', '.join(keys) or 'none'})."
            )
        return all(
            item_selects(item, value, is_time=is_time, slot_step=step)
            for (item, is_time, step), value in zip(positions, values, strict=True)
        )


def pack_recordset(blocks: Sequence[ValidatedQuery]) -> str:
    """Return ONE record set that selects every record of every block, for a single export.

    Blocks pack when they have equal :meth:`~ValidatedQuery.pack_signature` and prime-key items
    that differ in at most one position; that position becomes a DRMS comma list of the blocks'
    items, in input order, duplicates dropped, e.g.
    ``hmi.M_45s[2014.01.01_00:00:35_TAI-2014.01.01_00:03:35_TAI,2014.01.02_00:00:35_TAI-2014.01.02_00:03:35_TAI]{magnetogram}``.
    Use :meth:`ValidatedQuery.selects` to give the exported files back to their blocks.

    Args:
        blocks: Validated blocks, in the order their items should be listed.

    Returns:
        The packed record set.

    Raises:
        CannotPackError: When there are no blocks, their signatures differ, they differ in more
            than one prime-key position, one leaves the differing position open (any value) or
            writes ``$``/``^`` there, or the packed record set would be too long to send
            (:data:`MAX_PACKED_LENGTH`).
    """
    blocks = list(blocks)
    if not blocks:
        raise CannotPackError("pack_recordset needs at least one block.")
    first = blocks[0]
    for other in blocks[1:]:
        if other.pack_signature() != first.pack_signature():
            ours, theirs = first._pack_content(), other._pack_content()
            what = ", ".join(k for k in ours if ours[k] != theirs[k])
            raise CannotPackError(
                f"{other.label} cannot share an export with {first.label}: their {what} differ. Export them separately."
            )
    rows = [block.primekey_items() for block in blocks]
    keys = first.layout.primekeys
    differing = [i for i in range(len(keys)) if len({row[i] for row in rows}) > 1]
    if len(differing) > 1:
        raise CannotPackError(
            f"The blocks differ in more than one prime key ({', '.join(keys[i] for i in differing)}); a single "
            "record set can list the values of only one. Export them separately."
        )
    items = list(rows[0])
    if differing:
        position = differing[0]
        values = list(dict.fromkeys(row[position] for row in rows))
        for value in values:
            if not value.strip() or any(part.strip() in ("$", "^") for part in value.split(",")):
                raise CannotPackError(
                    f"A block selects {keys[position]}={value or '(any value)'}, which cannot be told apart from "
                    "the other blocks' records in a packed export. Export it separately."
                )
        items[position] = ",".join(values)
    packed = with_items(first.query, first.layout, tuple(items))
    encoded = len(quote_plus(packed))
    if encoded > MAX_PACKED_LENGTH:
        raise CannotPackError(
            f"The packed record set of {len(blocks)} blocks is {encoded:,} characters once URL-encoded; at most "
            f"{MAX_PACKED_LENGTH:,} fit in an export request. Pack fewer blocks together."
        )
    return packed
