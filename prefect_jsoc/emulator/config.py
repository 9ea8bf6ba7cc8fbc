"""Settings of one emulator instance."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["EmulatorConfig", "HOSTILE_FILENAMES", "RUNTIME_KNOBS", "WRONG_LENGTHS"]

#: Values of :attr:`EmulatorConfig.hostile_filenames`.
HOSTILE_FILENAMES = ("dotdot", "absolute", "control")
#: Values of :attr:`EmulatorConfig.wrong_length`.
WRONG_LENGTHS = ("short", "long", "index")
_RATES = (
    "fail_rate",
    "status4_rate",
    "throttle_rate",
    "truncate_rate",
    "drop_rate",
    "bad_json_rate",
    "non_fits_rate",
    "stall_downloads",
)


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything that shapes the emulator's behaviour. Faults are off by default.

    Attributes:
        host: Interface to bind (loopback by default).
        port: TCP port; 0 picks a free one.
        data_dir: Where generated files are cached; ``None`` means a fresh temporary directory.
        export_delay: Seconds from acceptance of a staged export until it completes (status 0).
        latency: Seconds added to every CGI call.
        fail_rate: Fraction of CGI calls answered with HTTP 500.
        status4_rate: Fraction of new ``exp_request`` calls answered with the transient
            ``Cant save new export-request hash.`` (status 4).
        throttle_rate: Fraction of CGI calls answered with HTTP 503 or 429 and ``Retry-After: 1``.
        truncate_rate: Fraction of file downloads whose body stops short of ``Content-Length``.
        drop_rate: Fraction of file downloads whose connection is reset mid-body.
        bandwidth: Bytes per second per download, or ``None`` for no limit.
        offline: When true, export requests answer status 25 (data offline).
        max_pending_per_email: Pending staged exports one e-mail may have before status 7.
        max_pending_per_ip: Pending staged exports one client address may have before status 7.
        export_retention: Seconds an export stays downloadable; then ``exp_status`` answers 5.
        size_limit_mb: Largest export accepted, in MB; bigger ones answer status 3.
        max_export_records: Largest number of records one export may open (status 4 above it).
        file_size: Approximate size in bytes of each generated FITS file.
        registered_emails: Addresses that count as registered, besides the registered domains.
        registered_domains: Domains whose every address counts as registered.
        dedup_window: Seconds during which an identical export returns the same request id.
        notfound_polls: ``exp_status`` polls of a new request that answer status 6 (not found
            yet), the race drms retries on.
        seed: Seed of the fault-injection random generators.
        hostile_filenames: ``None``, or how the ``filename`` values of a staged export's index
            try to escape the download directory: ``"dotdot"`` (``../../<name>``),
            ``"absolute"`` (``/tmp/<name>``) or ``"control"`` (a newline and an ANSI escape in
            the name).
        bad_json_rate: Fraction of CGI calls answered HTTP 200 with an HTML page instead of JSON.
        non_fits_rate: Fraction of file downloads whose body is not FITS (an HTML error text
            repeated) but has exactly the right length.
        wrong_length: ``None``, or how file sizes lie: ``"short"`` (the response announces and
            sends one 2880-byte block less than the file: a clean but short download),
            ``"long"`` (``Content-Length`` announces one block more than is sent, then the
            connection closes) or ``"index"`` (the export index gives every file a ``size``
            smaller than the file really is).
        stall_downloads: Fraction of file downloads that stop sending part-way and hold the
            connection open without closing it (until the client gives up, or 300 s).

    The last five are hostile-server knobs: they make the emulator misbehave on purpose, to
    test that a client refuses bad data instead of keeping it.
    """

    host: str = "127.0.0.1"
    port: int = 0
    data_dir: Path | str | None = None
    export_delay: float = 3.0
    latency: float = 0.0
    fail_rate: float = 0.0
    status4_rate: float = 0.0
    throttle_rate: float = 0.0
    truncate_rate: float = 0.0
    drop_rate: float = 0.0
    bandwidth: float | None = None
    offline: bool = False
    max_pending_per_email: int = 1
    max_pending_per_ip: int = 10
    export_retention: float = 7 * 86400.0
    size_limit_mb: float = 100_000.0
    max_export_records: int = 1_000_000
    file_size: int = 65_536
    registered_emails: tuple[str, ...] = ()
    registered_domains: tuple[str, ...] = ("example.com", "example.org")
    dedup_window: float = 86400.0
    notfound_polls: int = 0
    seed: int = 0
    hostile_filenames: str | None = None
    bad_json_rate: float = 0.0
    non_fits_rate: float = 0.0
    wrong_length: str | None = None
    stall_downloads: float = 0.0

    def __post_init__(self) -> None:
        for name in _RATES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}.")
        if self.hostile_filenames is not None and self.hostile_filenames not in HOSTILE_FILENAMES:
            raise ValueError(
                f"hostile_filenames must be None or one of {', '.join(HOSTILE_FILENAMES)}, "
                f"got {self.hostile_filenames!r}."
            )
        if self.wrong_length is not None and self.wrong_length not in WRONG_LENGTHS:
            raise ValueError(
                f"wrong_length must be None or one of {', '.join(WRONG_LENGTHS)}, got {self.wrong_length!r}."
            )
        if self.file_size < 512:
            raise ValueError(f"file_size must be at least 512 bytes, got {self.file_size}.")
        if self.bandwidth is not None and self.bandwidth <= 0:
            raise ValueError(f"bandwidth must be positive or None, got {self.bandwidth}.")
        object.__setattr__(self, "registered_emails", tuple(self.registered_emails))
        object.__setattr__(self, "registered_domains", tuple(self.registered_domains))

    def replace(self, **changes: Any) -> EmulatorConfig:
        """A copy with ``changes`` applied.

        Raises:
            TypeError: If a name is not a field of :class:`EmulatorConfig`.
        """
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"Unknown emulator setting(s): {', '.join(sorted(unknown))}.")
        return dataclasses.replace(self, **changes)

    def knobs(self) -> dict[str, Any]:
        """The settings that may change while the server runs, as a JSON-friendly dict."""
        return {name: getattr(self, name) for name in RUNTIME_KNOBS}


RUNTIME_KNOBS = tuple(f.name for f in dataclasses.fields(EmulatorConfig) if f.name not in ("host", "port", "data_dir"))
