"""Async engine and sessions for SQLite (aiosqlite) and PostgreSQL (asyncpg).

`Database.transaction()` is the unit of work: one update or one scheduler claim per transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from sqlalchemy import CursorResult, Result, event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

log = logging.getLogger(__name__)
# SQLite: a checkpoint after this many commits keeps the WAL file small (SQLite's own default,
# 1,000 pages, is about 200-300 of our commits).
CHECKPOINT_EVERY = 100


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the single writer; foreign keys make ON DELETE CASCADE work.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # No checkpoint inside a committing transaction (see `Database._checkpoint`).
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    # A failing statement's error names its parameters otherwise: what a caregiver typed.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE, DELETE or INSERT touched (SQLAlchemy types `execute` as a plain Result)."""
    return int(cast("CursorResult[Any]", result).rowcount or 0)


class Database:
    """Owns the engine; hands out sessions whose transaction commits on success."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer. Left to itself, a waiting transaction polls in SQLite's busy
        # handler with growing sleeps (measured: p99 over 2 s at 100 caregivers); queueing the
        # transactions of this process here hands the lock over at once, in order.
        self._sqlite_lock = asyncio.Lock() if self.engine.dialect.name == "sqlite" else None
        self._commits = 0
        self._checkpointing: asyncio.Task[None] | None = None

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        if self._sqlite_lock is None:
            async with self.sessions() as session, session.begin():
                yield session
            return
        async with self._sqlite_lock, self.sessions() as session, session.begin():
            yield session
        self._commits += 1
        if self._commits >= CHECKPOINT_EVERY and (
            self._checkpointing is None or self._checkpointing.done()
        ):
            self._commits = 0
            self._checkpointing = asyncio.create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        """Copy the WAL into the database file, mostly beside the transactions, not inside one.

        SQLite's automatic checkpoint runs in the commit that crosses its threshold, with fsync,
        while this process's other transactions queue behind the lock: measured, that made the
        slowest 1% of replies 160 ms instead of about 50 ms (bench/throughput.py, paced). Here a
        PASSIVE checkpoint on its own connection first copies what is there while writers go on;
        then a second one, between two transactions, copies the few frames added meanwhile, so
        the next writer starts the WAL file from the beginning again instead of growing it.
        """
        assert self._sqlite_lock is not None
        try:
            async with self.engine.connect() as connection:
                await connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
                async with self._sqlite_lock:
                    await connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception as exc:  # the next one tries again; the WAL only grows meanwhile
            log.warning("SQLite checkpoint failed: %s", type(exc).__name__)

    async def is_available(self) -> bool:
        """Whether a fresh statement gets through now (tells an outage from a bug in handling)."""
        try:
            async with self.engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
        except Exception:  # any failure means: not available
            return False
        return True

    async def dispose(self) -> None:
        if self._checkpointing is not None:
            await self._checkpointing
        await self.engine.dispose()
