"""JSOC's politeness limits, held as Prefect global concurrency limits that the Prefect server enforces.

Every worker of a deployment talks to the same Prefect server, so a limit held there holds on every
host at once:

* **pending exports** per (server, notify e-mail): ``prefect-jsoc-exports-<server>-<e-mail digest>``,
  sized ``max_pending_exports`` (JSOC allows one). ``stage`` takes a slot just before it submits,
  and ``await_export`` gives it back as soon as the export is complete or has failed.
* **download connections** per server: ``prefect-jsoc-downloads-<server digest>``, sized
  ``max_connections`` (JSOC asks for one), held while files transfer.

The limits are created, or resized to the current settings, on first use; names carry digests,
never the e-mail. A slot is a Prefect lease of :data:`SLOT_LEASE_SECONDS`, renewed by a daemon
thread of the holding process; if the process dies, the lease expires and the Prefect server's
repossessor service (every 15 s by default) frees the slot, so a crashed holder's slot comes back
in about a minute.

Why not ``prefect.concurrency.sync.concurrency``: an export slot must outlive the task that takes
it (it is handed from ``stage`` to ``await_export``), which a context manager cannot do; and waiting
for a slot must notice a freed slot within a second (Prefect's own waiting sleeps for the server's
``Retry-After``, up to 30 s, and logs an error per refusal when it must not wait). So slots are
taken and renewed through the Prefect client's lease API, and waiting polls every 0.2-0.5 s.
"""

from __future__ import annotations

from .leases import SLOT_LEASE_SECONDS, acquire_slots, release_slots
from .prefect_api import ensure_limit
from .slots import (
    acquire_export_slot,
    claim_export_slot,
    download_limit_name,
    download_slots,
    export_limit,
    export_limit_name,
    export_slot_held,
    prepare_limits,
    release_export_slot,
    watch_export_slot,
)

__all__ = [
    "SLOT_LEASE_SECONDS",
    "acquire_export_slot",
    "acquire_slots",
    "claim_export_slot",
    "download_limit_name",
    "download_slots",
    "ensure_limit",
    "export_limit",
    "export_limit_name",
    "export_slot_held",
    "prepare_limits",
    "release_export_slot",
    "release_slots",
    "watch_export_slot",
]
