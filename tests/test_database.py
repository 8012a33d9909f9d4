"""The database layer's own guarantees on SQLite: transactions queue in order, and the WAL file is
checkpointed beside the transactions (never inside a committing one), so it stays small."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from bot.db.models import ProcessedUpdate
from bot.db.session import CHECKPOINT_EVERY, Database

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
