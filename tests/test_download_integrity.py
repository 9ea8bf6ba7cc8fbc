"""Download integrity: content is verified, a skip means "this product, verified", every wait ends.

Each test guards one defect of issue 11 (see the test names): checksums catch wrong bytes of the
right length, a file changed after verification or from another product is downloaded again, a
trickling server and a full disk end the download at once with typed errors, a stop request is
prompt and resumable, one file has one writer, and a download path that cannot work is refused
before anything is exported.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from jsoc_test_support import hmi_query, requests, wait_until

from prefect_jsoc.downloads import (
    RECORD_DIR,
    check_download_path,
    clean_path_field,
    download_manifest,
    stop_downloads,
    verify_file,
)
from prefect_jsoc.errors import (
    DiskFullError,
    DownloadCancelledError,
    DownloadTransientError,
    DownloadWriteError,
    InvalidDownloadPathError,
    JsocValidationError,
    is_transient,
)
from prefect_jsoc.exports import stage_export, wait_for_export
from prefect_jsoc.models import ExportManifest

pytestmark = pytest.mark.usefixtures("prefect_harness")


def export(settings: Any, **query: Any) -> ExportManifest:
    return wait_for_export(stage_export(hmi_query(**query), settings), settings)


@pytest.fixture
def manifest(emu, settings) -> ExportManifest:
    staged = export(settings)
    emu.reset()
    return staged


def served(emu: Any, manifest: ExportManifest) -> dict[str, bytes]:
    """What the emulator serves for each file of ``manifest`` (read with the bandwidth limit off)."""
    emu.configure(bandwidth=None)
    out = {}
    for f in manifest.files:
        with urllib.request.urlopen(f.url, timeout=30) as resp:
            out[f.filename] = resp.read()
    return out


def finals(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if not p.name.startswith(".")) if directory.exists() else []


def leftovers(directory: Path) -> list[str]:
    """Temporary and lock files (anything hidden but the verification records), at any depth."""
    return (
        sorted(
            str(p.relative_to(directory))
            for p in directory.rglob(".*")
            if p.name != RECORD_DIR and RECORD_DIR not in p.parts
        )
        if directory.exists()
        else []
    )


class InThread:
    """Runs a call on a daemon thread (so a hang cannot hold the test process) and waits with a deadline."""

    def __init__(self, fn: Any, *args: Any, **kwargs: Any) -> None:
        self.outcome: dict[str, Any] = {}
        self.thread = threading.Thread(target=self._run, args=(fn, args, kwargs), daemon=True)
        self.thread.start()

    def _run(self, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            self.outcome["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.outcome["error"] = exc

    def join(self, timeout: float, what: str) -> Any:
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError(f"{what} did not end within {timeout:.0f} s")
        if "error" in self.outcome:
            raise self.outcome["error"]
        return self.outcome["value"]


@contextlib.contextmanager
def tmpfs(path: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted at ``path`` (``options`` such as ``size=100k`` or ``ro``), or the test is skipped."""
    path.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here ({exc}); the test needs root in a sandbox")
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}); the test needs root")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


# -- content, not only shape ----------------------------------------------------------------------


def test_emulator_files_carry_fits_checksums_and_one_wrong_byte_is_caught(emu, manifest, tmp_path):
    data = next(iter(served(emu, manifest).values()))
    with fits.open(io.BytesIO(data)) as hdul:
        assert "CHECKSUM" in hdul[0].header and "DATASUM" in hdul[0].header
    good = tmp_path / "good.fits"
    good.write_bytes(data)
    assert verify_file(good) is None
    # Same length, same structure, one byte of the image changed: only the checksums can tell.
    wrong = bytearray(data)
    wrong[len(data) // 2] ^= 0x01
    bad = tmp_path / "bad.fits"
    bad.write_bytes(bytes(wrong))
    assert re.fullmatch(r"FITS checksum mismatch in HDU 0: DATASUM says \d+, the data sum to \d+", verify_file(bad))
    # A hole of zeros, as a second writer truncating the temporary file left (issue 11, defect 1).
    hole = bytearray(data)
    hole[-25000:-5000] = bytes(20000)
    holed = tmp_path / "hole.fits"
    holed.write_bytes(bytes(hole))
    assert "FITS checksum mismatch" in verify_file(holed)


def test_checksums_of_tile_compressed_files_are_checked_on_the_table_as_stored(tmp_path):
    image = (np.arange(300 * 257, dtype=np.int32) % 2048 - 1024).astype(">i2").reshape(300, 257)
    path = tmp_path / "compressed.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(image, compression_type="RICE_1")]).writeto(path, checksum=True)
    assert verify_file(path) is None
    data = bytearray(path.read_bytes())
    data[-3000] ^= 0x10  # inside the compressed tiles (the table's heap)
    path.write_bytes(bytes(data))
    assert verify_file(path).startswith("FITS checksum mismatch in HDU 1")
    plain = tmp_path / "plain.fits"  # no checksums at all: structure and length are still checked
    buf = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(image)]).writeto(buf)
    plain.write_bytes(buf.getvalue())
    assert verify_file(plain) is None


