"""Checks of a query against the server's series definition, and the search itself.

These are the plain functions behind the ``validate`` and ``search`` tasks; they need no Prefect.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from typing import Any

from prefect_jsoc.client import JsocClient
from prefect_jsoc.errors import (
    ExportTooLargeError,
    InvalidEmailError,
    InvalidOptionError,
    InvalidTimeRangeError,
    InvalidWavelengthError,
    UnknownKeywordError,
    UnknownPrimeKeyError,
    UnknownSegmentError,
    UnregisteredEmailError,
)
from prefect_jsoc.models import SearchResult
from prefect_jsoc.query import JsocQuery, SeriesLayout, ValidatedQuery, queries_from
from prefect_jsoc.series import SeriesInfo
from prefect_jsoc.settings import JsocSettings

__all__ = [
    "DEFAULT_KEYS",
    "EXPORT_SIZE_LIMIT_MB",
    "check_email",
    "mask_email",
    "resolve_keys",
    "search_records",
    "validate_query",
]


#: The keywords sunpy shows by default; ``search`` asks for those the series has.
DEFAULT_KEYS = ("T_REC", "TELESCOP", "INSTRUME", "WAVELNTH", "CAR_ROT")
#: An upper bound of one record's size when its segments' dimensions are variable (a full HMI SHARP
#: record with all 31 segments is well under 2 GB).
MAX_RECORD_MB = 2_000
#: JSOC's per-request export limit (``Request exceeds max byte limit of 100000MB``).
EXPORT_SIZE_LIMIT_MB = 100_000


def mask_email(address: str) -> str:
    """Hide most of an e-mail's local part for messages: ``jane.doe@x.org`` -> ``j***@x.org``."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def _ci(names: Sequence[str], name: str) -> str | None:
    low = name.lower()
    for n in names:
        if n.lower() == low:
            return n
    return None


def _listing(valid: Sequence[str], bad: str, limit: int = 25) -> str:
    if len(valid) <= limit:
        return str(list(valid))
    close = difflib.get_close_matches(bad.upper(), [v.upper() for v in valid], n=8, cutoff=0.6)
    by_upper = {v.upper(): v for v in valid}
    shown = [by_upper[c] for c in close] or list(valid[:limit])
    return f"{shown} and {len(valid) - len(shown)} more"


def check_email(client: JsocClient, address: str) -> None:
    """Raise unless ``address`` is registered with JSOC (a success is remembered for an hour).

    Args:
        client: The client for the server.
        address: The notify e-mail.

    Raises:
        InvalidEmailError: When the server says the address is malformed.
        UnregisteredEmailError: When it is unknown, or its registration is still pending.
    """
    client.email_registered(address, lambda: _check_email_on_server(client, address))


def _check_email_on_server(client: JsocClient, address: str) -> None:
    status, msg = client.check_email(address)
    if status == 2:
        return
    shown = mask_email(address)
    said = f' JSOC said: "{msg}".' if msg else ""
    if status == -2:
        raise InvalidEmailError(f"The notify e-mail {shown} is not a valid e-mail address.{said}")
    if status == 3:
        raise UnregisteredEmailError(
            f"The notify e-mail {shown} is registered but not yet confirmed.{said} Answer JSOC's confirmation "
            "mail, then try again."
        )
    raise UnregisteredEmailError(
        f"The notify e-mail {shown} is not registered with JSOC (status {status}).{said} Register it at "
        "http://jsoc.stanford.edu/ajax/register_email.html, or use a registered address."
    )


def _check_against_series(query: JsocQuery, info: SeriesInfo) -> None:
    series = query.series
    primekeys = list(info.primekeys)
    for name in query.primekeys:
        if _ci(primekeys, name) is None:
            raise UnknownPrimeKeyError(
                f"The series {series} has no prime key {name!r}: its prime keys are {primekeys}. "
                "Fix or remove it in primekeys=."
            )
    if query.start is not None and not info.time_primekeys:
        raise InvalidTimeRangeError(
            f"The series {series} has no time prime key, so start/end cannot be used. Its prime keys are "
            f"{primekeys}; select records with primekeys= instead."
        )
    if query.wavelength is not None and _ci(primekeys, "WAVELNTH") is None:
        raise InvalidWavelengthError(
            f"The series {series} has no WAVELNTH prime key, so wavelength= cannot be used. Its prime keys "
            f"are {primekeys}."
        )
    segments = list(info.segments)
    for seg in query.segments:
        if _ci(segments, seg) is None:
            raise UnknownSegmentError(
                f"The series {series} has no segment {seg!r}: its segments are {segments}. Fix segments=."
            )
    keywords = list(info.keywords)
    for flt in query.filters:
        if _ci(keywords, flt.name) is None:
            raise UnknownKeywordError(
                f"The series {series} has no keyword {flt.name!r} (used in filters=). Its keywords include "
                f"{_listing(keywords, flt.name)}."
            )


