"""ValidatedQuery: prime-key items, pack signatures, packing several blocks, and giving records back to blocks."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from prefect_jsoc.errors import CannotPackError, JsocProtocolError, JsocValidationError, UnknownPrimeKeyError
from prefect_jsoc.query import JsocQuery, SeriesLayout, ValidatedQuery, pack_recordset, split_interval

DAY1 = dict(start="2014-01-01T00:00:00", end="2014-01-01T00:03:00")
DAY2 = dict(start="2014-01-02T00:00:00", end="2014-01-02T00:03:00")
DAY0 = dt.datetime(2014, 1, 1, tzinfo=dt.UTC)


def block(layout: SeriesLayout, series: str = "hmi.M_45s", **fields) -> ValidatedQuery:
    return ValidatedQuery(query=JsocQuery(series=series, **fields), layout=layout)


# -- the validated query -----------------------------------------------------------------------------


def test_a_validated_query_renders_against_its_layout(hmi):
    v = block(
        hmi, start="2014-01-01T00:00:00", end="2014-01-01T00:02:00", segments="magnetogram", notify="me@example.org"
    )
    assert v.primekey_items() == ("2014.01.01_00:00:35_TAI-2014.01.01_00:02:35_TAI", "")
    assert v.recordset() == "hmi.M_45s[2014.01.01_00:00:35_TAI-2014.01.01_00:02:35_TAI]{magnetogram}"
    assert (v.series, v.label, v.cache_key()) == (v.query.series, v.query.label, v.query.cache_key())
    assert v.query.notify_address() == "me@example.org" and "me@example.org" not in v.model_dump_json()
    back = ValidatedQuery.model_validate_json(v.model_dump_json())
    assert back.recordset() == v.recordset() and back.layout == hmi
    assert hash(v) == hash(ValidatedQuery(query=v.query, layout=hmi))
    later = v.model_copy(update={"query": JsocQuery(series="hmi.M_45s", **DAY2)})
    assert later.recordset() == "hmi.M_45s[2014.01.02_00:00:35_TAI-2014.01.02_00:03:35_TAI]"


def test_a_query_that_does_not_fit_the_layout_cannot_be_validated(sharp):
    with pytest.raises(UnknownPrimeKeyError, match=re.escape("'CAMERA', which is not a prime key of hmi.sharp_720s")):
        block(sharp, series="hmi.sharp_720s", primekeys={"CAMERA": 3})
    with pytest.raises(JsocValidationError, match="ValidatedQuery got an unknown option 'count'"):
        ValidatedQuery(query=JsocQuery(series="hmi.M_45s", **DAY1), layout=sharp, count=3)


def test_prime_key_items_follow_the_layout_order(aia, sharp):
    assert block(aia, "aia.lev1_euv_12s", wavelength=[193, 171], **DAY1).primekey_items() == (
        "2014.01.01_00:00:35_TAI-2014.01.01_00:03:35_TAI",
        "171,193",
    )
    assert block(sharp, "hmi.sharp_720s", primekeys={"HARPNUM": 4864}, **DAY1).primekey_items() == (
        "4864",
        "2014.01.01_00:00:35_TAI-2014.01.01_00:03:35_TAI",
    )


# -- pack signatures ---------------------------------------------------------------------------------


def test_blocks_differing_only_in_prime_key_values_share_a_signature(hmi, sharp):
    a = block(hmi, segments="magnetogram", filters="QUALITY=0", sample="90s", **DAY1)
    b = block(hmi, series="HMI.m_45s", segments=["magnetogram"], filters=[("QUALITY", "=", 0)], sample=90, **DAY2)
    assert a.pack_signature() == b.pack_signature() and len(a.pack_signature()) == 32
    h1 = block(sharp, "hmi.sharp_720s", primekeys={"HARPNUM": 1}, **DAY1)
    h2 = block(sharp, "hmi.sharp_720s", primekeys={"HARPNUM": 2}, **DAY2)
    assert h1.pack_signature() == h2.pack_signature()


@pytest.mark.parametrize(
    "change",
    [
        dict(series="hmi.V_45s"),
        dict(segments="field"),
        dict(filters="QUALITY=1"),
        dict(protocol="as-is"),
        dict(method="url-tar"),
        dict(sample="45s"),
        dict(cutout=dict(x=0, y=0, width=10, height=10)),
    ],
    ids=lambda change: "+".join(change),
)
def test_blocks_differing_in_anything_else_do_not(hmi, change):
    base = dict(series="hmi.M_45s", segments="magnetogram", **DAY1)
    assert block(hmi, **{**base, **change}).pack_signature() != block(hmi, **base).pack_signature()


def test_a_cutout_packs_only_with_the_same_reference_time(hmi):
    box = dict(x=0, y=0, width=10, height=10)
    # without t_ref each block's cut-out is centred at its own start: different processing
    assert block(hmi, cutout=box, **DAY1).pack_signature() != block(hmi, cutout=box, **DAY2).pack_signature()
    fixed = dict(box, t_ref="2014-01-01T00:00:00")
    assert block(hmi, cutout=fixed, **DAY1).pack_signature() == block(hmi, cutout=fixed, **DAY2).pack_signature()


def test_a_different_layout_changes_the_signature(hmi):
    other = SeriesLayout(primekeys=("T_REC",), time_primekeys=("T_REC",))
    assert block(hmi, **DAY1).pack_signature() != block(other, **DAY1).pack_signature()


# -- packing -----------------------------------------------------------------------------------------


def test_time_blocks_pack_into_one_comma_list(hmi):
    blocks = [
        block(hmi, segments="magnetogram", **DAY1),
        block(hmi, segments="magnetogram", **DAY2),
        block(hmi, segments="magnetogram", **DAY1),
    ]
    assert pack_recordset(blocks) == (
        "hmi.M_45s[2014.01.01_00:00:35_TAI-2014.01.01_00:03:35_TAI,"
        "2014.01.02_00:00:35_TAI-2014.01.02_00:03:35_TAI]{magnetogram}"
    )
    assert pack_recordset(blocks[:1]) == blocks[0].recordset()
    assert pack_recordset([blocks[0], blocks[2]]) == blocks[0].recordset()


def test_wavelength_and_harp_blocks_pack_in_input_order(aia, sharp):
    waves = [block(aia, "aia.lev1_euv_12s", wavelength=w, **DAY1) for w in (304, 171, 193)]
    assert pack_recordset(waves) == "aia.lev1_euv_12s[2014.01.01_00:00:35_TAI-2014.01.01_00:03:35_TAI][304,171,193]"
    harps = [block(sharp, "hmi.sharp_720s", primekeys={"HARPNUM": n}, **DAY1) for n in (4865, 4864)]
    assert pack_recordset(harps) == "hmi.sharp_720s[4865,4864][2014.01.01_00:00:35_TAI-2014.01.01_00:03:35_TAI]"


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        (lambda hmi, aia: [], "pack_recordset needs at least one block."),
        (
            lambda hmi, aia: [block(hmi, segments="magnetogram", **DAY1), block(hmi, **DAY2)],
            "cannot share an export with hmi.M_45s 2014-01-01 00:00–00:03: their segments differ. Export them "
            "separately.",
        ),
        (
            lambda hmi, aia: [block(hmi, **DAY1), block(hmi, series="hmi.V_45s", protocol="as-is", **DAY2)],
            "their series, protocol, method differ",
        ),
        (
            lambda hmi, aia: [block(hmi, **DAY1), block(hmi, primekeys={"CAMERA": 2}, **DAY2)],
            "The blocks differ in more than one prime key (T_REC, CAMERA); a single record set can list the values "
            "of only one. Export them separately.",
        ),
        (
            lambda hmi, aia: [
                block(aia, "aia.lev1_euv_12s", wavelength=171, **DAY1),
                block(aia, "aia.lev1_euv_12s", **DAY1),
            ],
            "A block selects WAVELNTH=(any value), which cannot be told apart from the other blocks' records",
        ),
        (
            lambda hmi, aia: [
                block(hmi, primekeys={"T_REC": "$"}),
                block(hmi, primekeys={"T_REC": "2014.01.01_00:00_TAI"}),
            ],
            "A block selects T_REC=$, which cannot be told apart",
        ),
        (
            lambda hmi, aia: [
                block(hmi, start=DAY0 + dt.timedelta(days=n), end=DAY0 + dt.timedelta(days=n, minutes=1))
                for n in range(200)
            ],
            "characters once URL-encoded; at most 6,000 fit in an export request. Pack fewer blocks together.",
        ),
    ],
)
def test_blocks_that_cannot_share_an_export_are_refused(hmi, aia, blocks, message):
    with pytest.raises(CannotPackError, match=re.escape(message)) as info:
        pack_recordset(blocks(hmi, aia))
    assert not isinstance(info.value, JsocValidationError)  # a planning outcome, not bad input


# -- giving records back to their blocks --------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["2014.01.01_00:00:00_TAI", "2"], False),  # its slot (-22.5 s .. 22.5 s) ends before 00:00:35
        (["2014.01.01_00:00:45_TAI", "2"], True),
        (["2014.01.01_00:03:45_TAI", "3"], True),  # after 00:03:35, but its slot contains it: DRMS returns it
        (["2014.01.01_00:04:30_TAI", "2"], False),
        (["2014-01-01T00:03:10Z", "2"], True),  # the same instant in UTC
        ("hmi.M_45s[2014.01.01_00:01:30_TAI][2]{magnetogram}", True),
        ("HMI.M_45S[2014.01.01_00:01:30_TAI][2]", True),
        ("hmi.V_45s[2014.01.01_00:01:30_TAI][2]", False),
    ],
)
def test_selects_on_hmi(hmi, values, expected):
    assert block(hmi, **DAY1).selects(values) is expected


def test_without_slot_steps_times_compare_exactly(hmi):
    plain = hmi.model_copy(update={"slot_steps": ()})
    assert block(plain, **DAY1).selects(["2014.01.01_00:03:35_TAI", "2"])
    assert not block(plain, **DAY1).selects(["2014.01.01_00:03:45_TAI", "2"])


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["2014-01-01T00:00:01Z", "171"], True),  # 00:00:36 TAI, the slot holding 00:00:35 TAI
        (["2013-12-31T23:59:49Z", "171"], False),  # 00:00:24 TAI, the slot before
        (["2014-01-01T00:03:01Z", "171"], True),  # 00:03:36 TAI, the slot holding the end
        (["2014-01-01T00:03:13Z", "171"], False),
        (["2014-01-01T00:01:01Z", "171.0"], True),
        (["2014-01-01T00:01:01Z", "193"], True),
        (["2014-01-01T00:01:01Z", "304"], False),
    ],
)
def test_selects_on_aia(aia, values, expected):
    assert block(aia, "aia.lev1_euv_12s", wavelength=[171, 193], **DAY1).selects(values) is expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["4864", "2014.01.01_00:00:00_TAI"], True),  # slot 23:54-00:06 holds the start 00:00:35
        (["4864", "2014.01.01_01:00:00_TAI"], True),
        (["4864", "2014.01.01_01:12:00_TAI"], False),
        (["4864", "2013.12.31_23:48:00_TAI"], False),
        (["4865", "2014.01.01_00:12:00_TAI"], False),
    ],
)
def test_selects_on_sharp(sharp, values, expected):
    v = block(
        sharp, "hmi.sharp_720s", primekeys={"HARPNUM": 4864}, start="2014-01-01T00:00:00", end="2014-01-01T01:00:00"
    )
    assert v.selects(values) is expected


@pytest.mark.parametrize(
    ("item", "value", "expected"),
    [
        ("4860-4870", "4864", True),
        ("4860-4870", "4871", False),
        ("4864/3", "4866", True),
        ("4864/3", "4867", False),
        ("4864,4866", "4866", True),
        ("4864,4866", "4865", False),
        ("$", "9999", True),
    ],
)
def test_selects_reads_ranges_and_lists_of_values(sharp, item, value, expected):
    v = block(sharp, "hmi.sharp_720s", primekeys={"HARPNUM": item})
    assert v.selects([value, "2014.01.01_00:00:00_TAI"]) is expected


@pytest.mark.parametrize(
    ("item", "value", "expected"),
    [
        ("2014.01.01_00:00:00_TAI", "2014.01.01_00:00:00_TAI", True),
        ("2014.01.01_00:05:00_TAI", "2014.01.01_00:00:00_TAI", True),  # in the same 720 s slot
        ("2014.01.01_00:06:00_TAI", "2014.01.01_00:00:00_TAI", False),
        ("2014.01.01_00:00_TAI/1h", "2014.01.01_00:48:00_TAI", True),
        ("2014.01.01_00:00_TAI/1h", "2014.01.01_01:00:00_TAI", False),  # a/d excludes the slot of a+d
        ("2014-01-01T00:00:00Z-2014-01-01T01:00:00Z@24m", "2014.01.01_01:00:00_TAI", True),
    ],
)
def test_selects_reads_time_items_given_as_prime_keys(sharp, item, value, expected):
    v = block(sharp, "hmi.sharp_720s", primekeys={"HARPNUM": 4864, "T_REC": item})
    assert v.selects(["4864", value]) is expected


def test_each_record_of_split_chunks_belongs_to_exactly_one_chunk(sharp):
    q = JsocQuery(series="hmi.sharp_720s", primekeys={"HARPNUM": 4864}, start="2014-01-01", end="2014-01-02")
    chunks = [ValidatedQuery(query=c, layout=sharp) for c in split_interval(q, "6h")]
    slots = [(DAY0 + dt.timedelta(minutes=m)).strftime("%Y.%m.%d_%H:%M:%S_TAI") for m in range(-24, 1464, 12)]
    owners = {t: [i for i, c in enumerate(chunks) if c.selects(["4864", t])] for t in slots}
    assert all(len(owners[t]) == 1 for t in slots[2:-2])  # 2014.01.01_00:00 .. 2014.01.02_00:00
    assert owners["2014.01.01_06:00:00_TAI"] == [1]


def test_selects_needs_one_value_per_prime_key(hmi):
    with pytest.raises(
        JsocProtocolError,
        match=re.escape(
            "A record of hmi.M_45s was given 1 prime-key values ['2014.01.01_00:00:45_TAI'], but the series has 2 "
            "prime keys (T_REC, CAMERA)."
        ),
    ):
        block(hmi, **DAY1).selects(["2014.01.01_00:00:45_TAI"])
