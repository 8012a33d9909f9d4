"""Memory of one bot process: does it grow with the number of caregivers stored? (issue 9)

For 1,000 and 100,000 stored caregivers, on SQLite and on PostgreSQL: a fresh database is filled
fast (PostgreSQL: COPY; SQLite: executemany) with caregivers who each have a completed self-check
(10 answers and a result), a check-in schedule with two check-in answers and the next check-in
pending. Then a real `python -m bot run` starts against the local fake Bot API and its resident
memory (VmRSS from /proc/<pid>/status) is read after start and after 2,000 updates from 200
distinct stored caregivers (each: /menu, /zelftest and 8 answers, one step after the other).

    python bench/memory.py [--sizes 1000 100000] [--only sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app.runtime import privacy_version  # noqa: E402
from bot.db import migrate  # noqa: E402
from tests.fakebotapi import Call, FakeBotAPI  # noqa: E402
from tests.postgres_server import postgres_server  # noqa: E402

TOKEN = "123456:BENCH-token-for-the-fake-api-0000"
PG_ADMIN = ""  # set below from tests/postgres_server.py: TEST_POSTGRES_URL or our own server
USER_BASE = 10_000_000  # telegram_user_id = chat_id = USER_BASE + caregiver id
ACTIVE = 200  # distinct caregivers sending updates
WALK: list[str | None] = ["/menu", "/zelftest"] + [None] * 8  # None: the first button shown
QUESTIONS = ["time", "health", "sleep", "social", "money", "work", "tension", "trapped",
             "support", "endurance"]  # fmt: skip
NOW = datetime.now(UTC).replace(microsecond=0)
CHUNK = 20_000


# ---------------------------------------------------------------- the rows


def rows(n: int) -> dict[str, tuple[list[str], Iterator[tuple[Any, ...]]]]:
    """Per table: its columns and a generator of rows for `n` caregivers (ids 1..n)."""
    version = privacy_version()
    then = NOW - timedelta(days=30)
    payload = json.dumps({"slot": "next"})

    def caregivers() -> Iterator[tuple[Any, ...]]:
        for i in range(1, n + 1):
            yield (i, USER_BASE + i, USER_BASE + i, "nl", version, then, then, NOW - timedelta(
                minutes=i % 10_000))  # fmt: skip

    def runs() -> Iterator[tuple[Any, ...]]:
        for i in range(1, n + 1):
            yield (i, i, "selfcheck", 1, then, then)

    def answers() -> Iterator[tuple[Any, ...]]:
        for i in range(1, n + 1):
            for q, question in enumerate(QUESTIONS):
                yield (i, i, "selfcheck", question, "sometimes", 1, then + timedelta(seconds=q))

    def results() -> Iterator[tuple[Any, ...]]:
        for i in range(1, n + 1):
            yield (i, i, "selfcheck", 10, 20, "heavy", "{}", then + timedelta(seconds=10))

    def schedules() -> Iterator[tuple[Any, ...]]:
        for i in range(1, n + 1):
            yield (i, "weekly", i % 7, 19 * 60 + 30, 2, then, then)

    def checkin_answers() -> Iterator[tuple[Any, ...]]:
        for i in range(1, n + 1):
            for week in (1, 2):
                yield (i, 3 + week, then + timedelta(days=7 * week))

    def scheduled() -> Iterator[tuple[Any, ...]]:
        for i in range(1, n + 1):
            due = NOW + timedelta(days=1 + i % 7, seconds=i % 3600)
            yield ("checkin", i, due, "pending", 0, payload, NOW)

    return {
        "caregiver": (["id", "telegram_user_id", "chat_id", "locale", "consent_version",
                       "consent_at", "created_at", "last_seen_at"], caregivers()),
        "dialog_run": (["id", "caregiver_id", "dialog_id", "dialog_version", "started_at",
                        "completed_at"], runs()),
        "answer": (["run_id", "caregiver_id", "dialog_id", "question_id", "value", "score",
                    "answered_at"], answers()),
        "result": (["run_id", "caregiver_id", "dialog_id", "score", "max_score", "band", "flags",
                    "completed_at"], results()),
        "checkin_schedule": (["caregiver_id", "cadence", "weekday", "minute", "asked_seq",
                              "created_at", "updated_at"], schedules()),
        "checkin_answer": (["caregiver_id", "score", "answered_at"], checkin_answers()),
        "scheduled_message": (["kind", "caregiver_id", "due_at", "status", "attempts", "payload",
                               "created_at"], scheduled()),
    }  # fmt: skip


def chunks(source: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in source:
        batch.append(row)
        if len(batch) >= CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def sqlite_value(value: Any) -> Any:
    # What SQLAlchemy's UTCDateTime stores on SQLite: naive UTC text.
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def fill_sqlite(path: Path, n: int) -> None:
    connection = sqlite3.connect(path)
    try:
        for table, (columns, source) in rows(n).items():
            sql = (f"INSERT INTO {table} ({', '.join(columns)}) "
                   f"VALUES ({', '.join('?' * len(columns))})")  # fmt: skip
            for batch in chunks(source):
                connection.executemany(sql, [tuple(map(sqlite_value, r)) for r in batch])
        connection.commit()
        connection.execute("ANALYZE")
    finally:
        connection.close()


async def fill_postgres(dsn: str, n: int) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        for table, (columns, source) in rows(n).items():
            for batch in chunks(source):
                await connection.copy_records_to_table(table, records=batch, columns=columns)
        for table in ("caregiver", "dialog_run"):  # ids were given: move the sequences on
            await connection.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n})")
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


# ---------------------------------------------------------------- the process


class WaitingFake(FakeBotAPI):
    """Resolves a caregiver's waiter when the bot sends them a message with buttons."""

    def __init__(self) -> None:
        super().__init__(parse_html=False)
        self.waiting: dict[int, asyncio.Future[None]] = {}

    def _record(self, call: Call) -> None:
        super()._record(call)
        if call.method == "sendMessage" and call.status == 200 and call.params.get("reply_markup"):
            future = self.waiting.pop(int(call.params["chat_id"]), None)
            if future is not None and not future.done():
                future.set_result(None)


