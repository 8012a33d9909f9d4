"""Async engine and sessions for SQLite and PostgreSQL (asyncpg).

`Database.transaction()` is the unit of work: one update or one scheduler claim per transaction.
On SQLite its statements run on the event loop (bot/db/sqlite_loop.py); long work asks for
`transaction(off_loop=True)`, whose statements run in aiosqlite's worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, Result, bindparam, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.db import sqlite_loop

log = logging.getLogger(__name__)
# SQLite: a checkpoint after this many commits keeps the WAL file small (SQLite's own default,
# 1,000 pages, is about 200-300 of our commits).
CHECKPOINT_EVERY = 100
# PostgreSQL: seconds a pooled connection is used before it is replaced (see make_engine).
POOL_RECYCLE = 600


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, busy_timeout_ms: int = 10_000) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the single writer; foreign keys make ON DELETE CASCADE work.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # No checkpoint inside a committing transaction (see `Database._checkpoint`).
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def _on_loop_pragmas(dbapi_connection: Any, record: Any) -> None:
    # Never wait in SQLite's busy handler on the loop (bot/db/sqlite_loop.py waits elsewhere).
    _sqlite_pragmas(dbapi_connection, record, busy_timeout_ms=0)


def make_engine(url: str, *, on_loop: bool = False, **kwargs: Any) -> AsyncEngine:
    """The engine for `url`; `on_loop` (SQLite only): statements run on the event loop
    (bot/db/sqlite_loop.py) instead of in aiosqlite's worker thread."""
    # A failing statement's error names its parameters otherwise: what a caregiver typed.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        if on_loop:
            engine = create_async_engine(
                make_url(url).set(drivername=f"sqlite+{sqlite_loop.DRIVER}"), **kwargs
            )
            event.listen(engine.sync_engine, "connect", _on_loop_pragmas)
            return engine
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    # Liveness without a round trip per transaction (pool_pre_ping pinged at every checkout):
    # connections are replaced after POOL_RECYCLE seconds, before idle timeouts of servers and
    # proxies cut them, and a connection that died anyway (a server restart) fails its first
    # statement, which SQLAlchemy reports as `connection_invalidated`: it drops that one and
    # every older connection from the pool, and the work is tried again on a new one
    # (TelegramAdapter.take; a periodic job at its next tick).
    kwargs.setdefault("pool_recycle", POOL_RECYCLE)
    return create_async_engine(url, **kwargs)


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE, DELETE or INSERT touched (SQLAlchemy types `execute` as a plain Result)."""
    return int(cast("CursorResult[Any]", result).rowcount or 0)


# `AsyncSession.info` key: the connection of the session's transaction, for `execute`.
_CONNECTION = "bot.connection"


def dialect_of(session: AsyncSession) -> str:
    """ "postgresql" or "sqlite": the database this session is bound to."""
    assert session.bind is not None, "sessions come from Database.transaction()"
    return session.bind.dialect.name


def upsert_insert(dialect: str) -> Any:
    """The dialect's `insert` (with ON CONFLICT support), for "postgresql" or "sqlite"."""
    return pg_insert if dialect == "postgresql" else sqlite_insert


def upsert_by_key(dialect: str, table: Any, keys: tuple[str, ...], columns: tuple[str, ...]) -> Any:
    """INSERT of a row by its `keys` that replaces `columns` when the row is there, every value
    a bound parameter named after its column: a statement to build once and reuse."""
    insert = upsert_insert(dialect)(table).values(**{c: bindparam(c) for c in keys + columns})
    return insert.on_conflict_do_update(
        index_elements=list(keys), set_={c: insert.excluded[c] for c in columns}
    )


async def execute(
    session: AsyncSession,
    statement: Executable,
    parameters: dict[str, Any] | list[dict[str, Any]] | None = None,
) -> Result[Any]:
    """A Core statement on the session's connection, in its transaction.

    For the statements every update runs (claim, open step, dialog place, answers): the ORM's
    `Session.execute` adds its own compile and result machinery, and `Session.get` plus a flush
    cost several times the statements themselves (measured: bench/hot_path.py). Pitfall: unlike
    `Session.execute` this does not autoflush, so it must not depend on ORM objects changed
    but not yet flushed in the same transaction, and the ORM identity map does not see what it
    writes: a table is read and written either this way or through the ORM within one update,
    never both.
    """
    connection = session.info.get(_CONNECTION)
    if connection is None:  # once per transaction: asking the session costs a greenlet hop
        connection = session.info[_CONNECTION] = await session.connection()
    return await connection.execute(statement, parameters)


class Database:
    """Owns the engines; hands out sessions whose transaction commits on success.

    On SQLite there are two engines on the one file: `engine` runs its statements on the event
    loop (short ones: the hot path), `off_loop_engine` in aiosqlite's worker threads (work that
    may take long). Both take the same lock for a transaction, so there is still one writer at
    a time. On PostgreSQL they are the same engine.
    """

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, on_loop=True, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        if self.engine.dialect.name == "sqlite":
            self.off_loop_engine = make_engine(url, **engine_kwargs)
            self.off_loop_sessions = async_sessionmaker(
                self.off_loop_engine, expire_on_commit=False
            )
        else:
            self.off_loop_engine, self.off_loop_sessions = self.engine, self.sessions
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
    async def transaction(self, *, off_loop: bool = False) -> AsyncIterator[AsyncSession]:
        """One transaction, committed when the block ends without an exception.

        `off_loop`: the work may take long (a retention sweep, a directory import or export, a
        broadcast's thousands of rows): on SQLite its statements run in a worker thread, so the
        event loop goes on meanwhile (other transactions still wait for this one's end).
        """
        sessions = self.off_loop_sessions if off_loop else self.sessions
        if self._sqlite_lock is None:
            async with sessions() as session, session.begin():
                yield session
            return
        async with self._sqlite_lock, sessions() as session, session.begin():
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
        try:  # off the loop: a checkpoint writes (and syncs) the database file
            async with self.off_loop_engine.connect() as connection:
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
        if self.off_loop_engine is not self.engine:
            await self.off_loop_engine.dispose()
