"""Pack validated blocks into as few JSOC exports as JSOC accepts.

JSOC allows one pending export per e-mail, so a fetch's wall time is roughly the sum of its export
waits: fewer exports is faster, and politer. Blocks of one series that share every option
(segments, filters, sample, method, protocol, processing) and differ only in one prime-key position,
usually the time range, go into one record set with a DRMS comma list in that position::

    hmi.m_45s[2014.01.01_00:00:35_TAI-2014.01.01_00:03:35_TAI,2014.01.02_00:00:35_TAI-...]{magnetogram}

A unit stays under JSOC's caps: the 100 GB export limit (with a margin, on the blocks' size bounds),
a record budget, and a record-set length that keeps the request URL short. Tar exports are never
packed (one tar file cannot be split back into blocks), nor are sampled blocks whose time ranges
overlap (a record could then lie on one block's cadence grid but not the other's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prefect_jsoc.errors import CannotPackError, InvalidOptionError, NoRecordsError
from prefect_jsoc.models import ExportUnit
from prefect_jsoc.query import ValidatedQuery, pack_recordset
from prefect_jsoc.settings import JsocSettings
from prefect_jsoc.validation import EXPORT_SIZE_LIMIT_MB, MAX_RECORD_MB, validate_query

__all__ = ["MAX_PACKED_RECORDS", "MAX_RECORDSET_CHARS", "PACKED_SIZE_BUDGET_MB", "as_unit", "plan_exports"]

#: Size budget of one packed export: JSOC's limit with a 20 % margin for the estimates.
PACKED_SIZE_BUDGET_MB = 0.8 * EXPORT_SIZE_LIMIT_MB
#: Records in one packed export. JSOC refuses record sets that are "too many records in one
#: request" at a server-configured count; staying well under it keeps each export moderate.
MAX_PACKED_RECORDS = 20_000
#: Longest packed record set: it travels in a GET URL, which web servers cap at about 8 kB.
MAX_RECORDSET_CHARS = 3_000


def _size_bound(block: ValidatedQuery) -> float:
    if block.size_mb is not None:
        return block.size_mb
    return float((block.record_count or 0) * MAX_RECORD_MB)


def _varying(a: tuple[str, ...], b: tuple[str, ...]) -> list[int]:
    return [i for i, (x, y) in enumerate(zip(a, b)) if x != y]


def _overlaps(a: ValidatedQuery, b: ValidatedQuery) -> bool:
    qa, qb = a.query, b.query
    if qa.start is None or qb.start is None or qa.end is None or qb.end is None:
        return False
    return qa.start <= qb.end and qb.start <= qa.end


class _Group:
    """Blocks being gathered into one unit."""

    def __init__(self, first: ValidatedQuery) -> None:
        self.blocks = [first]
        self.items = first.primekey_items()
        self.position: int | None = None
        self.records = first.record_count or 0
        self.size = _size_bound(first)

    def accepts(self, block: ValidatedQuery) -> bool:
        items = block.primekey_items()
        differ = _varying(self.items, items)
        if len(differ) > 1 or (differ and self.position is not None and differ[0] != self.position):
            return False
        if differ and not items[differ[0]]:
            return False  # a block that leaves the varying key open selects everything there
        if self.records + (block.record_count or 0) > MAX_PACKED_RECORDS:
            return False
        if self.size + _size_bound(block) > PACKED_SIZE_BUDGET_MB:
            return False
        if block.query.sample is not None and any(_overlaps(block, b) for b in self.blocks):
            return False
        try:
            recordset = pack_recordset([*self.blocks, block])
        except CannotPackError:
            return False
        return len(recordset) <= MAX_RECORDSET_CHARS

    def add(self, block: ValidatedQuery) -> None:
        differ = _varying(self.items, block.primekey_items())
        if differ:
            self.position = differ[0]
        self.blocks.append(block)
        self.records += block.record_count or 0
        self.size += _size_bound(block)

    def unit(self) -> ExportUnit:
        blocks = sorted(self.blocks, key=lambda b: b.primekey_items())
        return ExportUnit(blocks=tuple(blocks), recordset=pack_recordset(blocks))


def plan_exports(blocks: Sequence[ValidatedQuery], *, pack: bool = True) -> list[ExportUnit]:
    """Group validated blocks into export units; blocks with no records get no unit.

    Args:
        blocks: Validated blocks (``record_count`` filled in by ``validate``).
        pack: Put compatible blocks into one export (False: one export per block).

    Returns:
        The units, in the order of their first block.

    Example:
        ```python
        from prefect_jsoc import JsocQuery
        from prefect_jsoc.planning import plan_exports
        from prefect_jsoc.validation import validate_query

        days = [JsocQuery(series="hmi.M_45s", start=f"2014-01-0{d}T00:00", end=f"2014-01-0{d}T00:03",
                          segments=["magnetogram"]) for d in (1, 2)]
        units = plan_exports([validate_query(q) for q in days])
        print(units[0].recordset)   # one export for both days
        ```
    """
    groups: list[_Group] = []
    for block in blocks:
        if not block.record_count:
            continue
        home = None
        if pack and block.query.method != "url-tar":
            signature = (block.pack_signature(), block.query.notify_address())  # one e-mail per export
            home = next(
                (
                    g
                    for g in groups
                    if (g.blocks[0].pack_signature(), g.blocks[0].query.notify_address()) == signature
                    and g.accepts(block)
                ),
                None,
            )
        if home is None:
            groups.append(_Group(block))
        else:
            home.add(block)
    return [g.unit() for g in groups]


def as_unit(what: Any, settings: JsocSettings | None = None) -> ExportUnit | None:
    """The export unit of whatever ``stage`` was given; None when there is nothing to export.

    Args:
        what: An ``ExportUnit``; a ``ValidatedQuery``; a ``JsocQuery`` (validated here, which needs
            the server); a ``SearchResult`` (an empty one exports nothing); or a one-element list of
            those (what ``JsocQuery.from_attrs`` returns).
        settings: Settings for validating a plain query.

    Returns:
        The unit, or None for an empty search result (the search already said there is nothing).

    Raises:
        NoRecordsError: For a query that matches no records.
        JsocValidationError: For an invalid query, or a list of several queries (``stage`` exports
            one block; use the ``jsoc_fetch`` flow for several).
    """
    from prefect_jsoc.models import SearchResult
    from prefect_jsoc.query import JsocQuery, queries_from

    if isinstance(what, list):
        if len(what) != 1:
            raise InvalidOptionError(
                f"stage exports one block but was given {len(what)}; pass one query, or run the jsoc_fetch "
                "flow, which packs several blocks into as few exports as JSOC accepts."
            )
        what = what[0]
    if isinstance(what, ExportUnit):
        return what
    if isinstance(what, SearchResult):
        if not what.count:
            return None
        what = what.query
    if isinstance(what, ValidatedQuery):
        validated = what
    elif isinstance(what, JsocQuery):
        validated = validate_query(what, settings)
    else:
        validated = validate_query(queries_from(what)[0], settings)
    if not validated.record_count:
        raise NoRecordsError(
            f"The query {validated.label} matches no records ({validated.recordset()}), so there is nothing to "
            "export. Check the time range and prime keys with the search task."
        )
    return plan_exports([validated])[0]