async def walk(fake: WaitingFake, user_id: int) -> int:
    loop = asyncio.get_running_loop()
    for step in WALK:
        future: asyncio.Future[None] = loop.create_future()
        fake.waiting[user_id] = future
        if step is not None:
            fake.user_sends_text(user_id, step)
        else:
            message = fake.last_message(user_id)
            button = message["reply_markup"]["inline_keyboard"][0][0]
            fake.user_presses(user_id, message["message_id"], button["callback_data"])
        await asyncio.wait_for(future, 60)
    return len(WALK)


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


async def measure(database_url: str, n: int) -> dict[str, Any]:
    fake = WaitingFake()
    await fake.start()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": TOKEN,
             "TELEGRAM_API_BASE_URL": fake.base_url, "LOG_LEVEL": "WARNING",
             "DATABASE_URL": database_url},
    )  # fmt: skip
    try:
        # Started = it answered a first update (one stored caregiver opening the menu).
        first = USER_BASE + n
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fake.waiting[first] = future
        fake.user_sends_text(first, "/menu")
        await asyncio.wait_for(future, 120)
        await asyncio.sleep(2)
        started = rss_kib(process.pid)
        # The active caregivers are spread over everyone stored.
        step = max(1, n // ACTIVE)
        users = [USER_BASE + 1 + k * step for k in range(ACTIVE)]
        begun = time.perf_counter()
        updates = sum(await asyncio.gather(*(walk(fake, user) for user in users)))
        elapsed = time.perf_counter() - begun
        await asyncio.sleep(2)
        after = rss_kib(process.pid)
        peak = rss_kib(process.pid, "VmHWM")
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 60)
        await fake.stop()
    return {"n": n, "started": started, "after": after, "peak": peak, "updates": updates,
            "rate": updates / elapsed}  # fmt: skip


async def on_sqlite(n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "memory.sqlite3"
        url = f"sqlite+aiosqlite:///{path}"
        await migrate.upgrade_async(url)
        began = time.perf_counter()
        fill_sqlite(path, n)
        filled = time.perf_counter() - began
        result = await measure(url, n)
        result["size_mb"] = path.stat().st_size / 1e6
    return {"backend": "SQLite", "fill_s": filled, **result}


async def on_postgres(n: int) -> dict[str, Any]:
    name = f"bench_memory_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    url = dsn.replace("postgresql://", "postgresql+asyncpg://")
    try:
        await migrate.upgrade_async(url)
        began = time.perf_counter()
        await fill_postgres(dsn, n)
        filled = time.perf_counter() - began
        result = await measure(url, n)
        size = await admin.fetchval("SELECT pg_database_size($1)", name)
        result["size_mb"] = size / 1e6
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return {"backend": "PostgreSQL", "fill_s": filled, **result}


def report(results: list[dict[str, Any]]) -> None:
    print(f"{'backend':<12}{'stored':>9}{'DB MB':>8}{'fill s':>8}{'RSS start MiB':>15}"
          f"{'RSS after MiB':>15}{'peak MiB':>10}{'updates':>9}{'upd/s':>7}")  # fmt: skip
    for r in results:
        print(f"{r['backend']:<12}{r['n']:>9,}{r['size_mb']:>8.0f}{r['fill_s']:>8.1f}"
              f"{r['started'] / 1024:>15.1f}{r['after'] / 1024:>15.1f}{r['peak'] / 1024:>10.1f}"
              f"{r['updates']:>9}{r['rate']:>7.0f}")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    results = []
    for n in args.sizes:
        if args.only in (None, "sqlite"):
            results.append(await on_sqlite(n))
        if args.only in (None, "postgres"):
            results.append(await on_postgres(n))
    print(f"One `python -m bot run`; {ACTIVE} caregivers x {len(WALK)} updates after start")
    report(results)


if __name__ == "__main__":
    with postgres_server(durable=True) as PG_ADMIN:
        asyncio.run(main())