def _layout_of(query: JsocQuery, client: JsocClient) -> tuple[SeriesInfo, SeriesLayout]:
    """Check the query against its series' definition; return the definition and the query's layout."""
    info = client.series_info(query.series)
    _check_against_series(query, info)
    return info, info.layout(query)


def _size_estimate_mb(query: JsocQuery, info: SeriesInfo, client: JsocClient, recordset: str, count: int) -> float:
    """An upper bound of the export's size in MB: from fixed segment sizes, else sampled storage sizes."""
    per_record = info.record_bytes_bound(query.segments)
    if per_record is not None:
        return count * per_record / 1e6
    if count * MAX_RECORD_MB <= EXPORT_SIZE_LIMIT_MB:
        return float(count * MAX_RECORD_MB)
    sizes = client.record_sizes(recordset, n=min(count, 10))
    if not sizes:
        return float(count * MAX_RECORD_MB)
    return sum(sizes) / len(sizes) * count / 1e6


def one_query(what: Any, task: str) -> JsocQuery:
    """The one query a task was given: a ``JsocQuery``, a ``ValidatedQuery``, or a one-element list.

    Raises:
        JsocValidationError: For several queries (the flows take those), or sunpy attrs (which need
            ``JsocQuery.from_attrs``).
    """
    queries = queries_from(what)
    if len(queries) != 1:
        raise InvalidOptionError(
            f"The {task} task takes one query but was given {len(queries)}; the jsoc_search and jsoc_fetch "
            "flows take several (a list, or what JsocQuery.from_attrs returns)."
        )
    return queries[0]


def _notify_of(query: JsocQuery) -> str | None:
    """The e-mail given on the query itself, in clear, if any."""
    return query.notify_address()


def validate_query(
    query: JsocQuery | Any,
    settings: JsocSettings | None = None,
    *,
    client: JsocClient | None = None,
    export: bool = True,
) -> ValidatedQuery:
    """Check a query against the server; return it with its series layout, record count and size.

    Checks, in order: for an export, that a notify e-mail is configured; the series exists; prime
    keys, wavelength, segments and filter keywords belong to it; the record set is accepted (its
    record count); and, for an export, that the estimated size is under JSOC's 100 GB limit and that
    the e-mail is registered. Nothing is exported.

    Args:
        query: The query.
        settings: Settings; resolved when None.
        client: A client to reuse.
        export: Also run the checks an export needs (notify e-mail, size limit).

    Returns:
        The :class:`~prefect_jsoc.query.ValidatedQuery`: its ``recordset()`` is exact, and
        ``record_count`` and ``size_mb`` (an upper bound, for exports) are filled in.

    Raises:
        JsocValidationError: A subclass naming the bad value and listing the valid ones
            (``MissingEmailError`` when an export has no e-mail to notify).
        JsocTransientError: When the server could not be reached.

    Example:
        ```python
        from prefect_jsoc import JsocQuery
        from prefect_jsoc.validation import validate_query
        q = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00", end="2014-01-01T00:05")
        checked = validate_query(q, export=False)
        print(checked.recordset(), checked.record_count)
        ```
    """
    query = one_query(query, "validate")
    settings = JsocSettings.resolve(settings)
    client = client or JsocClient.for_settings(settings)
    address = settings.notify_email(_notify_of(query)) if export else None  # MissingEmailError first
    info, layout = _layout_of(query, client)
    recordset = ValidatedQuery(query=query, layout=layout).recordset()
    count = client.count(recordset)
    size_mb = None
    if export and count:
        size_mb = _size_estimate_mb(query, info, client, recordset, count)
        if size_mb > EXPORT_SIZE_LIMIT_MB:
            chunks = math.ceil(size_mb / (EXPORT_SIZE_LIMIT_MB * 0.8))
            raise ExportTooLargeError(
                f"The export of {query.label} would be up to {size_mb:,.0f} MB ({count} records), above JSOC's "
                f"limit of {EXPORT_SIZE_LIMIT_MB:,} MB per request. Split it into at least {chunks} parts with "
                "split_interval(query, every=...), or request fewer segments."
            )
    if address:
        check_email(client, address)
    return ValidatedQuery(query=query, layout=layout, record_count=count, size_mb=size_mb)


