"""Packed exports against the emulator: one export for many blocks, files back to their blocks, fallback."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from astropy.io import fits
from jsoc_test_support import requests

from prefect_jsoc import JsocQuery
from prefect_jsoc.flows import jsoc_fetch
from prefect_jsoc.query import parse_time

pytestmark = pytest.mark.usefixtures("prefect_harness")


def days(n: int, minutes: int = 3) -> list[JsocQuery]:
    return [
        JsocQuery(
            series="hmi.M_45s",
            start=f"2014-01-{d:02d}T00:00:00",
            end=f"2014-01-{d:02d}T00:{minutes:02d}:00",
            segments=["magnetogram"],
        )
        for d in range(1, n + 1)
    ]


def t_rec(path: Path):
    with fits.open(path) as hdul:
        return parse_time(hdul[-1].header["T_REC"])


def test_eight_days_of_one_series_are_one_export_and_each_block_gets_its_own_files(emu, settings, tmp_path):
    blocks = days(8)
    result = jsoc_fetch(blocks, path=str(tmp_path), settings=settings)

    assert result.ok
    assert emu.stats()["exports_submitted"] == 1 and requests(emu, "jsoc_fetch:exp_request") == 1
    assert len(result.request_ids) == 1
    for query, block in zip(blocks, result.blocks):
        assert block.shared_export and block.records == len(block.files) > 0
        for path in block.files:  # every file of a block is a record of that block's own day
            assert query.start.date() == t_rec(path).date()
    assert len(result.files) == sum(b.records for b in result.blocks)


def test_a_packed_export_the_server_refuses_falls_back_to_one_export_per_block(emu, settings, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    blocks = days(2)  # 5 records each: a packed export of 10 records
    emu.configure(max_export_records=7)  # JSOC: "too many records in one request"

    result = jsoc_fetch(blocks, path=str(tmp_path), settings=settings)

    assert result.ok and [len(b.files) for b in result.blocks] == [5, 5]
    assert len(set(result.request_ids)) == 2 and not any(b.shared_export for b in result.blocks)
    assert requests(emu, "jsoc_fetch:exp_request") == 3  # the refused packed request, then one per block
    assert emu.stats()["exports_submitted"] == 2
    assert "JSOC refused the packed export of 2 blocks of hmi.M_45s" in caplog.text


def test_overlapping_blocks_share_files_that_are_downloaded_and_counted_once(emu, settings, tmp_path):
    a = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00:00", end="2014-01-01T00:03:00", segments=["magnetogram"])
    b = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:02:00", end="2014-01-01T00:05:00", segments=["magnetogram"])

    result = jsoc_fetch([a, b], path=str(tmp_path), settings=settings)

    shared = set(result.blocks[0].files) & set(result.blocks[1].files)
    assert shared, "the two ranges overlap, so some records belong to both blocks"
    assert len(result.files) == len(set(result.blocks[0].files) | set(result.blocks[1].files))
    assert requests(emu, "file:GET") == len(result.files)  # a shared file is fetched once
    assert result.total_bytes == sum(p.stat().st_size for p in result.files)


def test_a_cached_export_the_server_forgot_is_staged_again_once(emu, settings, tmp_path):
    blocks = days(2)
    first = jsoc_fetch(blocks, path=str(tmp_path / "one"), settings=settings)
    emu.forget_exports()  # JSOC restarted, or purged the export after 7 days

    second = jsoc_fetch(blocks, path=str(tmp_path / "two"), settings=settings)
    third = jsoc_fetch(blocks, path=str(tmp_path / "three"), settings=settings)

    assert second.ok and third.ok
    assert second.request_ids != first.request_ids  # a new export replaced the forgotten one...
    assert third.request_ids == second.request_ids  # ...and the cache now points at it
    assert emu.stats()["exports_submitted"] == 2
