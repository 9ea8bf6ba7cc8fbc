"""Slots held as Prefect leases: taking them, keeping them alive from a daemon thread, giving them back.

A slot is a lease of :data:`SLOT_LEASE_SECONDS` on a Prefect global concurrency limit, renewed by a
daemon thread of the holding process until it is released, held too long, or (for an export slot
nobody awaits) its export is no longer pending. If the process dies the lease expires and the
Prefect server frees the slot.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from uuid import UUID

from prefect_jsoc._log import get_logger
from prefect_jsoc.errors import LimitUnavailableError, SlotTimeoutError
from prefect_jsoc.polling import poll_until

from .prefect_api import ensure_limit, status_of
from .slot_calls import give_back, is_busy, read_usage, take_slots

__all__ = [
    "SLOT_LEASE_SECONDS",
    "acquire_slots",
    "acquire_some_slots",
    "claim_lease",
    "lease_held",
    "release_slots",
    "watch_lease",
]

#: Lease of a held slot, in seconds: Prefect's minimum, so a crashed holder's slot returns soonest.
SLOT_LEASE_SECONDS = 60.0
_POLL_FIRST = 0.2
_POLL_MAX = 0.5


class _Renewal:
    """Keeps one lease alive from a daemon thread until it is released, too old, or its work is done.

    An export slot handed from ``stage`` to ``await_export`` is released by ``await_export``. If no
    ``await_export`` claims it (a script that only stages), the thread asks ``finished`` (JSOC's
    export status) now and then, and releases the slot once the export is no longer pending.
    """

    def __init__(self, lease_id: str, max_seconds: float) -> None:
        self.lease_id = lease_id
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.deadline = time.monotonic() + max_seconds
        self.claimed = False
        self.finished: Callable[[], bool] | None = None
        self.next_check = math.inf
        self.check_every = SLOT_LEASE_SECONDS
        self.thread = threading.Thread(target=self._run, name=f"prefect-jsoc-lease-{lease_id[:8]}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        from prefect import get_client

        renew_at = time.monotonic() + SLOT_LEASE_SECONDS * 0.5
        while True:
            self.wake.wait(max(0.05, min(renew_at, self.next_check) - time.monotonic()))
            self.wake.clear()
            if self.stop.is_set():
                return
            now = time.monotonic()
            if now > self.deadline:  # never keep a slot longer than its work may take
                release_slots(self.lease_id)
                return
            if now >= self.next_check and not self.claimed and self.finished is not None:
                self.next_check = now + self.check_every
                try:
                    done = self.finished()
                except Exception:  # cannot tell: keep the slot, ask again later
                    done = False
                if done and not self.claimed:
                    release_slots(self.lease_id)
                    return
            if now >= renew_at:
                renew_at = now + SLOT_LEASE_SECONDS * 0.5
                try:
                    with get_client(sync_client=True) as client:
                        client.renew_concurrency_lease(UUID(self.lease_id), lease_duration=SLOT_LEASE_SECONDS)
                except Exception as exc:  # a lost lease frees the slot; the work itself goes on
                    get_logger().warning("Could not renew the lease %s of a JSOC slot: %s", self.lease_id, exc)
                    if status_of(exc) in (404, 410):
                        with _renewals_lock:
                            _renewals.pop(self.lease_id, None)
                        return


_renewals: dict[str, _Renewal] = {}
_renewals_lock = threading.Lock()
#: Signalled whenever this process gives slots back, so its own waiters try again at once instead
#: of at their next poll (waiters on other hosts poll). ``_releases`` counts those give-backs: a
#: waiter sleeps only if none happened since it last asked, so a release that lands between its
#: refused ask and its sleep is not missed.
_freed = threading.Condition()
_releases = 0
_asking = threading.Lock()


def _releases_so_far() -> int:
    with _freed:
        return _releases


def _sleep_until_freed(seconds: float, *, unless_since: int | None = None) -> None:
    with _freed:
        if unless_since is not None and _releases != unless_since:
            return
        _freed.wait(seconds)


def acquire_slots(
    limit: str,
    size: int,
    occupy: int = 1,
    *,
    timeout: float,
    max_hold: float,
    waiting_message: str = "",
    sleep: Callable[[float], None] | None = None,
) -> str:
    """Take ``occupy`` slots of the limit ``limit`` (created with ``size`` slots); return the lease id.

    The slots stay taken until :func:`release_slots` (from any task of this process), for at most
    ``max_hold`` seconds; a daemon thread renews the lease meanwhile.

    Args:
        limit: The limit's name.
        size: Its size (the limit is created or resized to it first).
        occupy: Slots to take (at most ``size``).
        timeout: Give up after waiting this many seconds for free slots.
        max_hold: Release the slots by themselves after this many seconds.
        waiting_message: Logged once when the slots are not free at once.
        sleep: Sleep function between polls (default: a sleep that a release in this process ends).

    Raises:
        SlotTimeoutError: When the slots did not become free within ``timeout``.
        LimitUnavailableError: When the Prefect API failed.
    """
    lease_id, _ = acquire_some_slots(
        limit,
        size,
        occupy,
        at_least=occupy,
        timeout=timeout,
        max_hold=max_hold,
        waiting_message=waiting_message,
        sleep=sleep,
    )
    return lease_id


def acquire_some_slots(
    limit: str,
    size: int,
    wanted: int,
    *,
    at_least: int = 1,
    timeout: float,
    max_hold: float,
    waiting_message: str = "",
    sleep: Callable[[float], None] | None = None,
) -> tuple[str, int]:
    """Take up to ``wanted`` slots of ``limit``, as soon as ``at_least`` of them are free.

    Like :func:`acquire_slots`, but a caller that can use fewer slots (downloads over fewer
    connections) starts with what is free instead of waiting for all it wanted.

    Returns:
        ``(lease_id, slots_taken)``.

    Raises:
        SlotTimeoutError: When not even ``at_least`` slots became free within ``timeout``.
        LimitUnavailableError: When the Prefect API failed.
    """
    wanted = max(1, min(int(wanted), int(size)))
    at_least = max(1, min(int(at_least), wanted))
    ensure_limit(limit, size)
    started = time.monotonic()
    announced: list[bool] = []
    asked_at = [_releases_so_far()]

    def busy() -> None:
        if waiting_message and not announced:
            get_logger().info(waiting_message)
            announced.append(True)

    def take() -> tuple[str, int] | None:
        asked_at[0] = _releases_so_far()
        try:
            # Look before asking, one thread of this process at a time: a refused request still writes
            # to the server's database (its "denied slots" count), and on SQLite two writes that meet
            # cost a 503 (see .slot_calls).
            with _asking:
                active, limit_size = read_usage(limit)
                occupy = min(wanted, limit_size - active)
                if occupy < at_least:
                    return busy()
                lease = take_slots(limit, occupy, SLOT_LEASE_SECONDS)
        except Exception as exc:
            if not is_busy(exc):
                raise LimitUnavailableError(f"Could not take a slot of the Prefect limit {limit!r}: {exc}") from exc
            return busy()
        return (lease, occupy) if lease is not None else busy()

    def wait_for_release(seconds: float) -> None:
        _sleep_until_freed(seconds, unless_since=asked_at[0])

    def timed_out(waited: float) -> Exception:
        return SlotTimeoutError(
            f"No slot of the Prefect global concurrency limit {limit!r} became free within {waited:.0f} s; "
            f"other runs hold all {size}. See `prefect gcl inspect {limit}`. A run that was killed frees "
            "its slot when its lease expires (about a minute, on a Prefect server whose services run)."
        )

    lease_id, taken = poll_until(
        take,
        first_delay=0,
        then=_POLL_FIRST,
        maximum=_POLL_MAX,
        timeout=timeout,
        on_timeout=timed_out,
        sleep=sleep or wait_for_release,
    )
    if announced:
        get_logger().info("Got the slot after %.1f s.", time.monotonic() - started)
    with _renewals_lock:
        _renewals[lease_id] = _Renewal(lease_id, max_hold)
    return lease_id, taken


def release_slots(lease_id: str | None) -> None:
    """Give slots back (never raises: slots that cannot be released expire within a minute)."""
    if not lease_id:
        return
    with _renewals_lock:
        renewal = _renewals.pop(lease_id, None)
    if renewal is not None:
        renewal.stop.set()
        renewal.wake.set()
    for attempt in range(4):
        try:
            give_back(lease_id)
            break
        except Exception as exc:
            if attempt < 3 and is_busy(exc):
                time.sleep(0.1 * (attempt + 1))
                continue
            get_logger().warning("Could not give back JSOC slot %s (it expires within a minute): %s", lease_id, exc)
            break
    global _releases
    with _freed:
        _releases += 1
        _freed.notify_all()


def watch_lease(lease_id: str, finished: Callable[[], bool], *, first_check: float, every: float) -> None:
    """Let the renewal thread release a lease by itself once ``finished()`` says its work is done.

    Only while nobody has claimed the lease (see :func:`claim_lease`).

    Args:
        lease_id: The lease.
        finished: Asks whether the work the lease stands for is done (an export no longer pending).
        first_check: Seconds until the first question (JSOC's own estimate of the export's wait).
        every: Seconds between later questions.
    """
    with _renewals_lock:
        renewal = _renewals.get(lease_id)
    if renewal is not None:
        renewal.finished, renewal.check_every = finished, every
        renewal.next_check = time.monotonic() + first_check
        renewal.wake.set()  # let the thread reschedule


def claim_lease(lease_id: str | None) -> bool:
    """Take over a lease this process holds, so only an explicit release ends it; False if it holds none."""
    with _renewals_lock:
        renewal = _renewals.get(lease_id or "")
        if renewal is None:
            return False
        renewal.claimed = True
        return True


def lease_held(lease_id: str | None) -> bool:
    """True when ``lease_id`` is a lease this process holds (and keeps alive)."""
    with _renewals_lock:
        return bool(lease_id) and lease_id in _renewals
