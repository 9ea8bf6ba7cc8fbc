"""The sunpy attrs adapter: ``a.jsoc.Series(...) & a.Time(...) | ...`` into :class:`JsocQuery` objects.

sunpy's JSOC walker flattens the attrs into one plain dict per OR branch; each becomes a query.
The user wrote sunpy's terms here, so the checks sunpy's JSOC client makes are made first, with
sunpy's own messages (``Time()``, ``PrimeKey()``, ``Wavelength()``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from prefect_jsoc.errors import (
    EmptyQueryError,
    IncompatibleOptionsError,
    InvalidKeywordFilterError,
    InvalidSeriesError,
    InvalidWavelengthError,
)
from prefect_jsoc.query.fields import TIME_PRIMEKEY_NAMES

if TYPE_CHECKING:
    from prefect_jsoc.query.model import JsocQuery

__all__ = ["is_sunpy_attr", "queries_from_attrs"]


def is_sunpy_attr(obj: Any) -> bool:
    """Tell whether ``obj`` is a sunpy attr (or an AND/OR of attrs), without importing sunpy."""
    return any(cls.__module__ == "sunpy.net.attr" for cls in type(obj).__mro__)


def queries_from_attrs(model: type[JsocQuery], *query: Any, **overrides: Any) -> list[JsocQuery]:
    """Build one ``model`` per OR branch of sunpy attrs (the body of :meth:`JsocQuery.from_attrs`)."""
    from sunpy.net import attr as sunpy_attr
    from sunpy.net.jsoc.attrs import walker

    if not query:
        raise InvalidSeriesError("Series must be specified for a JSOC Query")
    expr = sunpy_attr.and_(*query) if len(query) > 1 else query[0]
    try:
        blocks = walker.create(expr)
    except ValueError as exc:  # sunpy's own shape checks (Keyword without comparison, ...)
        error = InvalidKeywordFilterError if "Keyword" in str(exc) else InvalidWavelengthError
        raise error(str(exc)) from exc
    out = []
    for block in blocks:
        _check_like_sunpy(block)
        out.append(model(**{**_fields_from_block(block), **overrides}))
    return out


def _check_like_sunpy(block: Mapping[str, Any]) -> None:
    """Make the checks sunpy's JSOC client makes on a walker block, with its messages."""
    if not block.get("series"):
        raise InvalidSeriesError("Series must be specified for a JSOC Query")
    primekeys = block.get("primekey") or {}
    time_keys = [k for k in primekeys if k.upper() in TIME_PRIMEKEY_NAMES]
    if "start_time" in block and time_keys:
        raise IncompatibleOptionsError(
            "Time attribute has been passed both as a Time() and PrimeKey(). Please provide any one of them or "
            "separate them by OR operator."
        )
    if len(time_keys) > 1:
        raise IncompatibleOptionsError(
            "Querying of series, having more than 1 Time-type prime-keys is not yet supported. Alternative is to "
            "use only one of the primekey to query for series data."
        )
    has_wavelength = block.get("wavelength") not in (None, "")
    if has_wavelength and any(k.upper() == "WAVELNTH" for k in primekeys):
        raise IncompatibleOptionsError(
            "Wavelength attribute has been passed both as a Wavelength() and PrimeKey(). Please provide any one of "
            "them or separate them by OR operator."
        )
    if "start_time" not in block and not has_wavelength and not primekeys:
        raise EmptyQueryError("Time, Wavelength or an explicit PrimeKey must be specified.")


def _fields_from_block(block: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"series": block["series"]}
    if "start_time" in block:
        fields["start"] = block["start_time"]
        fields["end"] = block["end_time"]
    optional = {
        "sample": "sample",
        "wavelength": "wavelength",
        "segment": "segments",
        "protocol": "protocol",
        "notify": "notify",
        "cutout": "cutout",
    }
    for key, field in optional.items():
        if block.get(key) not in (None, ""):
            fields[field] = block[key]
    if block.get("primekey"):
        fields["primekeys"] = {k: str(v) for k, v in block["primekey"].items()}
    if block.get("keyword"):
        fields["filters"] = [(k, v["operator"], v["value"]) for k, v in block["keyword"].items()]
    return fields
