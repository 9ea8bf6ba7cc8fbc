"""Getting a headless Chromium and Playwright's Python driver for the UI test.

Browser downloads (``playwright install``) are blocked on the machines this project runs on, so the
browser comes from the system's package manager (Debian's ``chromium``) and Playwright is only the
driver, pointed at that executable. Every function here either returns what the test needs or
returns a reason why it cannot, which the fixtures turn into ``pytest.skip``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

#: Where Debian's ``chromium`` package puts the browser; other names are tried after it.
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")

#: Debian packages: the browser, and a colour emoji font so that artifacts using emoji render as a
#: user's desktop shows them instead of as empty boxes.
APT_PACKAGES = ("chromium", "fonts-noto-color-emoji")

#: Flags for a root, headless, offline Chromium: no sandbox (we may be root), no GPU, and no calls
#: home (this machine's network is closed; without these Chromium keeps retrying Google's hosts).
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # The flow-run graph is drawn with WebGL; let it fall back to the software renderer.
    "--enable-unsafe-swiftshader",
)

APT_UPDATE_TIMEOUT = 300
APT_INSTALL_TIMEOUT = 600
PIP_INSTALL_TIMEOUT = 300


def find_chromium() -> str | None:
    """The path of an installed Chromium, or ``None``."""
    for name in CHROMIUM_CANDIDATES:
        path = name if os.path.isabs(name) else shutil.which(name)
        if path and os.access(path, os.X_OK):
            return path
    return None


def _run(cmd: list[str], timeout: float) -> tuple[bool, str]:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return False, f"`{' '.join(cmd)}` took longer than {timeout:.0f} s"
    except OSError as exc:
        return False, f"`{' '.join(cmd)}` could not start: {exc}"
    if done.returncode != 0:
        tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        return False, f"`{' '.join(cmd)}` exited with {done.returncode}: {tail}"
    return True, ""


def ensure_chromium() -> tuple[str | None, str]:
    """Find Chromium, or install Debian's ``chromium`` with apt-get if we are root.

    ``PREFECT_JSOC_CHROMIUM=/path/to/chrome`` picks the browser instead (and installs nothing).

    Returns:
        ``(path, "")`` when a browser is there, else ``(None, reason)``.
    """
    override = os.environ.get("PREFECT_JSOC_CHROMIUM")
    if override:  # a browser of the user's choosing; never install anything then
        if os.access(override, os.X_OK):
            return override, ""
        return None, f"PREFECT_JSOC_CHROMIUM={override} is not an executable file"
    path = find_chromium()
    if path:
        return path, ""
    apt = shutil.which("apt-get")
    if apt is None:
        return None, "no Chromium at /usr/bin/chromium and no apt-get to install Debian's `chromium` package"
    if os.geteuid() != 0:
        return None, (
            "no Chromium at /usr/bin/chromium, and installing it with apt-get needs root "
            "(run `apt-get install -y chromium`)"
        )
    lock = ["-o", "DPkg::Lock::Timeout=120"]
    ok, why = _run([apt, *lock, "install", "-y", "-q", *APT_PACKAGES], APT_INSTALL_TIMEOUT)
    if not ok:  # most often the package lists are missing or stale: refresh them once and retry
        updated, why_update = _run([apt, *lock, "update", "-q"], APT_UPDATE_TIMEOUT)
        if not updated:
            return None, f"could not install Chromium: {why}; then {why_update}"
        ok, why = _run([apt, *lock, "install", "-y", "-q", *APT_PACKAGES], APT_INSTALL_TIMEOUT)
        if not ok:  # the browser alone is enough to run the test
            ok, why = _run([apt, *lock, "install", "-y", "-q", APT_PACKAGES[0]], APT_INSTALL_TIMEOUT)
    path = find_chromium()
    if not ok or path is None:
        return None, f"could not install Debian's `chromium` package: {why or 'no browser after install'}"
    return path, ""


def ensure_playwright() -> str:
    """Import Playwright's Python package, installing it with pip if missing.

    Returns:
        ``""`` when ``playwright.sync_api`` imports, else the reason it does not. Never runs
        ``playwright install`` (browser downloads are blocked; the system Chromium is used instead).
    """
    if importlib.util.find_spec("playwright") is None:
        ok, why = _run([sys.executable, "-m", "pip", "install", "--quiet", "playwright>=1.40"], PIP_INSTALL_TIMEOUT)
        importlib.invalidate_caches()
        if not ok:
            return f"could not pip-install Playwright's Python package: {why}"
    try:
        importlib.import_module("playwright.sync_api")
    except Exception as exc:  # noqa: BLE001 - any import failure means we cannot drive a browser
        return f"Playwright's Python package does not import: {type(exc).__name__}: {exc}"
    return ""


def launch(playwright: object, executable: str, profile_dir: Path, **context_options: object) -> object:
    """Start headless Chromium with a fresh profile; returns a Playwright ``BrowserContext``."""
    profile_dir.mkdir(parents=True, exist_ok=True)
    return playwright.chromium.launch_persistent_context(  # type: ignore[attr-defined]
        user_data_dir=str(profile_dir),
        executable_path=executable,
        headless=True,
        args=list(CHROMIUM_ARGS),
        **context_options,
    )