def test_the_verification_record_says_what_was_verified(emu, settings, manifest, tmp_path):
    result = download_manifest(manifest, tmp_path, settings)
    first = manifest.files[0]
    doc = json.loads((tmp_path / RECORD_DIR / f"{first.filename}.json").read_text())
    data = (tmp_path / first.filename).read_bytes()
    assert doc["format"] == "prefect-jsoc/verified-download/1"
    assert (doc["size"], doc["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    assert doc["product"] == {
        "protocol": "fits",
        "series": "hmi.m_45s",
        "record": first.record,
        "filename": first.filename,
        "url": None,
        "size": None,
    }
    assert (doc["request_id"], doc["url"], doc["announced_size"]) == (manifest.request_id, first.url, len(data))
    assert doc["checks"] == ["fits-structure", "fits-checksums:1", "sha256", "content-length"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([RECORD_DIR, *(p.name for p in result.paths)])


def test_a_file_changed_after_it_was_verified_is_downloaded_again(emu, settings, manifest, tmp_path):
    first = download_manifest(manifest, tmp_path, settings)
    victim, touched = first.paths[1], first.paths[2]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF  # still a well-formed FITS file of the right length
    victim.write_bytes(bytes(data))
    os.utime(touched, (time.time() + 60, time.time() + 60))  # a new time, the same bytes
    emu.reset()

    second = download_manifest(manifest, tmp_path, settings)

    assert (second.downloaded, second.skipped) == (1, 2)
    assert requests(emu, "file:GET") == 1  # only the changed file; the touched one was checked by SHA-256
    assert {p.name: p.read_bytes() for p in second.paths} == served(emu, manifest)


def test_as_is_then_fits_into_one_folder_downloads_the_fits_files(emu, settings, tmp_path):
    as_is, fits_export = export(settings, protocol="as-is"), export(settings)
    assert [f.filename for f in as_is.files] == [f.filename for f in fits_export.files]  # the same names
    download_manifest(as_is, tmp_path, settings)
    emu.reset()

    result = download_manifest(fits_export, tmp_path, settings)

    assert (result.downloaded, result.skipped) == (3, 0)  # another product: nothing is skipped
    assert {p.name: p.read_bytes() for p in result.paths} == served(emu, fits_export)
    with fits.open(result.paths[0]) as hdul:
        assert "T_REC" in hdul[0].header  # the fits protocol's keywords, not the bare as-is header


def test_a_file_present_without_a_record_is_downloaded_again(emu, settings, manifest, tmp_path):
    stranger = tmp_path / manifest.files[0].filename
    buf = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(np.zeros((8, 8), dtype=">i2"))]).writeto(buf)
    stranger.write_bytes(buf.getvalue())  # a valid FITS file of that name, of unknown origin

    result = download_manifest(manifest, tmp_path, settings)

    assert (result.downloaded, result.skipped) == (3, 0)
    assert stranger.read_bytes() == served(emu, manifest)[stranger.name]


# -- every wait bounded ---------------------------------------------------------------------------


def test_a_trickling_server_fails_as_a_transient_fault_within_the_rate_window(emu, settings, manifest, tmp_path):
    emu.configure(bandwidth=300)  # a 69 kB file would take almost 4 minutes
    slow = settings.model_copy(update={"min_download_rate": 2000.0, "download_rate_window": 1.0, "http_retries": 1})

    run = InThread(download_manifest, manifest, tmp_path, slow)
    with pytest.raises(DownloadTransientError) as info:
        run.join(60, "the download from a trickling server")

    assert is_transient(info.value)  # the download task retries it later
    assert "too slow" in str(info.value) and "min_download_rate" in str(info.value)
    # One file per round found the server too slow; the others were not started, so the bound is
    # (rounds x window), whatever the number of files.
    assert requests(emu, "file:GET") == 2
    assert finals(tmp_path) == [] and leftovers(tmp_path) == []


def test_a_full_disk_fails_the_download_at_once_with_a_clear_error(emu, settings, manifest, tmp_path):
    with tmpfs(tmp_path / "small", "size=100k") as disk:  # room for one 69 kB file, not two
        target = disk / "data"
        run = InThread(download_manifest, manifest, target, settings)
        with pytest.raises(DiskFullError) as info:
            run.join(60, "the download onto a full disk")

        message = str(info.value)
        assert message.startswith("The disk is full: writing ") and str(target) in message
        assert "No space left on device" in message and not is_transient(info.value)
        assert leftovers(target) == []  # temporary files and locks removed
        expected = served(emu, manifest)
        assert all(p.read_bytes() == expected[p.name] for p in finals(target))  # nothing partial kept


