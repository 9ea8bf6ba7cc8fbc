"""Fault injection: seeded, per-kind random decisions and the plan for one download.

Each fault kind draws from its own ``random.Random`` seeded with ``"<seed>:<kind>"``, so the
decisions for one kind do not depend on how often the others were consulted, and a given seed
and request order always inject the same faults.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from .config import EmulatorConfig

__all__ = ["DownloadPlan", "FaultInjector"]


@dataclass(frozen=True)
class DownloadPlan:
    """What goes wrong with one file download.

    Attributes:
        truncate_at: Stop the body after this many bytes and close the connection
            (``Content-Length`` still announces the full length).
        drop_at: Reset the connection after this many bytes.
        bandwidth: Bytes per second to pace the body at, or None.
        stall_at: Stop sending after this many bytes but keep the connection open.
        non_fits: Replace the body by non-FITS bytes of the same length.
        wrong_length: ``"short"`` or ``"long"`` (see ``EmulatorConfig.wrong_length``), or None.
    """

    truncate_at: int | None = None
    drop_at: int | None = None
    bandwidth: float | None = None
    stall_at: int | None = None
    non_fits: bool = False
    wrong_length: str | None = None

    @property
    def clean(self) -> bool:
        """True when nothing is injected (the file can be sent with sendfile)."""
        return (
            self.truncate_at is None
            and self.drop_at is None
            and self.bandwidth is None
            and self.stall_at is None
            and not self.non_fits
            and self.wrong_length is None
        )


class FaultInjector:
    """Seeded random decisions, one generator per fault kind (thread-safe)."""

    def __init__(self, seed: int) -> None:
        self._lock = threading.Lock()
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """Restart every generator from ``seed``."""
        with self._lock:
            self._seed = seed
            self._rngs: dict[str, random.Random] = {}

    def _rng(self, kind: str) -> random.Random:
        rng = self._rngs.get(kind)
        if rng is None:
            rng = self._rngs[kind] = random.Random(f"{self._seed}:{kind}")
        return rng

    def roll(self, kind: str, rate: float) -> bool:
        """True with probability ``rate`` (never draws when ``rate`` is 0)."""
        if rate <= 0:
            return False
        with self._lock:
            return self._rng(kind).random() < rate

    def choice(self, kind: str, options: tuple[int, ...]) -> int:
        """A seeded pick among ``options``."""
        with self._lock:
            return self._rng(kind).choice(options)

    def cut(self, kind: str, length: int) -> int:
        """Where to cut a body of ``length`` bytes: somewhere in its middle, never at its end."""
        if length <= 1:
            return 0
        with self._lock:
            frac = self._rng(kind + ":cut").uniform(0.1, 0.9)
        return min(length - 1, max(0, int(length * frac)))

    def plan_download(self, config: EmulatorConfig, length: int) -> DownloadPlan:
        """Decide the faults of one file GET whose body is ``length`` bytes."""
        truncate_at = drop_at = stall_at = None
        if self.roll("drop", config.drop_rate):
            drop_at = self.cut("drop", length)
        elif self.roll("truncate", config.truncate_rate):
            truncate_at = self.cut("truncate", length)
        elif self.roll("stall", config.stall_downloads):
            stall_at = self.cut("stall", length)
        non_fits = self.roll("non_fits", config.non_fits_rate)
        wrong = config.wrong_length if config.wrong_length in ("short", "long") else None
        return DownloadPlan(truncate_at, drop_at, config.bandwidth, stall_at, non_fits, wrong)
