"""Which records a record set selects: prime-key items compared with the values JSOC prints.

A packed export (one record set for several blocks) returns files without saying which block
asked for them; :meth:`ValidatedQuery.selects` answers that from each file's record spec. It
follows DRMS's rules for the items this package writes and for what users put in ``primekeys=``:

* times are compared in TAI; ``a-b`` includes its end, ``a/d`` excludes it; a cadence
  (``@90s``) is ignored, since the server already applied it;
* a slotted time key (``T_REC``) selects whole slots: DRMS turns each bound into the slot that
  contains it (slots are centred on their ``T_REC``, DRMS's ``ts_eq``), so a record up to half a
  slot outside ``a-b`` is selected, exactly as the server does;
* other values compare numerically when both sides are numbers (``a-b`` and ``a/n`` ranges
  too), else as strings; an empty item, ``$`` or ``^`` matches any value.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Literal

from prefect_jsoc.errors import JsocValidationError
from prefect_jsoc.query.times import parse_duration, tai_seconds

__all__ = ["item_selects", "parse_record_spec"]

_SPEC_RE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*((?:\[[^\]]*\])*)\s*(?:\{[^}]*\})?\s*$")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBER_RANGE_RE = re.compile(rf"^({_NUMBER})\s*(?:(-|/)\s*({_NUMBER}))?$")

# (kind, low, high, high included); kind "any" matches everything, "text" compares strings.
_Item = tuple[Literal["any", "range", "text"], float, float, bool]


def parse_record_spec(spec: str) -> tuple[str, tuple[str, ...]]:
    """Split a record spec as JSOC prints it into the series and its prime-key values.

    Example:
        ```python
        from prefect_jsoc.query import parse_record_spec
        assert parse_record_spec("hmi.M_45s[2014.01.01_00:00:45_TAI][2]{magnetogram}") == (
            "hmi.M_45s", ("2014.01.01_00:00:45_TAI", "2"))
        ```

    Raises:
        ValueError: When ``spec`` is not ``series[v1][v2]...`` with an optional ``{segment}``.
    """
    match = _SPEC_RE.match(spec)
    if match is None:
        raise ValueError(f"{spec!r} is not a record spec such as 'hmi.M_45s[2014.01.01_00:00:45_TAI][2]'.")
    return match.group(1), tuple(re.findall(r"\[([^\]]*)\]", match.group(2)))


def item_selects(item: str, value: str, *, is_time: bool, slot_step: float | None = None) -> bool:
    """Tell whether the prime-key ``item`` of a record set selects a record whose value is ``value``.

    Args:
        item: What the record set holds at this position: ``""``, one value, ``a-b``, ``a/d`` or a
            comma list of those.
        value: The record's value as JSOC prints it (``2014.01.01_00:00:45_TAI``,
            ``2014-01-01T00:00:01Z``, ``171``).
        is_time: Whether the position is a time prime key.
        slot_step: Slot width in seconds of a slotted time key (module notes), else None.
    """
    if not item.strip():
        return True
    if is_time:
        instant = _tai(value)
        half = (slot_step or 0.0) / 2
        return any(_time_matches(sub, instant, half) for sub in _time_items(item))
    return any(_value_matches(sub, value) for sub in item.split(","))


@functools.lru_cache(maxsize=65536)
def _tai(text: str) -> float:
    return round(tai_seconds(text.strip()), 6)


@functools.lru_cache(maxsize=1024)
def _time_items(item: str) -> tuple[_Item, ...]:
    return tuple(_time_item(sub) for sub in item.split(","))


@functools.lru_cache(maxsize=4096)
def _time_item(sub: str) -> _Item:
    body = sub.partition("@")[0].strip()  # the cadence is the server's business
    if body in ("$", "^", "*"):
        return ("any", 0.0, 0.0, True)
    if "/" in body:
        start, _, duration = body.partition("/")
        a = _tai(start)
        return ("range", a, a + parse_duration(duration, what="record-set duration"), False)
    try:
        instant = _tai(body)
        return ("range", instant, instant, True)
    except JsocValidationError:
        pass
    for dash in re.finditer("-", body):  # ISO times have dashes of their own: try each split
        try:
            return ("range", _tai(body[: dash.start()]), _tai(body[dash.end() :]), True)
        except JsocValidationError:
            continue
    raise JsocValidationError(f"The time item {sub!r} of the record set is not a time, a-b or a/duration.")


def _time_matches(item: _Item, instant: float, half: float) -> bool:
    kind, low, high, inclusive = item
    if kind == "any":
        return True
    if half:  # DRMS selects the slots containing low and high (a/d: up to the slot before low+d)
        return low - half < instant <= (high + half if inclusive else high - half)
    return low <= instant <= high if inclusive else low <= instant < high


@functools.lru_cache(maxsize=4096)
def _value_item(sub: str) -> _Item:
    body = sub.partition("@")[0].strip()
    if body in ("$", "^", "*"):
        return ("any", 0.0, 0.0, True)
    match = _NUMBER_RANGE_RE.match(body)
    if match is None:
        return ("text", 0.0, 0.0, True)
    low = float(match.group(1))
    if match.group(2) == "-":
        return ("range", low, float(match.group(3)), True)
    if match.group(2) == "/":
        return ("range", low, low + float(match.group(3)), False)
    return ("range", low, low, True)


def _value_matches(sub: str, value: str) -> bool:
    kind, low, high, inclusive = _value_item(sub)
    if kind == "any":
        return True
    if kind == "text":
        return sub.strip() == value.strip()
    try:
        number = float(value)
    except ValueError:
        return False
    if math.isclose(number, low, rel_tol=1e-12) or math.isclose(number, high, rel_tol=1e-12):
        return inclusive or math.isclose(number, low, rel_tol=1e-12)
    return low < number < high
