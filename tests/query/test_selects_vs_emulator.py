"""``selects`` agrees with the DRMS record-set rules, record by record, for the emulator's HMI, AIA and SHARP series.

The truth is the emulator's record-set parser (``prefect_jsoc.emulator.recordset``): a separate
product that imports nothing from the rest of the package, and whose slot rules follow DRMS. Queries
are drawn from a seeded generator (reproducible), with bounds at every phase of a slot.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest

from prefect_jsoc.emulator.catalog import find_series
from prefect_jsoc.emulator.records import record_name
from prefect_jsoc.emulator.recordset import parse_recordset
from prefect_jsoc.query import JsocQuery, SeriesLayout, ValidatedQuery, pack_recordset

DAY = dt.datetime(2014, 11, 28, tzinfo=dt.UTC)  # HARPs 4860-4870 are active around this day


def layout_of(series: str) -> SeriesLayout:
    s = find_series(series)
    return SeriesLayout(
        primekeys=s.primekeys, time_primekeys=(s.time_key.name,), slot_steps={s.time_key.name: s.time_key.step}
    )


def exported(recordset: str) -> set[str]:
    rs = parse_recordset(recordset)
    return {record_name(rs.series, rec) for rec in rs.records()}


def candidates(series: str, start: dt.datetime, end: dt.datetime) -> set[str]:
    """Every record of the series near the range, whatever its other prime key."""
    step = find_series(series).time_key.step
    wide = JsocQuery(
        series=series, start=start - dt.timedelta(seconds=3 * step), end=end + dt.timedelta(seconds=3 * step)
    )
    return exported(wide.recordset(layout_of(series)))


def random_query(rng: random.Random, series: str) -> JsocQuery:
    step = find_series(series).time_key.step
    start = DAY + dt.timedelta(seconds=rng.uniform(0, 86400))
    length = dt.timedelta(seconds=rng.choice([0, rng.uniform(0, step), rng.uniform(step, 6 * step)]))
    extra: dict = {}
    if series.startswith("aia"):
        extra["wavelength"] = rng.sample([94, 131, 171, 193, 211, 304, 335], rng.choice([1, 2]))
    if series == "hmi.sharp_720s":
        extra["primekeys"] = {"HARPNUM": rng.choice(["4864", "4865", "4860-4866", "4864,4867"])}
    return JsocQuery(
        series=series, start=start, end=start + length, end_inclusive=not length or rng.random() < 0.7, **extra
    )


@pytest.mark.parametrize("series", ["hmi.M_45s", "hmi.M_720s", "aia.lev1_euv_12s", "hmi.sharp_720s"])
def test_selects_matches_the_records_drms_returns(series):
    rng = random.Random(f"selects-{series}")
    layout = layout_of(series)
    checked = 0
    for _ in range(60):
        q = random_query(rng, series)
        v = ValidatedQuery(query=q, layout=layout)
        truth = exported(v.recordset())
        for record in candidates(series, q.start, q.end):
            assert v.selects(record) == (record in truth), (v.recordset(), record)
            checked += 1
    assert checked > 300


def test_records_of_a_packed_export_go_back_to_the_blocks_that_asked_for_them():
    rng = random.Random("packed")
    layout = layout_of("hmi.M_45s")
    for _ in range(20):
        blocks = []
        for _ in range(rng.randint(2, 4)):
            start = DAY + dt.timedelta(seconds=rng.uniform(0, 3600))
            end = start + dt.timedelta(seconds=rng.uniform(30, 400))
            blocks.append(
                ValidatedQuery(
                    query=JsocQuery(series="hmi.M_45s", start=start, end=end, segments="magnetogram"), layout=layout
                )
            )
        packed = exported(pack_recordset(blocks))
        assert packed == set().union(*(exported(b.recordset()) for b in blocks))
        for record in packed:
            owners = {i for i, b in enumerate(blocks) if b.selects(record)}
            assert owners == {i for i, b in enumerate(blocks) if record in exported(b.recordset())}
            assert owners, record
