"""Benchmark: one staff notice to 10,000 caregivers through a real `python -m bot run` process
against the local fake Bot API, at a raised SEND_RATE.

Three runs on a fresh database each: without errors; with the fake answering 1% of sendMessage
calls with 429 (retry_after 1 s) and 1% with 500; and the same with a `kill -9` of the bot at 50%
and a restart. Prints achieved rate / configured rate (raw, and over the time not paused by
Telegram's RetryAfter), duplicates and lost recipients.

    python bench/broadcast.py [--db postgres|sqlite] [--recipients 10000] [--rate 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.db import migrate  # noqa: E402
from tests.fakebotapi import FakeBotAPI  # noqa: E402
from tests.postgres_server import postgres_server  # noqa: E402
from tests.test_broadcast_e2e import FIRST_CHAT, seed_broadcast, statuses  # noqa: E402

TOKEN = "123456:TEST-token-for-the-fake-api-000"
STAFF_CHAT = 299_999
PG_ADMIN_URL = ""  # set below from tests/postgres_server.py: TEST_POSTGRES_URL or our own server


@asynccontextmanager
async def database(kind: str) -> AsyncIterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite+aiosqlite:///{directory}/bench.sqlite3"
            await migrate.upgrade_async(url)
            yield url
        return
    name = f"bot_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{base}/{name}"
    try:
        await migrate.upgrade_async(url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def start_bot(env: dict[str, str], cwd: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run",
        env={**os.environ, "PYTHONPATH": str(ROOT), **env}, cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


def pause_seconds(fake: FakeBotAPI, retry_after: float) -> float:
    """How long Telegram (the fake) told the bot to hold bulk sending: the union of the
    [429 answer, + retry_after] intervals."""
    starts = sorted(c.at for c in fake.calls_to("sendMessage") if c.status == 429)
    total, end = 0.0, float("-inf")
    for start in starts:
        if start >= end:
            total += retry_after
        else:
            total += max(0.0, start + retry_after - end)
        end = max(end, start + retry_after)
    return total


async def run(kind: str, recipients: int, rate: float, errors: bool, kill: bool) -> str:
    async with FakeBotAPI() as fake, database(kind) as url:
        if errors:
            fake.error_rate("sendMessage", {429: 0.01, 500: 0.01}, seed=7, retry_after=1)
        await seed_broadcast(url, recipients, datetime.now(UTC), report_chat=STAFF_CHAT)
        chats = range(FIRST_CHAT, FIRST_CHAT + recipients)

        def reached(f: FakeBotAPI) -> int:
            return sum(1 for c in chats if f.sent_messages(c))

        def reported(f: FakeBotAPI) -> bool:
            return any("Je bericht is verstuurd" in m.get("text", "")
                       for m in f.sent_messages(STAFF_CHAT))  # fmt: skip

        env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake.base_url,
               "DATABASE_URL": url, "SEND_RATE": str(rate), "LOG_LEVEL": "WARNING"}  # fmt: skip
        with tempfile.TemporaryDirectory() as cwd:
            process = await start_bot(env, cwd)
            restart_gap = 0.0
            try:
                if kill:
                    await fake.wait_for(lambda f: reached(f) >= recipients // 2, timeout=600)
                    process.kill()
                    await process.wait()
                    killed_at = time.monotonic()
                    process = await start_bot(env, cwd)
                    at_kill = reached(fake)
                    await fake.wait_for(lambda f: reached(f) > at_kill, timeout=120)
                    restart_gap = time.monotonic() - killed_at
                await fake.wait_for(reported, timeout=1200)
            finally:
                if process.returncode is None:
                    process.terminate()
                    await process.wait()
        sends = [
            c.at
            for c in fake.calls_to("sendMessage")
            if c.status == 200 and FIRST_CHAT <= int(c.params["chat_id"]) < FIRST_CHAT + recipients
        ]
        elapsed = max(sends) - min(sends)
        paused = pause_seconds(fake, 1.0) if errors else 0.0
        per_chat = [len(fake.sent_messages(c)) for c in chats]
        duplicates = sum(n - 1 for n in per_chat if n > 1)
        lost = sum(1 for n in per_chat if n == 0)
        achieved = len(sends) / elapsed
        working = len(sends) / max(elapsed - paused - restart_gap, 1e-9)
        rows = await statuses(url)
        status_429 = sum(1 for c in fake.calls_to("sendMessage") if c.status == 429)
        status_5xx = sum(1 for c in fake.calls_to("sendMessage") if c.status >= 500)
        label = ("errors 1% 429 + 1% 5xx" if errors else "no errors") + (
            ", kill -9 at 50% + restart" if kill else ""
        )
        return (
            f"{kind}, {recipients} recipients at SEND_RATE={rate:g}, {label}:\n"
            f"  answers: {status_429} x 429, {status_5xx} x 5xx; paused by RetryAfter "
            f"{paused:.1f}s; restart gap {restart_gap:.1f}s\n"
            f"  elapsed {elapsed:.1f}s (first to last send), achieved {achieved:.0f}/s = "
            f"{achieved / rate:.2f} of configured; outside pauses and restart "
            f"{working:.0f}/s = {working / rate:.2f}\n"
            f"  duplicates {duplicates}, lost {lost}; delivery rows {rows}"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=500.0)
    args = parser.parse_args()
    for errors, kill in ((False, False), (True, False), (True, True)):
        print(await run(args.db, args.recipients, args.rate, errors, kill), flush=True)


if __name__ == "__main__":
    with postgres_server(durable=True) as PG_ADMIN_URL:
        asyncio.run(main())
