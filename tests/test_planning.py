"""Packing blocks into exports: which blocks share one, the caps, and the canonical record set."""

from __future__ import annotations

import pytest

import prefect_jsoc.planning as planning
from prefect_jsoc import JsocQuery
from prefect_jsoc.planning import plan_exports
from prefect_jsoc.query import SeriesLayout, ValidatedQuery

HMI = SeriesLayout(
    primekeys=("T_REC", "CAMERA"), time_primekeys=("T_REC",), segments=("magnetogram",), slot_steps={"T_REC": 45}
)
SHARP = SeriesLayout(
    primekeys=("HARPNUM", "T_REC"), time_primekeys=("T_REC",), segments=("field",), slot_steps={"T_REC": 720}
)


@pytest.fixture(autouse=True)
def isolated_state_dir():
    """Pure tests: no Prefect result store or JSOC clients to isolate."""


def block(
    day: int,
    *,
    series: str = "hmi.M_45s",
    layout: SeriesLayout = HMI,
    records: int = 4,
    size_mb: float | None = 10.0,
    **fields,
) -> ValidatedQuery:
    fields.setdefault("segments", ["magnetogram"] if layout is HMI else ["field"])
    query = JsocQuery(series=series, start=f"2014-01-{day:02d}T00:00:00", end=f"2014-01-{day:02d}T00:03:00", **fields)
    return ValidatedQuery(query=query, layout=layout, record_count=records, size_mb=size_mb)


def test_blocks_that_differ_only_in_time_share_one_export() -> None:
    units = plan_exports([block(d) for d in range(1, 9)])
    assert len(units) == 1
    unit = units[0]
    assert len(unit.blocks) == 8
    assert unit.recordset.startswith(
        "hmi.M_45s[2014.01.01_00:00:35_TAI-2014.01.01_00:03:35_TAI,2014.01.02_00:00:35_TAI-2014.01.02_00:03:35_TAI,"
    )
    assert unit.recordset.endswith("2014.01.08_00:00:35_TAI-2014.01.08_00:03:35_TAI]{magnetogram}")
    assert unit.label == "hmi.M_45s 2014-01-01 00:00–00:03 +7 blocks"


def test_the_record_set_and_key_do_not_depend_on_the_order_of_the_blocks() -> None:
    forward = plan_exports([block(d) for d in (1, 2, 3)])[0]
    backward = plan_exports([block(d) for d in (3, 1, 2)])[0]
    assert forward.recordset == backward.recordset
    assert forward.cache_key() == backward.cache_key()


@pytest.mark.parametrize(
    ("other", "why"),
    [
        (dict(segments=[]), "other segments"),
        (dict(filters=["QUALITY=0"]), "a keyword filter"),
        (dict(protocol="as-is"), "another protocol"),
        (dict(sample="90s"), "a cadence"),
        (dict(series="hmi.m_720s"), "another series"),
    ],
)
def test_blocks_with_other_options_get_their_own_export(other: dict, why: str) -> None:
    units = plan_exports([block(1), block(2, **other)])
    assert [len(u.blocks) for u in units] == [1, 1], why


def test_blocks_that_differ_in_two_prime_keys_are_not_packed() -> None:
    a = block(1, series="hmi.sharp_720s", layout=SHARP, primekeys={"HARPNUM": 3856})
    b = block(2, series="hmi.sharp_720s", layout=SHARP, primekeys={"HARPNUM": 3858})
    c = block(1, series="hmi.sharp_720s", layout=SHARP, primekeys={"HARPNUM": 3858})
    units = plan_exports([a, b, c])
    # a and c differ only in HARPNUM, b differs from a in both keys: a+c share one export, b gets its own
    assert sorted(len(u.blocks) for u in units) == [1, 2]
    shared = next(u for u in units if len(u.blocks) == 2)
    assert shared.recordset.startswith("hmi.sharp_720s[3856,3858][2014.01.01_00:00:35_TAI-")


def test_tar_exports_and_overlapping_sampled_blocks_are_not_packed() -> None:
    assert len(plan_exports([block(1, method="url-tar"), block(2, method="url-tar")])) == 2
    early = block(1, sample="90s")
    overlapping = ValidatedQuery(
        query=JsocQuery(
            series="hmi.M_45s",
            start="2014-01-01T00:01:00",
            end="2014-01-01T00:05:00",
            segments=["magnetogram"],
            sample="90s",
        ),
        layout=HMI,
        record_count=3,
        size_mb=1.0,
    )
    assert len(plan_exports([early, overlapping])) == 2
    assert len(plan_exports([early, block(2, sample="90s")])) == 1  # apart in time: safe to pack


def test_blocks_with_different_notify_addresses_are_not_packed() -> None:
    units = plan_exports([block(1, notify="a@example.com"), block(2, notify="b@example.com")])
    assert len(units) == 2


def test_blocks_without_records_get_no_export() -> None:
    assert plan_exports([block(1, records=0), block(2, records=0)]) == []
    assert [len(u.blocks) for u in plan_exports([block(1, records=0), block(2)])] == [1]


def test_packing_stops_at_the_size_budget_the_record_cap_and_the_url_length(monkeypatch) -> None:
    big = [block(d, size_mb=30_000.0) for d in range(1, 5)]  # 4 x 30 GB: at most 2 under an 80 GB budget
    assert [len(u.blocks) for u in plan_exports(big)] == [2, 2]
    monkeypatch.setattr(planning, "MAX_PACKED_RECORDS", 10)
    assert [len(u.blocks) for u in plan_exports([block(d) for d in range(1, 7)])] == [2, 2, 2]
    monkeypatch.setattr(planning, "MAX_PACKED_RECORDS", 1_000_000)
    monkeypatch.setattr(planning, "MAX_RECORDSET_CHARS", 200)
    units = plan_exports([block(d) for d in range(1, 9)])
    assert all(len(u.recordset) <= 200 for u in units) and len(units) > 1
    assert sum(len(u.blocks) for u in units) == 8


def test_packing_can_be_turned_off() -> None:
    assert [len(u.blocks) for u in plan_exports([block(1), block(2)], pack=False)] == [1, 1]
