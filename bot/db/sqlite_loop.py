"""SQLite for the hot path without a thread hand-off per statement: a SQLAlchemy dialect whose
statements run on the event loop, directly on Python's sqlite3 driver.

aiosqlite runs every cursor, execute, fetch and close in a worker thread and wakes the event loop
for each result; on a WAL database with `synchronous=NORMAL` those statements take microseconds
(a commit does not fsync), so the hand-offs cost far more than the work (measured: about 30% of
the main thread's CPU, bench/throughput.py). Long work (checkpoints, retention sweeps, directory
imports) stays off the loop: `Database.transaction(off_loop=True)` uses aiosqlite.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL, AdaptedConnection
from sqlalchemy.util.concurrency import await_, in_greenlet

DRIVER = "onloop"
# A connection on the loop never sleeps in SQLite's busy handler (that would stop the loop);
# a statement that finds the database locked by another process is run again in a worker
# thread, waiting up to this many milliseconds there, as every statement did with aiosqlite.
BUSY_TIMEOUT_MS = 10_000
_SQLITE_BUSY = 5
_SQLITE_BUSY_SNAPSHOT = 517  # a stale read snapshot: waiting does not help, retrying fails too


def is_busy(exc: BaseException) -> bool:
    """Whether `exc` is SQLite's "database is locked" by another connection (worth a wait)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return (
        isinstance(exc, sqlite3.OperationalError)
        and code is not None
        and code & 0xFF == _SQLITE_BUSY
        and code != _SQLITE_BUSY_SNAPSHOT
    )


async def _nothing() -> None:
    return None


def _through_the_bridge() -> None:
    """Pass through SQLAlchemy's greenlet bridge without waiting: `AsyncConnection.execute`
    insists that a statement awaited something (an async driver). Awaiting a coroutine that
    returns at once does not yield to the event loop: two greenlet switches, a microsecond."""
    if in_greenlet():
        await_(_nothing())


def _run(connection: sqlite3.Connection, call: Callable[[], Any]) -> Any:
    """`call` on the loop; if another process holds the database's lock, again in a worker
    thread with the busy handler waiting up to BUSY_TIMEOUT_MS there."""
    try:
        return call()
    except sqlite3.OperationalError as exc:
        if not is_busy(exc) or not in_greenlet():
            raise

    def waiting() -> Any:
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        try:
            return call()
        finally:
            connection.execute("PRAGMA busy_timeout=0")

    return await_(asyncio.to_thread(waiting))


class LoopCursor:
    """A sqlite3 cursor as SQLAlchemy's asyncio layer expects a cursor of an async driver
    (`_async_soft_close`), running each statement on the loop."""

    __slots__ = ("_connection", "_cursor")
    server_side = False

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._cursor = connection.cursor()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    def execute(self, operation: str, parameters: Any = None) -> Any:
        _through_the_bridge()
        if parameters is None:
            return _run(self._connection, lambda: self._cursor.execute(operation))
        return _run(self._connection, lambda: self._cursor.execute(operation, parameters))

    def executemany(self, operation: str, seq_of_parameters: Any) -> Any:
        _through_the_bridge()
        rows = list(seq_of_parameters)  # once more in the thread if the first try was busy
        return _run(self._connection, lambda: self._cursor.executemany(operation, rows))

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchmany(self, size: int | None = None) -> Any:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    def fetchall(self) -> Any:
        return self._cursor.fetchall()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor)

    def setinputsizes(self, *_sizes: Any) -> None:
        return None

    def setoutputsize(self, *_args: Any) -> None:
        return None

    async def _async_soft_close(self) -> None:
        """Called by AsyncResult before the rows are read: they stay readable here (sqlite3
        steps the statement as rows are fetched, on the loop)."""
        return None

    def close(self) -> None:
        self._cursor.close()


class LoopConnection(AdaptedConnection):
    """A sqlite3 connection for SQLAlchemy's asyncio engine; `driver_connection` is the
    sqlite3 connection itself."""

    __slots__ = ()
    _connection: sqlite3.Connection  # type: ignore[assignment]  # a sync driver, on the loop

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    @property
    def isolation_level(self) -> str | None:
        return self._connection.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._connection.isolation_level = value  # type: ignore[assignment]  # as pysqlite takes it

    @property
    def in_transaction(self) -> bool:
        return self._connection.in_transaction

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._connection.create_function(*args, **kwargs)

    def cursor(self, server_side: bool = False) -> LoopCursor:
        return LoopCursor(self._connection)

    def execute(self, operation: str, parameters: Any = None) -> LoopCursor:
        cursor = self.cursor()
        cursor.execute(operation, parameters)
        return cursor

    def commit(self) -> None:
        _run(self._connection, self._connection.commit)

    def rollback(self) -> None:
        self._connection.rollback()

    def close(self) -> None:
        self._connection.close()


class SQLiteDialect_onloop(SQLiteDialect_pysqlite):
    """pysqlite, marked async so AsyncEngine and AsyncSession take it, with its connections
    wrapped in `LoopConnection`: SQLAlchemy's greenlet bridge calls the driver synchronously,
    on the loop thread.

    The transaction semantics are pysqlite's, the same as aiosqlite's (which wraps the same
    driver). Pitfalls: a statement here blocks the loop while it runs, so only short statements
    belong on this engine (the hot path); anything that may take long goes through
    `Database.transaction(off_loop=True)`. Writers of this process queue on the Database's lock,
    so the one lock SQLite has is never waited for here, except when another process (an
    operator command) holds it: then the statement waits in a worker thread (`is_busy`).
    """

    driver = DRIVER
    is_async = True
    supports_statement_cache = True

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        if cls._is_url_file_db(url):
            return pool.AsyncAdaptedQueuePool
        return pool.StaticPool

    def create_connect_args(self, url: URL) -> Any:
        args, kwargs = super().create_connect_args(url)
        # A busy statement is retried in a worker thread (see `_run`), and the pool may close
        # a connection from the garbage collector's thread.
        kwargs["check_same_thread"] = False
        kwargs["timeout"] = 0
        return args, kwargs

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        return LoopConnection(sqlite3.connect(*cargs, **cparams))

    def get_driver_connection(self, connection: Any) -> Any:
        return connection._connection


registry.register(f"sqlite.{DRIVER}", __name__, "SQLiteDialect_onloop")
dialect = SQLiteDialect_onloop
