"""download: verified files, skipping, retries, safe names, path templates, connection slots."""

from __future__ import annotations

import io
import re
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from jsoc_test_support import hmi_query, requests

from prefect_jsoc.downloads import download_manifest, safe_filename, verify_file
from prefect_jsoc.errors import InvalidOptionError, JsocDownloadError, UnsafeFilenameError
from prefect_jsoc.exports import build_files, stage_export, wait_for_export
from prefect_jsoc.models import ExportManifest, ManifestFile


@pytest.fixture
def manifest(emu, settings) -> ExportManifest:
    m = wait_for_export(stage_export(hmi_query(), settings), settings)
    emu.reset()
    return m


def leftovers(path: Path) -> list[str]:
    return sorted(p.name for p in path.rglob(".*.part"))


# -- verification ---------------------------------------------------------------------------------


def _fits_bytes() -> bytes:
    buf = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(np.arange(5000, dtype=np.int16).reshape(50, 100))]).writeto(buf)
    return buf.getvalue()


def test_verify_file_catches_truncation_and_garbage(tmp_path):
    good = tmp_path / "a.fits"
    good.write_bytes(_fits_bytes())
    assert verify_file(good) is None
    assert verify_file(good, expected_size=good.stat().st_size + 1) == (
        f"size is {good.stat().st_size} bytes, expected {good.stat().st_size + 1}"
    )
    cut = tmp_path / "cut.fits"
    cut.write_bytes(_fits_bytes()[: 2880 * 2])
    assert verify_file(cut) == "truncated: 5760 bytes, headers declare 14400"
    odd = tmp_path / "odd.fits"
    odd.write_bytes(_fits_bytes()[:3000])
    assert verify_file(odd) == "truncated: 3000 bytes is not a multiple of 2880"
    html = tmp_path / "err.fits"
    html.write_bytes(b"<html>502 Bad Gateway</html>")
    assert verify_file(html) == "not a FITS file (no SIMPLE card)"
    tar_path = tmp_path / "x.tar"
    with tarfile.open(tar_path, "w") as tar:
        tar.add(good, arcname="a.fits")
    assert verify_file(tar_path) is None
    (tmp_path / "bad.tar").write_bytes(b"nope" * 10)
    assert verify_file(tmp_path / "bad.tar") == "not a tar file"


@pytest.mark.parametrize(
    "name",
    ["../../.bashrc", "/etc/passwd", "a/b.fits", "a\\b.fits", "x\x00.fits", "x\n.fits", ".hidden.fits", "..", ".", ""],
)
def test_unsafe_names_from_the_server_are_refused(name):
    with pytest.raises(UnsafeFilenameError, match=re.escape(f"Refusing the file name {name!r} from the server: ")):
        safe_filename(name)


def test_a_manifest_with_an_escaping_name_is_refused_before_download():
    reply = {
        "status": "0",
        "dir": "/SUM1/D1/S00000",
        "data": [{"record": "hmi.M_45s[2014.01.01_00:00:45_TAI][2]", "filename": "../../../home/user/.bashrc"}],
    }
    with pytest.raises(
        UnsafeFilenameError,
        match=re.escape(
            "Refusing the file name '../../../home/user/.bashrc' from the server: it contains a path separator"
        ),
    ):
        build_files(reply, "http://127.0.0.1:1/")


# -- downloading ----------------------------------------------------------------------------------


def test_download_verifies_renames_and_skips_valid_files(emu, settings, manifest, tmp_path):
    first = download_manifest(manifest, tmp_path, settings)
    assert (first.downloaded, first.skipped) == (3, 0)
    assert first.bytes_downloaded == first.bytes_total == sum(p.stat().st_size for p in first.paths)
    assert all(verify_file(p) is None for p in first.paths) and leftovers(tmp_path) == []
    # damage one file: only that one is fetched again
    victim = first.paths[1]
    victim.write_bytes(victim.read_bytes()[:2880])
    emu.reset()
    second = download_manifest(manifest, tmp_path, settings)
    assert (second.downloaded, second.skipped) == (1, 2)
    assert requests(emu, "file:GET") == 1 and verify_file(victim) is None


def test_download_recovers_from_truncated_and_dropped_transfers(emu, settings, manifest, tmp_path):
    emu.configure(truncate_rate=0.15, drop_rate=0.1, seed=2)
    result = download_manifest(
        manifest, tmp_path, settings.model_copy(update={"http_retries": 3, "retry_backoff": 0.01})
    )
    assert len(result.paths) == 3 and all(verify_file(p) is None for p in result.paths)
    assert leftovers(tmp_path) == []
    assert sum(emu.stats()["faults"].values()) > 0


def test_files_that_keep_failing_are_listed_and_leave_nothing_behind(emu, settings, manifest, tmp_path):
    broken = manifest.model_copy(
        update={
            "files": [
                *manifest.files[:1],
                ManifestFile(url=emu.url + "SUM1/D404/S00000/missing.fits", filename="missing.fits"),
            ]
        }
    )
    with pytest.raises(JsocDownloadError) as info:
        download_manifest(broken, tmp_path, settings.model_copy(update={"http_retries": 1}))
    err = info.value
    assert [u for u, _ in err.failures] == [emu.url + "SUM1/D404/S00000/missing.fits"]
    assert "1 file(s) could not be downloaded after every retry (1 succeeded)" in str(err)
    assert f"Download Failed: {emu.url}SUM1/D404/S00000/missing.fits with error" in str(err)
    assert [Path(p).name for p in err.paths] == [manifest.files[0].filename]
    assert not (tmp_path / "missing.fits").exists() and leftovers(tmp_path) == []


def test_path_templates_use_record_keywords_and_cannot_escape(settings, manifest, tmp_path):
    result = download_manifest(manifest, str(tmp_path / "{series}" / "{T_REC}" / "{file}"), settings)
    assert [p.relative_to(tmp_path).parts[:2] for p in result.paths] == [
        ("hmi.M_45s", "20140101_000045_TAI"),  # times compacted as drms names files: no ':' in paths
        ("hmi.M_45s", "20140101_000130_TAI"),
        ("hmi.M_45s", "20140101_000215_TAI"),
    ]
    with pytest.raises(UnsafeFilenameError, match="outside"):
        download_manifest(manifest, str(tmp_path / "out") + "/{series}/../../../{file}", settings)
    with pytest.raises(
        InvalidOptionError,
        match=re.escape(f"The path template '{tmp_path}/{{HARPNUM}}/{{file}}' uses 'HARPNUM', which the file"),
    ):
        download_manifest(manifest, str(tmp_path / "{HARPNUM}" / "{file}"), settings)


def test_connections_are_bounded_across_concurrent_downloads(emu, settings, manifest, tmp_path):
    emu.configure(bandwidth=400_000)  # ~0.2 s per file, so transfers overlap when allowed
    errors: list[BaseException] = []

    def run(sub: str, s) -> None:
        try:
            download_manifest(manifest, tmp_path / sub, s)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"t{i}", settings)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert emu.stats()["max_concurrent_downloads"] == 1  # JSOC's policy: one connection per host

    emu.reset()
    wider = settings.model_copy(update={"max_connections": 2})
    result = download_manifest(manifest, tmp_path / "wide", wider)
    assert result.downloaded == 3
    assert emu.stats()["max_concurrent_downloads"] == 2
