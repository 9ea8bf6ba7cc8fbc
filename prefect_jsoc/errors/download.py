"""Download errors: files that could not be fetched or written, or a download stopped on request."""

from __future__ import annotations

from collections.abc import Sequence

from prefect_jsoc.errors.base import JsocError, JsocTransientError


class JsocDownloadError(JsocError):
    """Files of an export could not be downloaded or written, or the download was stopped."""


class DownloadFailedError(JsocDownloadError):
    """Some files could not be downloaded and verified after every retry.

    Args:
        failures: ``(url, error text)`` pairs, one per file that failed.
        paths: Local paths of the files that were downloaded or already present.
    """

    def __init__(self, failures: Sequence[tuple[str, str]], paths: Sequence[str] = ()):
        self.failures = [(str(u), str(e)) for u, e in failures]
        self.paths = [str(p) for p in paths]
        super().__init__(self.failures, self.paths)

    def __str__(self) -> str:
        lines = "\n".join(f"  Download Failed: {u} with error {e}" for u, e in self.failures)
        return (
            f"{len(self.failures)} file(s) could not be downloaded after every retry "
            f"({len(self.paths)} succeeded); run the download again to retry only these:\n{lines}"
        )


class DownloadTransientError(DownloadFailedError, JsocTransientError):
    """Every file that failed did so for a reason that may pass (a slow or dropped transfer, a
    truncated body, HTTP 5xx or 429). The tasks retry it, and a retry fetches only those files."""


class DownloadWriteError(JsocDownloadError):
    """A downloaded file cannot be written (read-only or vanished directory, an I/O error).

    The download stops at once and its temporary files are removed. Never retried.

    Attributes:
        path: The file that could not be written.
        errno: The operating system's error number.
    """

    path: str = ""
    errno: int | None = None

    def __init__(self, message: str, *, path: str = "", errno: int | None = None):
        super().__init__(message)
        self.path = path
        self.errno = errno


class DiskFullError(DownloadWriteError):
    """The disk (or a quota) is full while writing a download (``ENOSPC``, ``EDQUOT``)."""


class DownloadCancelledError(JsocDownloadError):
    """The download was stopped on request (the flow run was cancelled or is shutting down).

    Verified files are kept, nothing partial is left under a final name, and running the
    download again fetches only the missing files. Never retried.
    """


class UnsafeFilenameError(JsocDownloadError, ValueError):
    """A file name from the server (or a formatted path) would escape the target directory."""
