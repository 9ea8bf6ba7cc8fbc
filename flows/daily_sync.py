"""Daily incremental sync: fetch the previous UTC day of one or more series.

The day is derived from the run's *scheduled* start time, not the clock, so a late run, a retry or
a back-filled run (``prefect deployment run ... --start-in`` / ``run_deployment(scheduled_time=...)``)
fetches the day it was scheduled for. Re-running a day re-attaches to the same JSOC exports and
downloads only what is missing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from prefect_jsoc.flows import jsoc_fetch
from prefect_jsoc.query import or_queries
from prefect_jsoc.results import FetchResult


def previous_day_window(reference: datetime) -> tuple[datetime, datetime]:
    """The UTC day before ``reference``: ``[00:00 of the previous day, 00:00 of reference's day)``.

    Args:
        reference: A scheduled time; naive datetimes are taken as UTC.

    Returns:
        ``(start, end)``, both timezone-aware UTC, ``end`` excluded.
    """
    if reference.tzinfo is None:
        reference = reference.replace(tzinfo=UTC)
    reference = reference.astimezone(UTC)
    end = datetime(reference.year, reference.month, reference.day, tzinfo=UTC)
    return end - timedelta(days=1), end


def _scheduled_time() -> datetime:
    scheduled = flow_run.scheduled_start_time
    return scheduled if scheduled is not None else datetime.now(UTC)


@flow(name="jsoc-daily-sync", flow_run_name="daily-sync · {series}")
def daily_sync(
    series: list[str] = ["hmi.m_720s"],  # noqa: B006 - Prefect parameters are copied per run
    segments: list[str] | None = ["magnetogram"],  # noqa: B006
    sample: str | None = None,
    wavelength: float | None = None,
    protocol: str = "fits",
    path: str = "data/daily",
    reference_time: datetime | None = None,
) -> FetchResult:
    """Fetch the UTC day before the run's scheduled time for every series.

    Args:
        series: Series to sync.
        segments: Segments to export (``None`` for all).
        sample: Optional cadence, e.g. ``"1h"``.
        wavelength: Optional wavelength in Å (AIA series).
        protocol: ``fits`` or ``as-is``.
        path: Download directory; each day goes to ``<path>/<YYYY-MM-DD>``.
        reference_time: Overrides the scheduled time (for back-fills by hand).

    Returns:
        The ``FetchResult`` of the day.
    """
    start, end = previous_day_window(reference_time or _scheduled_time())
    get_run_logger().info("Syncing %s for %s .. %s (UTC).", ", ".join(series), start.isoformat(), end.isoformat())
    # end_inclusive=False: a record exactly at midnight belongs to the next day's run, not to both.
    options: dict = {"protocol": protocol, "end_inclusive": False}
    if segments:
        options["segments"] = segments
    if sample:
        options["sample"] = sample
    if wavelength is not None:
        options["wavelength"] = wavelength
    queries = or_queries(series=series, intervals=[(start, end)], **options)
    return jsoc_fetch(queries, path=f"{path.rstrip('/')}/{start:%Y-%m-%d}")
