"""The UI test's browser set-up says why it cannot run instead of failing (no browser needed here)."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import _ui_browser  # noqa: E402


@pytest.fixture()
def no_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No Chromium anywhere and an empty PATH (so no apt-get either); returns the PATH dir."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setattr(_ui_browser, "CHROMIUM_CANDIDATES", (str(tmp_path / "no-chromium"), "no-such-browser"))
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("PREFECT_JSOC_CHROMIUM", raising=False)
    return bin_dir


def _fake_apt(bin_dir: Path, exit_code: int) -> Path:
    apt = bin_dir / "apt-get"
    apt.write_text(f"#!/bin/sh\necho 'E: Unable to locate package chromium' >&2\nexit {exit_code}\n")
    apt.chmod(apt.stat().st_mode | stat.S_IXUSR)
    return apt


def test_no_browser_and_no_apt_gives_a_reason(no_browser: Path) -> None:
    path, why = _ui_browser.ensure_chromium()
    assert path is None
    assert "apt-get" in why and "chromium" in why


def test_not_root_gives_a_reason(no_browser: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_apt(no_browser, 0)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    path, why = _ui_browser.ensure_chromium()
    assert path is None
    assert "root" in why


@pytest.mark.skipif(os.geteuid() != 0, reason="the install path is only taken as root")
def test_failed_install_gives_apt_s_error(no_browser: Path) -> None:
    _fake_apt(no_browser, 100)
    path, why = _ui_browser.ensure_chromium()
    assert path is None
    assert "Unable to locate package chromium" in why


def test_a_chosen_browser_that_is_missing_gives_a_reason(no_browser: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_JSOC_CHROMIUM", str(no_browser / "chrome"))
    path, why = _ui_browser.ensure_chromium()
    assert path is None
    assert "PREFECT_JSOC_CHROMIUM" in why
