"""Bad input fails fast: a typed error naming the problem, before any export; one line from the CLI.

One table drives both tests. Each row is a way to get a fetch wrong, the ``JsocQuery`` fields (or
settings) that do it through the library, the command-line arguments that do it through
``prefect-jsoc fetch`` (when the CLI can express it), the expected
:class:`~prefect_jsoc.errors.JsocValidationError` subclass, and a pattern the message must match
(it names the bad value).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import astropy.units as u
import pytest
from typer.testing import CliRunner

from prefect_jsoc import JsocQuery, JsocSettings
from prefect_jsoc.cli import app
from prefect_jsoc.emulator import JsocEmulator
from prefect_jsoc.errors import (
    EmptyQueryError,
    ExportTooLargeError,
    IncompatibleOptionsError,
    InvalidEmailError,
    InvalidKeywordFilterError,
    InvalidOptionError,
    InvalidSampleError,
    InvalidSeriesError,
    InvalidTimeRangeError,
    InvalidWavelengthError,
    JsocValidationError,
    UnknownKeywordError,
    UnknownPrimeKeyError,
    UnknownSegmentError,
    UnknownSeriesError,
    UnregisteredEmailError,
)
from prefect_jsoc.flows import jsoc_fetch

pytestmark = pytest.mark.usefixtures("prefect_harness")

START, END = "2014-01-01T00:00:00", "2014-01-01T00:02:00"
TIMES = dict(start=START, end=END)
CLI_TIMES = ["--start", START, "--end", END]
UNREGISTERED = r"The notify e-mail s\*\*\*@unregistered\.net is not registered with JSOC \(status 4\)\."


@dataclass(frozen=True)
class Bad:
    """One bad input: how to give it to the library and to the CLI, and what must come back."""

    id: str
    fields: dict[str, Any]
    error: type[JsocValidationError]
    match: str
    cli: list[str] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    emulator: dict[str, Any] = field(default_factory=dict)


BAD_INPUTS = [
    Bad(
        "unknown series",
        dict(series="hmi.nope_45s", **TIMES),
        UnknownSeriesError,
        r"The series 'hmi\.nope_45s' does not exist on http://127\.0\.0\.1:\d+/\. "
        r"Series starting with 'hmi' include: .*hmi\.M_45s",
        ["hmi.nope_45s", *CLI_TIMES],
    ),
    Bad(
        "malformed series name",
        dict(series="hmi.M_45s[2014.01.01]", **TIMES),
        InvalidSeriesError,
        r"'hmi\.M_45s\[2014\.01\.01\]' is not a DRMS series name",
        ["hmi.M_45s[2014.01.01]", *CLI_TIMES],
    ),
    Bad(
        "bad prime key",
        dict(series="hmi.M_45s", primekeys={"HARPNUM": 377}, **TIMES),
        UnknownPrimeKeyError,
        r"The series hmi\.M_45s has no prime key 'HARPNUM': its prime keys are \['T_REC', 'CAMERA'\]\. "
        r"Fix or remove it in primekeys=\.",
        ["hmi.M_45s", *CLI_TIMES, "--primekey", "HARPNUM=377"],
    ),
    Bad(
        "bad segment",
        dict(series="hmi.M_45s", segments=["bitmap"], **TIMES),
        UnknownSegmentError,
        r"The series hmi\.M_45s has no segment 'bitmap': its segments are \['magnetogram'\]\. Fix segments=\.",
        ["hmi.M_45s", *CLI_TIMES, "--segment", "bitmap"],
    ),
    Bad(
        "keyword without comparison",
        dict(series="hmi.M_45s", filters=["QUALITY"], **TIMES),
        InvalidKeywordFilterError,
        r"'QUALITY'.* comparison",
        ["hmi.M_45s", *CLI_TIMES, "--keyword", "QUALITY"],
    ),
    Bad(
        "unknown keyword",
        dict(series="hmi.M_45s", filters=["SHININESS>3"], **TIMES),
        UnknownKeywordError,
        r"The series hmi\.M_45s has no keyword 'SHININESS' \(used in filters=\)\. Its keywords include \[",
        ["hmi.M_45s", *CLI_TIMES, "--keyword", "SHININESS>3"],
    ),
    Bad(
        "end before start",
        dict(series="hmi.M_45s", start=END, end=START),
        InvalidTimeRangeError,
        r"end 2014-01-01T00:00:00\+00:00 is not after start 2014-01-01T00:02:00",
        ["hmi.M_45s", "--start", END, "--end", START],
    ),
    Bad(
        "unparsable time",
        dict(series="hmi.M_45s", start="the day after tomorrow", end=END),
        InvalidTimeRangeError,
        r"Could not read the start time 'the day after tomorrow'",
        ["hmi.M_45s", "--start", "the day after tomorrow", "--end", END],
    ),
    Bad(
        "wavelength without a spectral unit",
        dict(series="aia.lev1_euv_12s", wavelength=171 * u.kg, **TIMES),
        InvalidWavelengthError,
        r"Could not read the wavelength <Quantity 171\. kg>",
        ["aia.lev1_euv_12s", *CLI_TIMES, "--wavelength", "171 kg"],
    ),
    Bad(
        "wavelength on a series without one",
        dict(series="hmi.M_45s", wavelength=171 * u.AA, **TIMES),
        InvalidWavelengthError,
        r"The series hmi\.M_45s has no WAVELNTH prime key, so wavelength= cannot be used\. "
        r"Its prime keys are \['T_REC', 'CAMERA'\]\.",
        ["hmi.M_45s", *CLI_TIMES, "--wavelength", "171 Angstrom"],
    ),
    Bad(
        "sample not convertible to seconds",
        dict(series="hmi.M_45s", sample="12 furlongs", **TIMES),
        InvalidSampleError,
        r"sample cadence '12 furlongs'",
        ["hmi.M_45s", *CLI_TIMES, "--sample", "12 furlongs"],
    ),
    Bad(
        "sample as a non-time quantity",
        dict(series="hmi.M_45s", sample=12 * u.m, **TIMES),
        InvalidSampleError,
        r"sample cadence <Quantity 12\. m>",
    ),
    Bad(
        "unregistered e-mail",
        dict(series="hmi.M_45s", notify="stranger@unregistered.net", **TIMES),
        UnregisteredEmailError,
        UNREGISTERED,
        ["hmi.M_45s", *CLI_TIMES, "--notify", "stranger@unregistered.net"],
    ),
    Bad(
        "unregistered e-mail in the settings",
        dict(series="hmi.M_45s", **TIMES),
        UnregisteredEmailError,
        UNREGISTERED,
        settings={"email": "stranger@unregistered.net"},
    ),
    Bad(
        "malformed e-mail",
        dict(series="hmi.M_45s", notify="jane.doe@example", **TIMES),
        InvalidEmailError,
        r"(notify=|The notify e-mail j\*\*\*@example) is not a valid e-mail address",
        ["hmi.M_45s", *CLI_TIMES, "--notify", "jane.doe@example"],
    ),
    Bad(
        "protocol and method mismatch",
        dict(series="hmi.M_45s", protocol="fits", method="url_quick", **TIMES),
        IncompatibleOptionsError,
        r"'url_quick' only works with protocol 'as-is', but protocol is 'fits'",
        ["hmi.M_45s", *CLI_TIMES, "--protocol", "fits", "--method", "url_quick"],
    ),
    Bad(
        "unknown protocol",
        dict(series="hmi.M_45s", protocol="jpeg", **TIMES),
        InvalidOptionError,
        r"Protocol 'jpeg' is not supported",
        ["hmi.M_45s", *CLI_TIMES, "--protocol", "jpeg"],
    ),
    Bad(
        "unknown method",
        dict(series="hmi.M_45s", method="ftp", **TIMES),
        InvalidOptionError,
        r"Method 'ftp' is not supported",
        ["hmi.M_45s", *CLI_TIMES, "--method", "ftp"],
    ),
    Bad(
        "cutout with as-is",
        dict(series="hmi.M_45s", protocol="as-is", method="url", cutout=dict(x=0, y=0, width=200, height=200), **TIMES),
        IncompatibleOptionsError,
        r"cut-out \(im_patch\) needs protocol 'fits'",
    ),
    Bad(
        "empty query",
        dict(series="hmi.M_45s"),
        EmptyQueryError,
        r"A query needs start and end, wavelength= or primekeys=.* hmi\.M_45s",
        ["hmi.M_45s"],
    ),
    Bad(
        "request over JSOC's 100 GB cap",
        dict(series="hmi.M_45s", start="2011-01-01", end="2015-01-01"),
        ExportTooLargeError,
        r"The export of hmi\.M_45s 2011-01-01 00:00–2015-01-01 00:00 would be up to \d{3},\d{3} MB \(\d+ records\), "
        r"above JSOC's limit of 100,000 MB per request\. "
        r"Split it into at least \d+ parts with split_interval\(query, every=\.\.\.\), or request fewer segments\.",
        ["hmi.M_45s", "--start", "2011-01-01", "--end", "2015-01-01"],
        emulator={"file_size": 65_536},
    ),
]
assert len(BAD_INPUTS) >= 15


def nothing_exported(emu: JsocEmulator) -> bool:
    stats = emu.stats()
    return stats["exports_submitted"] == 0 and stats["requests"].get("jsoc_fetch:exp_request", 0) == 0


@pytest.mark.parametrize("bad", BAD_INPUTS, ids=[b.id for b in BAD_INPUTS])
def test_bad_input_raises_a_typed_error_before_any_export(
    bad: Bad, emulator: JsocEmulator, settings: JsocSettings, tmp_path: Path
) -> None:
    emulator.configure(**bad.emulator)
    run_settings = settings.model_copy(update=bad.settings) if bad.settings else settings
    if "email" in bad.settings:
        run_settings = JsocSettings(**{**settings.model_dump(exclude={"email"}), "email": bad.settings["email"]})

    with pytest.raises(bad.error, match=bad.match) as caught:
        jsoc_fetch(JsocQuery(**bad.fields), path=str(tmp_path / "data"), settings=run_settings)

    assert isinstance(caught.value, JsocValidationError)
    assert nothing_exported(emulator)
    assert not (tmp_path / "data").exists()


CLI_ROWS = [b for b in BAD_INPUTS if b.cli is not None]
assert len(CLI_ROWS) >= 15


@pytest.mark.parametrize("bad", CLI_ROWS, ids=[b.id for b in CLI_ROWS])
def test_the_cli_prints_one_error_line_and_exits_2(bad: Bad, emulator: JsocEmulator, tmp_path: Path) -> None:
    emulator.configure(**bad.emulator)
    done = CliRunner().invoke(app, ["fetch", *bad.cli, "--path", str(tmp_path / "data"), "--no-progress"])

    lines = [line for line in done.output.splitlines() if line.strip()]
    assert done.exit_code == 2, done.output
    assert len(lines) == 1 and lines[0].startswith("error: "), done.output
    assert re.search(bad.match, lines[0]), lines[0]
    assert "Traceback" not in done.output
    assert nothing_exported(emulator)


def test_the_installed_command_prints_only_the_error_line(emulator: JsocEmulator, tmp_path: Path) -> None:
    """The real ``prefect-jsoc`` process, as a user runs it: the terminal gets one line, exit 2."""
    import os
    import subprocess
    import sys

    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ, PREFECT_API_URL=str(PREFECT_API_URL.value()))
    bad = next(b for b in BAD_INPUTS if b.id == "bad segment")  # found by the server-side checks
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from prefect_jsoc.cli import main; main()",
            "fetch",
            *bad.cli,
            "--path",
            str(tmp_path / "data"),
            "--no-progress",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert re.search(bad.match, lines[0])
    assert nothing_exported(emulator)
