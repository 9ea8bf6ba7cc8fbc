"""Scenario B: 1 series x 8 intervals under JSOC's rule (one pending export per e-mail), vs sunpy Fido.

hmi.m_45s magnetograms, 3 minutes on each of 8 days: 8 blocks, which ``jsoc_fetch`` packs into
one export with a DRMS comma list of time ranges; sunpy's ``Fido.fetch`` makes 8 exports, one
after the other. Ours with ``pack=False`` (8 exports) shows what packing saves. See
:mod:`bench._fetchrun` for the set-up and the fairness rules.
"""

from __future__ import annotations

from typing import Any

from bench._env import BenchContext
from bench._fetchrun import run_scenario
from bench._report import ScenarioResult

TITLE = "B. 1 series x 8 intervals (8 days), 1 pending export per e-mail, vs sunpy Fido"
SERIES = [("hmi.m_45s", "magnetogram")]
INTERVALS = 8
BAR = 0.2
EXPORTS = 1


def run(ctx: BenchContext, shared: dict[str, Any], *, with_sunpy: bool = True) -> ScenarioResult:
    return run_scenario(
        ctx,
        shared,
        key="B",
        title=TITLE,
        series=SERIES,
        days=INTERVALS,
        bar=BAR,
        exports_bar=EXPORTS,
        relaxed=False,
        year=2015,
        with_sunpy=with_sunpy,
    )
