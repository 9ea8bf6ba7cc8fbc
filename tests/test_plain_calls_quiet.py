"""A plain task call, as in a notebook, prints the result and Prefect's run line, and nothing else."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.usefixtures("prefect_harness")

# Prefect's own console line for a finished task run: what a user of Prefect tasks expects to see.
_PREFECT_RUN_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} \| INFO +\| Task run '.+' - Finished in state Completed\(\)$")

_NOTEBOOK_CELLS = textwrap.dedent(
    """
    import sunpy.net  # imports drms first, which configures the root logger at INFO
    from prefect_jsoc import JsocQuery, search

    q = JsocQuery(series="hmi.v_45s", start="2014-01-01T00:00:00", end="2014-01-01T01:00:00")
    print(search(q).count)
    """
)


def test_a_plain_search_prints_only_its_result_and_prefects_run_line(jsoc_emulator) -> None:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_JSOC_SERVER_URL": jsoc_emulator.url}
    env.pop("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", None)  # the suite silences it; a user has Prefect's default
    env.pop("PYTHONWARNINGS", None)
    done = subprocess.run([sys.executable, "-c", _NOTEBOOK_CELLS], env=env, capture_output=True, text=True, timeout=240)

    assert done.returncode == 0, done.stderr
    assert done.stdout == "81\n"
    noise = [line for line in done.stderr.splitlines() if not _PREFECT_RUN_LINE.match(line)]
    assert noise == [], "a plain search(q) printed more than its result:\n" + done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
