"""Checks of a query against the server's series definition, and the search itself.

These are the plain functions behind the ``validate`` and ``search`` tasks; they need no Prefect.
"""

from __future__ import annotations

import difflib
import math
import threading
import time
from collections.abc import Sequence

from prefect_jsoc.client import JsocClient, SeriesInfo, single_flight
from prefect_jsoc.errors import (
    ExportTooLargeError,
    InvalidEmailError,
    InvalidTimeRangeError,
    InvalidWavelengthError,
    UnknownKeywordError,
    UnknownPrimeKeyError,
    UnknownSegmentError,
    UnregisteredEmailError,
)
from prefect_jsoc.models import SearchResult
from prefect_jsoc.query import JsocQuery
from prefect_jsoc.settings import JsocSettings

__all__ = [
    "DEFAULT_KEYS",
    "EXPORT_SIZE_LIMIT_MB",
    "check_email",
    "clear_email_cache",
    "mask_email",
    "search_records",
    "validate_query",
]


#: The keywords sunpy shows by default; ``search`` asks for those the series has.
DEFAULT_KEYS = ("T_REC", "TELESCOP", "INSTRUME", "WAVELNTH", "CAR_ROT")
#: A generous upper bound on one record's size, used to skip the size check for small requests.
MAX_RECORD_MB = 2_000
#: JSOC's per-request export limit (``Request exceeds max byte limit of 100000MB``).
EXPORT_SIZE_LIMIT_MB = 100_000
_EMAIL_OK: dict[tuple[str, str], float] = {}
_EMAIL_OK_TTL = 3600.0
_EMAIL_LOCK = threading.Lock()


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


def clear_email_cache() -> None:
    """Forget which e-mails were found registered (they are cached for an hour per process and server)."""
    with _EMAIL_LOCK:
        _EMAIL_OK.clear()


def check_email(client: JsocClient, address: str) -> None:
    """Raise unless ``address`` is registered with JSOC (successes are cached for an hour).

    Args:
        client: The client for the server.
        address: The notify e-mail.

    Raises:
        InvalidEmailError: When the server says the address is malformed.
        UnregisteredEmailError: When it is unknown, or its registration is still pending.
    """
    key = (client.server_url, address.lower())
    with single_flight(("email", *key)):  # many blocks start at once: ask the server once
        with _EMAIL_LOCK:
            if time.monotonic() - _EMAIL_OK.get(key, -math.inf) < _EMAIL_OK_TTL:
                return
        _check_email_on_server(client, address, key)


def _check_email_on_server(client: JsocClient, address: str, key: tuple[str, str]) -> None:
    status, msg = client.check_email(address)
    shown = mask_email(address)
    if status == 2:
        with _EMAIL_LOCK:
            _EMAIL_OK[key] = time.monotonic()
        return
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
                f"Unexpected PrimeKeys were passed. The series {series} supports the following primekeys: "
                f"{primekeys}; {name!r} is not one of them."
            )
    if query.start is not None and not info.time_primekeys:
        raise InvalidTimeRangeError(
            f"The series {series} has no time prime key, so start/end cannot be used. Its prime keys are "
            f"{primekeys}; select records with primekeys instead."
        )
    if query.wavelength is not None and _ci(primekeys, "WAVELNTH") is None:
        raise InvalidWavelengthError(
            f"The series {series} does not support wavelength attribute. The following primekeys are "
            f"supported {primekeys}"
        )
    segments = list(info.segments)
    for seg in query.segments:
        if _ci(segments, seg) is None:
            raise UnknownSegmentError(
                f"Unexpected Segments were passed. The series {series} contains the following Segments "
                f"{segments}; {seg!r} is not one of them."
            )
    keywords = list(info.keywords)
    for flt in query.filters:
        if _ci(keywords, flt.name) is None:
            raise UnknownKeywordError(
                f"Keyword: '{flt.name}' is not supported by series: {series}. Its keywords include "
                f"{_listing(keywords, flt.name)}."
            )


def _checked_against_series(
    query: JsocQuery, settings: JsocSettings | None, client: JsocClient | None
) -> tuple[JsocSettings, JsocClient, SeriesInfo, JsocQuery]:
    """Check the query against its series' definition and attach the series' prime-key layout."""
    settings = JsocSettings.resolve(settings)
    client = client or JsocClient(settings)
    info = client.series_info(query.series)
    _check_against_series(query, info)
    return settings, client, info, query.with_layout(info.layout(query))


def validate_query(
    query: JsocQuery,
    settings: JsocSettings | None = None,
    *,
    client: JsocClient | None = None,
    check_size: bool = True,
) -> tuple[JsocQuery, int]:
    """Check a query against the server and return it with its series layout, plus its record count.

    Checks, in order: the series exists; prime keys, wavelength, segments and filter keywords
    belong to it; the record set is accepted (its record count); the estimated export size is
    under JSOC's 100 GB limit; and, when an e-mail is configured (or given on the query), that it
    is registered. Nothing is exported.

    Args:
        query: The query.
        settings: Settings; resolved when None.
        client: A client to reuse.
        check_size: Estimate the export size (one extra small ``rs_list`` call).

    Returns:
        ``(validated query, record count)``. The validated query carries the
        :class:`~prefect_jsoc.query.SeriesLayout`, so ``recordset()`` is exact.

    Raises:
        JsocValidationError: A subclass naming the bad value and listing the valid ones.
        JsocTransientError: When the server could not be reached.

    Example:
        ```python
        from prefect_jsoc import JsocQuery
        from prefect_jsoc.validation import validate_query
        q = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00", end="2014-01-01T00:05")
        checked, count = validate_query(q)
        print(checked.recordset(), count)
        ```
    """
    settings, client, info, validated = _checked_against_series(query, settings, client)
    recordset = validated.recordset()
    count = client.count(recordset)
    # Sampling record sizes costs a call; below this many records no JSOC record is large enough
    # (a full HMI SHARP record with all 31 segments is well under 2 GB) to reach the export limit.
    if check_size and count * MAX_RECORD_MB > EXPORT_SIZE_LIMIT_MB:
        sizes = client.record_sizes(recordset, n=min(count, 10))
        if sizes:
            per_record = sum(sizes) / len(sizes)
            estimate_mb = per_record * count / 1e6
            if estimate_mb > EXPORT_SIZE_LIMIT_MB:
                chunks = math.ceil(estimate_mb / (EXPORT_SIZE_LIMIT_MB * 0.8))
                raise ExportTooLargeError(
                    f"The export of {query.label} would be about {estimate_mb:,.0f} MB ({count} records of about "
                    f"{per_record / 1e6:,.1f} MB), above JSOC's limit of {EXPORT_SIZE_LIMIT_MB:,} MB per request. "
                    f"Split it into at least {chunks} parts with split_interval(query, every=...), or request "
                    "fewer segments."
                )
    address = query.notify or settings.email_address()
    if address:
        check_email(client, address)
    return validated, count


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
            raise UnknownKeywordError(
                f"Keywords can only be passed as a list or comma-separated strings; got {key!r}."
            )
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
    query: JsocQuery,
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
    settings, client, info, validated = _checked_against_series(query, settings, client)
    key_list = resolve_keys(keys, info)
    segments = [info.segment(s) or s for s in query.segments] or None
    table = client.query(validated.recordset(), key_list, segments, series=info)
    count = int(table.meta.get("count", len(table)))
    return SearchResult(query=validated, count=count, table=table, keywords=key_list)
