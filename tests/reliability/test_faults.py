"""A multi-block fetch through a faulty JSOC completes, loses nothing and duplicates nothing.

The emulator injects (seeded, so every run sees the same sequence): HTTP 500 on 20% of CGI calls,
truncated bodies on 10% and dropped connections on 10% of file downloads, the transient
``Cant save new export-request hash`` status 4 on 30% of export submissions, and slow staging.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from prefect_jsoc import JsocSettings
from prefect_jsoc.downloads import RECORD_DIR
from prefect_jsoc.emulator import JsocEmulator
from prefect_jsoc.flows import Interval, QueryGrid, jsoc_fetch

from ._support import DirectoryWatcher, fits_problem, served_files

pytestmark = pytest.mark.usefixtures("prefect_harness")

#: Chosen so that every fault kind fires within the first few draws of its generator (see the
#: emulator's FaultInjector: one seeded generator per fault kind).
SEED = 49
FAULTS = dict(
    fail_rate=0.2, truncate_rate=0.1, drop_rate=0.1, status4_rate=0.3, export_delay=1.5, latency=0.01, seed=SEED
)

GRID = QueryGrid(
    series=["hmi.m_45s", "hmi.v_45s"],
    intervals=[
        Interval(start="2014-01-01T00:00:00", end="2014-01-01T00:02:00"),
        Interval(start="2014-01-01T06:00:00", end="2014-01-01T06:02:00"),
    ],
)


def test_or_query_through_a_faulty_server_is_complete_valid_and_byte_identical(
    emu: JsocEmulator, settings: JsocSettings, tmp_path: Path
) -> None:
    target = tmp_path / "data"
    target.mkdir()
    emu.configure(**FAULTS)
    fetch_settings = settings.model_copy(update={"max_connections": 2})

    with DirectoryWatcher(target) as watcher:
        result = jsoc_fetch(GRID, path=str(target), settings=fetch_settings)

    stats = emu.stats()
    # Every fault kind really happened.
    for kind in ("http_500", "truncate", "drop", "status4"):
        assert stats["faults"].get(kind, 0) > 0, (kind, stats["faults"])
    # ... and the fetch is complete: every block, every record, one file each.
    assert result.ok, [(b.label, b.failed_step, b.error) for b in result.failed]
    assert len(result.blocks) == 4
    for block in result.blocks:
        assert block.records == 3 and len(block.files) == 3, block
    # No duplicate export: status 4 and HTTP 500 replies create none, and retries of a submission
    # that did reach the server get the same request id back. Each series' two intervals share one
    # packed export.
    assert stats["exports_submitted"] == len(result.request_ids) == 2
    for series in GRID.series:
        assert len({b.request_id for b in result.blocks if b.series == series}) == 1
    assert stats["max_pending_per_email"] <= 1

    # Nothing partial under a final name, ever: the watcher saw each file only at its final size.
    assert watcher.seen, "the watcher saw no file at all"
    assert watcher.partial_sightings() == {}
    names = sorted(p.name for p in target.iterdir() if p.name != RECORD_DIR)  # all but the verification records
    assert names == sorted(p.name for p in result.files)  # no .part or .lock left

    # Each file is valid FITS and byte-identical to what the emulator serves for that export.
    for request_id in result.request_ids:  # a packed export's files are shared out to its blocks
        served = served_files(emu, request_id)
        assert sorted(served) == sorted(p.name for b in result.blocks if b.request_id == request_id for p in b.files)
    for block in result.blocks:
        served = served_files(emu, block.request_id)
        for path in block.files:
            assert fits_problem(path) is None, (path, fits_problem(path))
            assert path.read_bytes() == served[path.name], path