def resolve_keys(keys: Sequence[str] | str | None, info: SeriesInfo) -> list[str]:
    """Turn the ``keys`` argument of ``search`` into the keyword list sent to JSOC.

    Args:
        keys: None for the defaults, ``"all"``/``"**ALL**"`` for every keyword, a comma-separated
            string, or a list of names (pseudo-keys such as ``*recnum*`` are allowed).
        info: The series definition.

    Returns:
        Keyword names spelled as the server spells them.

    Raises:
        UnknownKeywordError: When a name is not a keyword of the series.
    """
    keywords = list(info.keywords)
    if keys is None:
        chosen = [k for k in (_ci(keywords, d) for d in DEFAULT_KEYS) if k]
        return chosen or list(info.primekeys) or keywords[:5]
    if isinstance(keys, str):
        if keys.strip().lower() in ("all", "**all**"):
            return ["**ALL**"]
        keys = [k for k in keys.replace(",", " ").split() if k]
    if not isinstance(keys, (list, tuple)):
        raise UnknownKeywordError(
            f"Keywords can only be passed as a list or comma-separated strings; got {type(keys).__name__} {keys!r}."
        )
    out = []
    for key in keys:
        if not isinstance(key, str):
            raise UnknownKeywordError(f"Keywords can only be passed as a list or comma-separated strings; got {key!r}.")
        if key.lower() in ("all", "**all**"):
            return ["**ALL**"]
        if key.startswith("*") and key.endswith("*"):
            out.append(key)
            continue
        name = _ci(keywords, key)
        if name is None:
            raise UnknownKeywordError(
                f"Keyword: '{key}' is not supported by series: {info.name}. Its keywords include "
                f"{_listing(keywords, key)}."
            )
        out.append(name)
    return out


def search_records(
    query: JsocQuery | Any,
    keys: Sequence[str] | str | None = None,
    settings: JsocSettings | None = None,
    *,
    client: JsocClient | None = None,
) -> SearchResult:
    """Return the records matching a query with the requested keywords.

    Args:
        query: The query (validated or not; the series layout is looked up and cached).
        keys: Keywords to return: None for ``T_REC, TELESCOP, INSTRUME, WAVELNTH, CAR_ROT`` (those
            the series has), ``"all"`` for every keyword, or a list.
        settings: Settings; resolved when None.
        client: A client to reuse.

    Returns:
        A :class:`~prefect_jsoc.models.SearchResult` with the count and an astropy Table (requested
        segments appear as extra columns holding storage paths).

    Raises:
        JsocValidationError: For an unknown series, prime key, segment or keyword.
        JsocTransientError: When the server could not be reached.

    Example:
        ```python
        from prefect_jsoc import JsocQuery
        from prefect_jsoc.validation import search_records
        q = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00", end="2014-01-01T00:05")
        result = search_records(q, keys=["T_REC", "QUALITY"])
        print(result.count, result.table)
        ```
    """
    query = one_query(query, "search")
    settings = JsocSettings.resolve(settings)
    client = client or JsocClient.for_settings(settings)
    info, layout = _layout_of(query, client)
    key_list = resolve_keys(keys, info)
    segments = [info.segment(s) or s for s in query.segments] or None
    recordset = ValidatedQuery(query=query, layout=layout).recordset()
    table = client.query(recordset, key_list, segments)
    count = int(table.meta.get("count", len(table)))
    # The result is cached (pickled) by Prefect: keep the e-mail out of it.
    return SearchResult(query=query.model_copy(update={"notify": None}), count=count, table=table, keywords=key_list)
