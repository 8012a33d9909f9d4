"""The database layer's own guarantees: on SQLite transactions queue in order, and the WAL file is
checkpointed beside the transactions (never inside a committing one), so it stays small; on both
databases the statements of an update are compiled once, then taken from SQLAlchemy's cache."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.engine.interfaces import CacheStats

from bot.app.dispatch import BotCore
from bot.db.models import ProcessedUpdate
from bot.db.session import CHECKPOINT_EVERY, Database
from tests.conversation import CoreUser

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


async def commit_many(db: Database, count: int, first: int = 0) -> None:
    for update_id in range(first, first + count):
        async with db.transaction() as session:
            session.add(ProcessedUpdate(update_id=update_id, processed_at=NOW))


def wal_size(path: Path) -> int:
    return path.stat().st_size


async def test_sqlite_commits_do_not_checkpoint_and_the_wal_is_checkpointed_beside_them(
    sqlite_url: str,
) -> None:
    db = Database(sqlite_url)
    wal = Path(sqlite_url.removeprefix("sqlite+aiosqlite:///") + "-wal")
    try:
        async with db.engine.connect() as connection:
            setting = await connection.exec_driver_sql("PRAGMA wal_autocheckpoint")
            assert setting.scalar() == 0  # no commit pays for a checkpoint
        await commit_many(db, CHECKPOINT_EVERY * 10)
        assert db._checkpointing is not None
        await db._checkpointing
        # After the checkpoint beside the transactions every WAL frame is in the database file
        # (a machine-speed-free check: how far a lagging checkpoint let the file grow is not).
        async with db.engine.connect() as connection:
            busy, frames, copied = (
                await connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            ).one()
        assert busy == 0 and frames == copied
        size = wal_size(wal)
        # So the next writer starts the WAL from its beginning again: the file does not grow.
        await commit_many(db, CHECKPOINT_EVERY // 2, first=10**6)
        assert wal_size(wal) <= size, (size, wal_size(wal))
        async with db.transaction() as session:
            count = await session.scalar(select(func.count(ProcessedUpdate.update_id)))
            assert count == CHECKPOINT_EVERY * 10 + CHECKPOINT_EVERY // 2
    finally:
        await db.dispose()


async def test_every_statement_of_a_selfcheck_is_compiled_once_and_then_cached(
    core: BotCore,
) -> None:
    # SQLAlchemy compiles a statement without a cache key at every execution (a multi-row
    # VALUES, for one): on the hot path that cost more than running it (bench/hot_path.py).
    uncached: list[str] = []

    def check(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: Any):
        if context.compiled is not None and context.cache_hit is CacheStats.NO_CACHE_KEY:
            uncached.append(statement)

    event.listen(core.db.engine.sync_engine, "before_cursor_execute", check)
    user = CoreUser(core, 1000)
    await user.says("/start")
    await user.taps("Nederlands")
    await user.taps("Ja, dat mag")
    await user.says("/zelftest")
    for _ in range(10):
        await user.taps(user.buttons[0].label)
    assert "Vraag" not in user.last_text  # the result, not a question
    assert uncached == []
