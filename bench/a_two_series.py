"""Scenario A: 2 series x 2 intervals under JSOC's rule (one pending export per e-mail), vs sunpy Fido.

hmi.m_45s magnetograms and hmi.ic_45s continuum images over two 3-minute intervals a day apart:
4 blocks, which ``jsoc_fetch`` packs into 2 exports (one per series); sunpy's ``Fido.fetch``
exports each block on its own (4 exports, one after the other). Also measured: ours with
``pack=False`` (4 exports), ours with 4 pending exports (a setting JSOC does not allow;
information only) and sunpy's ``JSOCClient.fetch`` on one OR response (a behaviour check). See
:mod:`bench._fetchrun` for the set-up and the fairness rules.
"""

from __future__ import annotations

from typing import Any

from bench._env import BenchContext
from bench._fetchrun import run_scenario
from bench._report import ScenarioResult

TITLE = "A. 2 series x 2 intervals, 1 pending export per e-mail (JSOC's rule), vs sunpy Fido"
SERIES = [("hmi.m_45s", "magnetogram"), ("hmi.ic_45s", "continuum")]
INTERVALS = 2
BAR = 0.35
EXPORTS = 2


def run(ctx: BenchContext, shared: dict[str, Any], *, with_sunpy: bool = True) -> ScenarioResult:
    return run_scenario(
        ctx,
        shared,
        key="A",
        title=TITLE,
        series=SERIES,
        days=INTERVALS,
        bar=BAR,
        exports_bar=EXPORTS,
        relaxed=True,
        year=2014,
        with_sunpy=with_sunpy,
    )