def test_a_read_only_directory_is_refused_before_export_and_fails_a_download_clearly(emu, settings, manifest, tmp_path):
    with tmpfs(tmp_path / "ro", "ro,size=100k") as disk:
        with pytest.raises(
            InvalidDownloadPathError,
            match=re.escape(
                f"The download path '{disk}/data' is not writable: files cannot be created in {disk} (Read-only "
                "file system). Choose a directory you can write to."
            ),
        ):
            check_download_path(disk / "data")
        with pytest.raises(DownloadWriteError, match=r"Cannot write .*Read-only file system") as info:
            download_manifest(manifest, disk, settings)
        assert not isinstance(info.value, DiskFullError)
        assert requests(emu, "file:GET") == 0


# -- stops and other writers ----------------------------------------------------------------------


def test_stop_downloads_stops_a_running_download_promptly_and_a_rerun_resumes(emu, settings, manifest, tmp_path):
    emu.configure(bandwidth=20_000)  # about 3.5 s per file
    run = InThread(download_manifest, manifest, tmp_path, settings)
    wait_until(
        lambda: len(finals(tmp_path)) == 1 and emu.stats()["downloads_now"] >= 1,
        60,
        "one file done and the next in flight",
        interval=0.02,
    )

    assert stop_downloads() == 1
    with pytest.raises(DownloadCancelledError, match=r"stopped on request: 1 file\(s\) are complete and verified"):
        run.join(10, "the stopped download")

    kept = finals(tmp_path)
    assert len(kept) == 1 and leftovers(tmp_path) == []
    emu.configure(bandwidth=None)
    emu.reset()
    result = download_manifest(manifest, tmp_path, settings)
    assert (result.downloaded, result.skipped) == (2, 1) and requests(emu, "file:GET") == 2
    assert {p.name: p.read_bytes() for p in result.paths} == served(emu, manifest)


def test_two_downloads_of_one_file_in_one_process_write_it_once(emu, settings, manifest, tmp_path):
    emu.configure(bandwidth=40_000)  # the two downloads overlap
    wide = settings.model_copy(update={"max_connections": 6})
    runs = [InThread(download_manifest, manifest, tmp_path, wide) for _ in range(2)]
    results = [run.join(60, "a download") for run in runs]

    assert requests(emu, "file:GET") == 3  # each file crossed the wire once
    # Whichever download took a file's lock wrote it; the other waited and skipped it.
    assert [r.downloaded + r.skipped for r in results] == [3, 3]
    assert sum(r.downloaded for r in results) == sum(r.skipped for r in results) == 3
    assert {p.name: p.read_bytes() for p in finals(tmp_path)} == served(emu, manifest)
    assert leftovers(tmp_path) == []


# -- download paths -------------------------------------------------------------------------------


def test_check_download_path_refuses_paths_that_cannot_work_and_creates_nothing(tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a directory")
    cases = {
        str(a_file / "data"): f"cannot be a directory: {a_file} exists and is a file",
        str(a_file / "{series}" / "{file}"): f"cannot be a directory: {a_file} exists and is a file",
        str(tmp_path / ("x" * 300) / "data"): "has a directory name of 300 bytes",
        str(tmp_path / "{}"): "has a positional field {}",
        str(tmp_path / "{0}" / "{file}"): "has a positional field {0}",
        str(tmp_path / "{file.name}"): "fields must be plain names",
        str(tmp_path / "{series"): "is not a valid template",
        str(tmp_path / "{series}" / ".." / ".." / "{file}"): "has '..' after a field",
        "": "The download path is empty",
    }
    for path, problem in cases.items():
        with pytest.raises(InvalidDownloadPathError, match=re.escape(problem)):
            check_download_path(path)
    assert issubclass(InvalidDownloadPathError, JsocValidationError)

    check_download_path(tmp_path / "new" / "deeper")
    check_download_path(str(tmp_path / "{series}" / "{T_REC}" / "{file}"))
    assert list(tmp_path.iterdir()) == [a_file]  # the probe file was removed, no directory was created


def test_path_fields_are_valid_names_everywhere():
    assert clean_path_field("2014.01.01_00:00:45_TAI") == "20140101_000045_TAI"
    assert clean_path_field("2014-01-01T00:00:11.5Z") == "20140101T0000115Z"
    assert clean_path_field("hmi.M_45s[2014.01.01_00:00:45_TAI][3]") == "hmi.M_45s[20140101_000045_TAI][3]"
    assert clean_path_field('a/b\\c:d*e?f"g<h>i|j') == "a_b_c_d_e_f_g_h_i_j"
    assert [clean_path_field(v) for v in ("", ".", "..")] == ["_", "_", "_"]
