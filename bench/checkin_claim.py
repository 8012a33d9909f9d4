"""Benchmark: one scheduler tick with 100,000 caregivers on a schedule and 2,000 check-ins due.

Times a whole tick without Telegram (claim, lock caregivers, build each check-in and schedule the
next, record the outcomes) on SQLite and PostgreSQL, and prints the plan of the due-rows query to
show it uses the (status, due_at) index. Creates its own database file / database and removes it.

    python bench/checkin_claim.py        (PostgreSQL: TEST_POSTGRES_URL, as the tests)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import insert, text
from sqlalchemy.dialects import postgresql, sqlite

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app.runtime import build_core, privacy_version
from bot.clock import FakeClock
from bot.config import Settings, load_settings
from bot.db import migrate
from bot.db.models import Caregiver
from bot.engine.output import OutMessage
from bot.features.checkin.models import CheckinSchedule
from bot.jobs.scheduled import ScheduledMessage, deliver_due, due_ids
from bot.transport.sender import SendOutcome
from tests.postgres_server import postgres_server

CAREGIVERS = 100_000
DUE = 2_000
CHUNK = 5_000
PG_ADMIN_URL = ""  # set below from tests/postgres_server.py: TEST_POSTGRES_URL or our own server
# Monday 23 November 2026, 19:30 in Amsterdam: outside quiet hours.
NOW = datetime(2026, 11, 23, 18, 30, tzinfo=UTC)


class NullSender:
    """Telegram is not part of the measurement: every message is 'sent' at once."""

    async def send(self, chat_id: int, message: OutMessage, *, bulk: bool = False) -> SendOutcome:
        return SendOutcome("sent", message_id=1)


def settings(url: str) -> Settings:
    return load_settings({"DATABASE_URL": url}, dotenv=None, require_token=False)


async def seed(url: str) -> None:
    core = build_core(settings(url), FakeClock(NOW))
    version = privacy_version()
    try:
        for start in range(0, CAREGIVERS, CHUNK):
            ids = range(start + 1, min(start + CHUNK, CAREGIVERS) + 1)
            async with core.db.transaction() as session:
                await session.execute(insert(Caregiver), [
                    {"id": i, "telegram_user_id": 10_000_000 + i, "chat_id": 10_000_000 + i,
                     "locale": "nl", "consent_version": version, "consent_at": NOW,
                     "created_at": NOW, "last_seen_at": NOW} for i in ids
                ])  # fmt: skip
                await session.execute(insert(CheckinSchedule), [
                    {"caregiver_id": i, "cadence": "weekly", "weekday": 0, "minute": 19 * 60 + 30,
                     "asked_seq": 0, "created_at": NOW, "updated_at": NOW} for i in ids
                ])  # fmt: skip
                # DUE rows fell due in the last minutes; the rest spread over the coming week.
                await session.execute(insert(ScheduledMessage), [
                    {"kind": "checkin", "caregiver_id": i, "status": "pending", "attempts": 0,
                     "payload": {"slot": "2026-11-23"}, "created_at": NOW,
                     "due_at": NOW - timedelta(seconds=i) if i <= DUE
                     else NOW + timedelta(seconds=60 + i * 6)} for i in ids
                ])  # fmt: skip
    finally:
        await core.db.dispose()


async def tick(url: str) -> tuple[float, str]:
    core = build_core(settings(url), FakeClock(NOW))
    try:
        dialect = core.db.engine.dialect.name
        query = due_ids(NOW, DUE)
        compiled = query.compile(
            dialect=postgresql.dialect() if dialect == "postgresql" else sqlite.dialect(),
            compile_kwargs={"literal_binds": True},
        )
        explain = "EXPLAIN" if dialect == "postgresql" else "EXPLAIN QUERY PLAN"
        async with core.db.transaction() as session:
            await session.execute(text("ANALYZE"))  # fresh statistics, as a live database has
            rows = (await session.execute(text(f"{explain} {compiled}"))).all()
        plan = "\n".join("  " + " ".join(str(c) for c in row) for row in rows)
        started = time.perf_counter()
        report = await deliver_due(core, NullSender(), "bench", limit=DUE)  # type: ignore[arg-type]
        elapsed = time.perf_counter() - started
        assert report.sent == DUE, report
        return elapsed, plan
    finally:
        await core.db.dispose()


async def on_sqlite() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/bench.sqlite3"
        await migrate.upgrade_async(url)
        await seed(url)
        elapsed, plan = await tick(url)
    report("SQLite", elapsed, plan)


async def on_postgres() -> None:
    name = f"bench_checkin_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        url = f"{base}/{name}"
        await migrate.upgrade_async(url)
        await seed(url)
        elapsed, plan = await tick(url)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    report("PostgreSQL", elapsed, plan)


def report(backend: str, elapsed: float, plan: str) -> None:
    print(f"{backend}: {CAREGIVERS:,} caregivers with schedules, {DUE:,} due")
    per_row = elapsed / DUE * 1e6
    print(f"  one tick (claim, build, schedule next, record; no Telegram): {elapsed * 1000:.0f} ms")
    print(f"  = {per_row:.0f} µs per check-in")
    print("  plan of the due-rows query:")
    print(plan)


async def main() -> None:
    await on_sqlite()
    await on_postgres()


if __name__ == "__main__":
    with postgres_server(durable=True) as PG_ADMIN_URL:
        asyncio.run(main())
