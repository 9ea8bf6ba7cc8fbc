"""Make the local server's SQLite writers queue for the database instead of failing with HTTP 503.

Prefect's SQLite configuration opens a write transaction as ``BEGIN DEFERRED``: it reads, then asks
for the write lock. In WAL mode SQLite refuses that upgrade at once, without honouring
``busy_timeout``, when another connection committed since the transaction's first read; Prefect turns
the refusal into HTTP 503. With twenty flows in one process, each refusal costs a client retry with
exponential backoff, and Prefect's own ``create_flow_run`` ran out of its five retries (about a
minute). ``BEGIN IMMEDIATE`` takes the write lock first, so a writer waits (up to the
60 s ``busy_timeout``) instead of failing; this is the remedy Prefect's own comment beside its
``PRAGMA journal_mode = WAL`` names. PostgreSQL servers are left alone.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from prefect.server.database.configurations import SQLITE_BEGIN_MODE, AioSqliteConfiguration
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction

__all__ = ["QueuedWritesSqliteConfiguration", "queue_sqlite_writes"]


class QueuedWritesSqliteConfiguration(AioSqliteConfiguration):
    """Prefect's SQLite configuration with every transaction begun as ``BEGIN IMMEDIATE``."""

    @asynccontextmanager
    async def begin_transaction(
        self, session: AsyncSession, with_for_update: bool = False
    ) -> AsyncGenerator[AsyncSessionTransaction, None]:
        """Begin a transaction that holds SQLite's write lock from its first statement."""
        token = SQLITE_BEGIN_MODE.set("IMMEDIATE")
        try:
            async with session.begin() as transaction:
                yield transaction
        finally:
            SQLITE_BEGIN_MODE.reset(token)


def queue_sqlite_writes() -> bool:
    """Install :class:`QueuedWritesSqliteConfiguration` if this process's Prefect database is SQLite.

    Call it in the server process before the API app is created. Returns whether it was installed.
    """
    from prefect.server.database.dependencies import set_database_config
    from prefect.server.utilities.database import get_dialect
    from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL

    connection_url = PREFECT_API_DATABASE_CONNECTION_URL.value()
    if get_dialect(connection_url).name != "sqlite":
        return False
    set_database_config(QueuedWritesSqliteConfiguration(connection_url=connection_url))
    return True
