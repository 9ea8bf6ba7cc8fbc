"""The query options that ``search`` and ``fetch`` share (declared once here), and the blocks they describe."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Annotated, Any

import typer

__all__ = ["QueryOptions", "build_queries", "parse_segments", "with_query_options"]


def parse_segments(values: list[str], series: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Split ``--segment`` values into segments for every series and segments for one series.

    Each value is ``NAME[,NAME...]`` (for every series) or ``SERIES:NAME[,NAME...]`` (for that series
    only), e.g. ``--segment magnetogram`` or ``--segment hmi.v_45s:Dopplergram``.

    Args:
        values: The ``--segment`` values as given.
        series: The series of the command.

    Returns:
        ``(common, per_series)``: names for every series, and names per series (keys lower-case).

    Raises:
        typer.BadParameter: When a value names a series the command does not have.
    """
    known = {name.lower(): name for name in series}
    common: list[str] = []
    per_series: dict[str, list[str]] = {}
    for value in values:
        target, sep, names = value.rpartition(":")
        parsed = [name.strip() for name in names.split(",") if name.strip()]
        if not sep:
            common += parsed
            continue
        if target.strip().lower() not in known:
            raise typer.BadParameter(
                f"--segment {value!r} is for series {target!r}, which is not one of this command's series "
                f"({', '.join(series)}); write SERIES:NAME with one of them, or NAME for every series."
            )
        per_series.setdefault(target.strip().lower(), []).extend(parsed)
    return common, per_series


def _parse_pairs(values: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for text in values:
        name, sep, value = text.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"{what} {text!r} must look like NAME=VALUE, e.g. HARPNUM=4864.")
        pairs[name.strip()] = value.strip()
    return pairs


def _parse_intervals(start: str | None, end: str | None, intervals: list[str]) -> list[tuple[str, str]]:
    spans = []
    if start or end:
        if not (start and end):
            raise typer.BadParameter("give both --start and --end (or use --interval START/END).")
        spans.append((start, end))
    for text in intervals:
        a, sep, b = text.partition("/")
        if not sep:
            raise typer.BadParameter(
                f"interval {text!r} must look like START/END, e.g. 2014-01-01T00:00/2014-01-01T01:00."
            )
        spans.append((a, b))
    return spans


@dataclass(frozen=True)
class QueryOptions:
    """What the shared options of ``search`` and ``fetch`` say about the blocks."""

    series: list[str]
    start: str | None = None
    end: str | None = None
    interval: list[str] | None = None
    sample: str | None = None
    wavelength: str | None = None
    segment: list[str] | None = None
    keyword: list[str] | None = None
    primekey: list[str] | None = None


def build_queries(options: QueryOptions, **extra: Any) -> list[Any]:
    """The blocks described by the CLI options: every series over every interval.

    Args:
        options: The shared query options.
        **extra: Further ``JsocQuery`` fields for every block (``protocol``, ``method``).

    Returns:
        The ``JsocQuery`` blocks, series-major.
    """
    from prefect_jsoc.query import JsocQuery, KeywordFilter, or_queries

    common: dict[str, Any] = {key: value for key, value in extra.items() if value}
    if options.sample:
        common["sample"] = options.sample
    if options.wavelength:
        common["wavelength"] = options.wavelength
    if options.keyword:
        common["filters"] = [KeywordFilter.parse(text) for text in options.keyword]
    if options.primekey:
        common["primekeys"] = _parse_pairs(options.primekey, "prime key")
    every_series, per_series = parse_segments(options.segment or [], options.series)
    spans = _parse_intervals(options.start, options.end, options.interval or [])
    queries: list[Any] = []
    for name in options.series:
        segments = every_series + per_series.get(name.lower(), [])
        fields_ = dict(common, segments=segments) if segments else common
        queries += or_queries(series=name, intervals=spans, **fields_) if spans else [JsocQuery(series=name, **fields_)]
    return queries


_QUERY_OPTION_TYPES: dict[str, Any] = {
    "series": Annotated[
        list[str],
        typer.Argument(
            metavar="SERIES", show_default=False, help="One or more DRMS series, e.g. hmi.m_45s aia.lev1_euv_12s."
        ),
    ],
    "start": Annotated[
        str | None, typer.Option(metavar="TIME", help="Start time (UTC unless it says TAI), e.g. 2014-01-01T00:00:00.")
    ],
    "end": Annotated[str | None, typer.Option(metavar="TIME", help="End time, e.g. 2014-01-01T01:00:00.")],
    "interval": Annotated[
        list[str] | None,
        typer.Option("--interval", metavar="START/END", help="A time interval; repeat for an OR over intervals."),
    ],
    "sample": Annotated[str | None, typer.Option(metavar="CADENCE", help="Cadence, e.g. 12s, 10m, 1h.")],
    "wavelength": Annotated[
        str | None,
        typer.Option(metavar="WAVELENGTH", help="Wavelength with a spectral unit, e.g. '171 Angstrom' or '17.1 nm'."),
    ],
    "segment": Annotated[
        list[str] | None,
        typer.Option(
            "--segment",
            metavar="[SERIES:]NAME",
            help="Segment(s) to export, for every series or, as SERIES:NAME, for one; repeat or comma-separate.",
        ),
    ],
    "keyword": Annotated[
        list[str] | None,
        typer.Option("--keyword", metavar="FILTER", help="Keyword filter like QUALITY=0 or EXPTIME>2; repeatable."),
    ],
    "primekey": Annotated[
        list[str] | None,
        typer.Option("--primekey", metavar="NAME=VALUE", help="Prime-key value like HARPNUM=4864; repeatable."),
    ],
}


def with_query_options(command_function: Callable[..., None]) -> Callable[..., None]:
    """Give a command the shared query options; it receives them as one ``query: QueryOptions``."""
    own = [p for p in inspect.signature(command_function, eval_str=True).parameters.values() if p.name != "query"]
    names = [f.name for f in fields(QueryOptions)]
    shared = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=_QUERY_OPTION_TYPES[name],
            default=inspect.Parameter.empty if name == "series" else None,
        )
        for name in names
    ]
    parameters = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]

    def run(**values: Any) -> None:
        query = QueryOptions(**{name: values.pop(name) for name in names})
        command_function(query=query, **values)

    run.__name__ = command_function.__name__
    run.__doc__ = command_function.__doc__
    run.__signature__ = inspect.Signature(shared + parameters)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in shared + parameters}
    return run
