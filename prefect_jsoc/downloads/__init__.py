"""The download engine: verified files under final names, one writer per file, every wait bounded.

:func:`download_manifest` downloads the files of an export through parfive. Each file goes to a
unique temporary name while its writer holds the file's lock, is verified (size against the
server's ``Content-Length`` and the manifest, FITS structure and ``DATASUM``/``CHECKSUM``), then is
renamed into place at once and recorded as verified. A present file is skipped only when its
record shows it is the same product, unchanged. See :mod:`prefect_jsoc.downloads.engine` for the
guarantees and the modules that keep them:

* :mod:`~prefect_jsoc.downloads.paths`: safe names, path templates, :func:`check_download_path`;
* :mod:`~prefect_jsoc.downloads.verify`: :func:`verify_file` and the FITS checksums;
* :mod:`~prefect_jsoc.downloads.ledger`: temporary names, locks, verification records;
* :mod:`~prefect_jsoc.downloads.transfer`: one round of transfers through parfive, with
  :mod:`~prefect_jsoc.downloads.jobs` (each file's state), :mod:`~prefect_jsoc.downloads.parfive_hooks`
  (the guarded downloader) and :mod:`~prefect_jsoc.downloads.faults` (failure classes, the rate watchdog);
* :mod:`~prefect_jsoc.downloads.engine`: :func:`download_manifest`, :func:`stop_downloads`.
"""

from __future__ import annotations

from .engine import ProgressCallback, download_manifest, stop_downloads
from .ledger import RECORD_DIR
from .paths import check_download_path, clean_path_field, parse_record, quick_filename, resolve_target, safe_filename
from .transfer import CHUNK_SIZE
from .verify import FITS_BLOCK, verify_file

__all__ = [
    "CHUNK_SIZE",
    "FITS_BLOCK",
    "RECORD_DIR",
    "ProgressCallback",
    "check_download_path",
    "clean_path_field",
    "download_manifest",
    "parse_record",
    "quick_filename",
    "resolve_target",
    "safe_filename",
    "stop_downloads",
    "verify_file",
]
