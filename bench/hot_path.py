"""The bot's own work per step, without Telegram: CPU ms and SQL statements per update (issue 20).

    python bench/hot_path.py [--caregivers 100] [--only sqlite|postgres] [--profile FILE]

In this one process, `--caregivers` caregivers one after another walk what bench/throughput.py
walks (/start, language, consent, /zelftest and the ten questions: 14 updates each), straight
through `BotCore.handle` (claim, caregiver, router, dialog, commit): no Bot API, no update
parsing, no sending. Prints the CPU ms of this process per update, SQL statements per update
(SQLAlchemy's `before_cursor_execute`, BEGIN and COMMIT not counted) and transactions per
update. One warm-up caregiver walks first. `--profile FILE` writes a cProfile of the measured
walks (look at it with `python -m pstats FILE`).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app.dispatch import BotCore, Incoming  # noqa: E402
from bot.app.runtime import build_core  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.db import migrate  # noqa: E402
from bot.engine.flow import Event  # noqa: E402
from tests.postgres_server import postgres_server  # noqa: E402

STEPS_PER_WALK = 14
TOKEN = "123456:BENCH-token-for-the-hot-path-000"


class Counts:
    def __init__(self, core: BotCore) -> None:
        self.statements = self.transactions = 0
        event.listen(core.db.engine.sync_engine, "before_cursor_execute", self._statement)
        event.listen(core.db.engine.sync_engine, "begin", self._begin)

    def _statement(self, *_args: Any) -> None:
        self.statements += 1

    def _begin(self, *_args: Any) -> None:
        self.transactions += 1


async def walk(core: BotCore, user_id: int, next_update: Any) -> None:
    """One caregiver: /start, language, consent, /zelftest, then the first answer ten times."""
    buttons: list[str] = []

    async def send(event_: Event) -> None:
        reply = await core.handle(Incoming(user_id, user_id, event_, "nl", next_update()))
        assert reply is not None
        for message in reply.messages:
            if message.buttons:
                buttons[:] = [b.data for row in message.buttons for b in row if b.data]

    await send(Event("command", "start"))
    await send(Event("button", buttons[0]))  # Nederlands
    await send(Event("button", buttons[0]))  # Ja, dat mag
    await send(Event("command", "zelftest"))
    for _ in range(STEPS_PER_WALK - 4):
        await send(Event("button", buttons[0]))


async def measure(url: str, caregivers: int, profile: str | None) -> dict[str, float]:
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "DATABASE_URL": url}
    settings = load_settings(env, dotenv=None)
    core = build_core(settings, SystemClock())
    counter = iter(range(1, 10**9))
    try:
        await walk(core, 10_000_000, lambda: next(counter))  # warm-up
        counts = Counts(core)
        profiler = cProfile.Profile() if profile else None
        cpu = time.process_time()
        if profiler is not None:
            profiler.enable()
        for user in range(caregivers):
            await walk(core, 1 + user, lambda: next(counter))
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        cpu = time.process_time() - cpu
    finally:
        await core.db.dispose()
    steps = caregivers * STEPS_PER_WALK
    return {
        "cpu_ms": cpu / steps * 1000,
        "sql": counts.statements / steps,
        "tx": counts.transactions / steps,
    }


async def on_postgres(admin_url: str, caregivers: int, profile: str | None) -> dict[str, float]:
    name = f"bot_hot_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url += f"/{name}"
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        return await measure(url, caregivers, profile)
    finally:
        admin = await asyncpg.connect(admin_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--caregivers", type=int, default=100)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--profile", metavar="FILE")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    if args.only != "postgres":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{folder}/bench.sqlite3"
            migrate.upgrade(url)
            results["SQLite"] = asyncio.run(measure(url, args.caregivers, args.profile))
    if args.only != "sqlite":
        with postgres_server(durable=True) as admin_url:
            results["PostgreSQL"] = asyncio.run(
                on_postgres(admin_url, args.caregivers, args.profile)
            )
    steps = args.caregivers * STEPS_PER_WALK
    print(f"{steps} updates per database through BotCore.handle (no Telegram), in one process")
    print(f"{'database':<12}{'CPU ms/update':>14}{'SQL/update':>12}{'tx/update':>11}")
    for name, r in results.items():
        print(f"{name:<12}{r['cpu_ms']:>14.3f}{r['sql']:>12.2f}{r['tx']:>11.2f}")


if __name__ == "__main__":
    main()
