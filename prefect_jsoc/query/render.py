"""Record-set rendering: a query placed on its series' prime keys, as the DRMS string JSOC expects.

Prime keys are positional in DRMS (``series[v1][v2]``), so a record set is only right against the
series definition: :class:`SeriesLayout` carries what ``validate`` learnt from the server.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from prefect_jsoc.errors import InvalidTimeRangeError, InvalidWavelengthError, UnknownPrimeKeyError
from prefect_jsoc.query.times import format_seconds, parse_duration, tai_text

if TYPE_CHECKING:
    from prefect_jsoc.query.model import JsocQuery

__all__ = ["SeriesLayout", "primekey_items", "render_recordset", "time_item", "with_items"]


def _read_slot_steps(value: Any) -> tuple[tuple[str, float], ...]:
    if value is None:
        return ()
    try:
        pairs = list(value.items() if isinstance(value, Mapping) else value)
        return tuple(sorted((str(k), parse_duration(v, what=f"slot step of {k}")) for k, v in pairs))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"slot_steps must map time prime keys to slot widths, such as {{'T_REC': 45}}: {exc}") from exc


class SeriesLayout(BaseModel):
    """How a series lays out its records; filled in by ``validate`` from the server's definition.

    Attributes:
        primekeys: Prime key names in series order, spelled as the server spells them.
        time_primekeys: The subset of ``primekeys`` whose type is ``time``.
        keywords: Keyword names of the series (at least those the query filters on), server spelling.
        segments: Segment names of the series (at least those the query asks for), server spelling.
        slot_steps: Slot width in seconds of each slotted time prime key (``series_struct``'s
            ``primekeysinfo`` ``step``), e.g. ``{"T_REC": 45}``. Given as a mapping, kept as sorted
            pairs so the layout stays hashable. DRMS selects whole slots, so a record's ``T_REC`` may lie
            up to half a slot outside the range asked for; :meth:`ValidatedQuery.selects` needs the step
            to say so. Without it, times are compared exactly.

    Example:
        ```python
        from prefect_jsoc.query import SeriesLayout
        hmi = SeriesLayout(primekeys=("T_REC", "CAMERA"), time_primekeys=("T_REC",), slot_steps={"T_REC": 45})
        ```
    """

    model_config = ConfigDict(frozen=True)

    primekeys: tuple[str, ...] = ()
    time_primekeys: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    slot_steps: Annotated[tuple[tuple[str, float], ...], BeforeValidator(_read_slot_steps)] = ()

    def slot_step(self, key: str) -> float | None:
        """Return the slot width in seconds of the time prime key ``key``, or None when it is not slotted."""
        return next((step for name, step in self.slot_steps if name.upper() == key.upper()), None)

    def is_time_key(self, key: str) -> bool:
        """Tell whether ``key`` (any case) is one of the series' time prime keys."""
        return key.upper() in {k.upper() for k in self.time_primekeys}


def time_item(query: JsocQuery) -> str | None:
    """Return the time part of the record set in TAI: ``a-b`` (end included) or ``a/Ns`` (end excluded), plus ``@Ns``.

    Sub-seconds are dropped as sunpy drops them: ``2014.01.01_00:00:35_TAI-2014.01.01_00:02:35_TAI``.
    """
    if query.start is None or query.end is None:
        return None
    if query.end_inclusive:
        text = f"{tai_text(query.start)}-{tai_text(query.end)}"
    else:
        text = f"{tai_text(query.start)}/{format_seconds((query.end - query.start).total_seconds())}s"
    if query.sample is not None:
        text += f"@{format_seconds(query.sample)}s"
    return text


def _wavelength_item(query: JsocQuery) -> str | None:
    if not query.wavelength:
        return None
    return ",".join(str(math.ceil(w - 1e-9)) for w in query.wavelength)  # int(ceil(Å)), as sunpy


def primekey_items(query: JsocQuery, layout: SeriesLayout) -> tuple[str, ...]:
    """Return the value of every prime-key position of ``layout`` for ``query`` (``""`` where it selects all).

    The time range goes to the first time prime key, the wavelength to ``WAVELNTH`` (``int(ceil(Å))``,
    as sunpy does), other prime keys to their own positions.

    Raises:
        UnknownPrimeKeyError: When a prime key of the query is not one of the series'.
        InvalidTimeRangeError: When the query has a time range but the series no time prime key.
        InvalidWavelengthError: When the query has a wavelength but the series no ``WAVELNTH`` prime key.
    """
    order = {key.upper(): i for i, key in enumerate(layout.primekeys)}
    names = ", ".join(layout.primekeys) or "none"
    items = [""] * len(layout.primekeys)
    times = time_item(query)
    if times is not None:
        if not layout.time_primekeys:
            raise InvalidTimeRangeError(
                f"The series {query.series} has no time prime key, so start/end cannot be used (its prime keys "
                f"are {names}); select records with primekeys= instead."
            )
        items[order[layout.time_primekeys[0].upper()]] = times
    waves = _wavelength_item(query)
    if waves is not None:
        if "WAVELNTH" not in order:
            raise InvalidWavelengthError(
                f"wavelength= cannot be used with {query.series}: the series has no WAVELNTH prime key (its prime "
                f"keys are {names})."
            )
        items[order["WAVELNTH"]] = waves
    for name, value in query.primekeys.items():
        if name.upper() not in order:
            raise UnknownPrimeKeyError(
                f"primekeys= names {name!r}, which is not a prime key of {query.series}; its prime keys are {names}."
            )
        items[order[name.upper()]] = value
    return tuple(items)


def with_items(query: JsocQuery, layout: SeriesLayout, items: tuple[str, ...]) -> str:
    """Render the record set of ``query`` with the given prime-key ``items`` (trailing empty ones omitted)."""
    used = len(items)
    while used and not items[used - 1]:
        used -= 1
    out = query.series + "".join(f"[{item}]" for item in items[:used])
    if query.filters:
        spelling = {k.upper(): k for k in layout.keywords}
        clause = " AND ".join(f.render(spelling.get(f.name.upper())) for f in query.filters)
        out += f"[? {clause} ?]"
    if query.segments:
        spelling = {s.upper(): s for s in layout.segments}
        out += "{" + ",".join(spelling.get(s.upper(), s) for s in query.segments) + "}"
    return out


def render_recordset(query: JsocQuery, layout: SeriesLayout) -> str:
    """Return the DRMS record set of ``query`` against ``layout`` (see :meth:`JsocQuery.recordset`)."""
    return with_items(query, layout, primekey_items(query, layout))
