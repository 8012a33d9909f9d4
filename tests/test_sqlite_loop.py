"""SQLite on the event loop (bot/db/sqlite_loop.py): the hot path's statements run on the loop
thread, long work in a worker thread, with the same transactions and the one writer as before;
a database locked by another process is waited for off the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, func, select, text

from bot.db.models import ProcessedUpdate
from bot.db.session import Database

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def file_of(sqlite_url: str) -> str:
    return sqlite_url.removeprefix("sqlite+aiosqlite:///")


def with_thread_probe(db: Database) -> None:
    """`SELECT thread_ident()` answers the thread that runs the statement."""

    def add(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("thread_ident", 0, threading.get_ident)

    for engine in (db.engine, db.off_loop_engine):
        event.listen(engine.sync_engine, "connect", add)


async def count(db: Database) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count(ProcessedUpdate.update_id))) or 0)


async def test_hot_statements_run_on_the_loop_thread_and_long_work_in_a_worker(
    sqlite_url: str,
) -> None:
    db = Database(sqlite_url)
    with_thread_probe(db)
    try:
        async with db.transaction() as session:
            on_loop = await session.scalar(text("SELECT thread_ident()"))
        async with db.transaction(off_loop=True) as session:
            off_loop = await session.scalar(text("SELECT thread_ident()"))
        async with db.engine.connect() as connection:  # Core connections too
            core = (await connection.execute(text("SELECT thread_ident()"))).scalar()
        assert on_loop == core == threading.get_ident()
        assert off_loop != threading.get_ident()
        assert await db.is_available()
    finally:
        await db.dispose()


async def test_a_failing_transaction_on_the_loop_leaves_nothing_behind(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    try:
        with pytest.raises(RuntimeError):
            async with db.transaction() as session:
                session.add(ProcessedUpdate(update_id=1, processed_at=NOW))
                await session.flush()
                raise RuntimeError("the handler failed")
        assert await count(db) == 0
    finally:
        await db.dispose()


async def test_transactions_on_and_off_the_loop_take_turns_as_the_one_writer(
    sqlite_url: str,
) -> None:
    """Read-modify-write from both engines at once: none is lost (the Database's lock)."""
    db = Database(sqlite_url)
    try:
        async with db.transaction() as session:
            session.add(ProcessedUpdate(update_id=0, processed_at=NOW))

        async def bump(off_loop: bool) -> None:
            async with db.transaction(off_loop=off_loop) as session:
                highest = await session.scalar(select(func.max(ProcessedUpdate.update_id)))
                await asyncio.sleep(0)  # let the others try to interleave
                session.add(ProcessedUpdate(update_id=int(highest or 0) + 1, processed_at=NOW))

        await asyncio.gather(*(bump(off_loop=i % 3 == 0) for i in range(30)))
        assert await count(db) == 31
    finally:
        await db.dispose()


async def test_a_database_locked_by_another_process_is_waited_for_off_the_loop(
    sqlite_url: str,
) -> None:
    db = Database(sqlite_url)
    other = sqlite3.connect(file_of(sqlite_url), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the one write lock
        other.execute("INSERT INTO processed_update VALUES (7, '2026-12-01 12:00:00.000000')")

        async def write() -> None:
            async with db.transaction() as session:
                session.add(ProcessedUpdate(update_id=8, processed_at=NOW))

        writing = asyncio.create_task(write())
        ticks = 0
        while ticks < 20:  # the loop goes on while the write waits for the lock
            await asyncio.sleep(0.005)
            ticks += 1
        assert not writing.done()
        other.execute("COMMIT")
        await asyncio.wait_for(writing, 10)
        assert await count(db) == 2
    finally:
        other.close()
        await db.dispose()


def test_the_engines_of_one_database_share_its_file(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    assert db.engine.dialect.name == db.off_loop_engine.dialect.name == "sqlite"
    assert db.engine.dialect.driver == "onloop"
    assert db.off_loop_engine.dialect.driver == "aiosqlite"
    assert db.engine.url.database == db.off_loop_engine.url.database == file_of(sqlite_url)
    asyncio.run(db.dispose())
