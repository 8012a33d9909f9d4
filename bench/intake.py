"""Durable intake (issue 13): what a crash or a database outage costs, and what the guarantee costs.

Real `run` and `serve` processes against the fake Bot API, on SQLite and PostgreSQL:
1. kill -9: N caregivers (default 1000) each send /taal; the bot is killed with SIGKILL once a
   fifth are answered, then started again. For `serve` this process plays Telegram: at most 40
   deliveries at once, and an update is delivered again until it was answered 200. Prints lost
   (never stored, or never answered), answered twice, and the replies lost in the documented
   window (update committed by the killed process, reply not yet sent).
2. outage: the database (a PostgreSQL cluster of this bench, never the shared server) is stopped
   for `--outage` seconds (default 30) while caregivers keep writing; prints lost and doubled
   once it is back.
3. cost: updates/s and p99 of the self-check walk (bench/throughput.py, saturated) with the code
   before this change (`--before`, a git revision, exported to a temporary directory) and with
   this tree, in the same run.

    python bench/intake.py [--updates 1000] [--outage 30] [--before 298e6ab] [--skip cost]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import throughput  # noqa: E402
from bench.throughput import WALK_OURS, run_case, with_postgres  # noqa: E402
from bot.db.models import ProcessedUpdate  # noqa: E402
from bot.db.session import Database  # noqa: E402
from tests import pgcluster  # noqa: E402
from tests.fakebotapi import FakeBotAPI  # noqa: E402
from tests.postgres_server import postgres_server  # noqa: E402
from tests.test_processes import free_port  # noqa: E402

TOKEN = "123456:BENCH-token-for-the-fake-api-0000"
SECRET = "bench-intake-secret-000001"
FIRST_CHAT = 50_000
CONNECTIONS = 40  # Telegram's default max_connections for a webhook


async def command(*args: str, env: dict[str, str] | None = None) -> None:
    process = await asyncio.create_subprocess_exec(*args, cwd=ROOT, env=env,
                                                   stdout=subprocess.DEVNULL)  # fmt: skip
    if await process.wait() != 0:
        raise RuntimeError(f"{args} failed")


async def stored_ids(url: str) -> set[int]:
    db = Database(url)
    try:
        async with db.transaction() as session:
            return set((await session.scalars(select(ProcessedUpdate.update_id))).all())
    finally:
        await db.dispose()


class Bot:
    """One `run`/`serve` process of this tree, restartable."""

    def __init__(self, mode: str, fake: FakeBotAPI, url: str, cwd: Path) -> None:
        self.mode, self.fake, self.url, self.cwd = mode, fake, url, cwd
        self.port = free_port()
        self.process: asyncio.subprocess.Process | None = None
        self.log = (cwd / f"{mode}.log").open("a")

    @property
    def webhook(self) -> str:
        return f"http://127.0.0.1:{self.port}/telegram/webhook"

    async def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": TOKEN,
               "TELEGRAM_API_BASE_URL": self.fake.base_url, "DATABASE_URL": self.url,
               "LOG_LEVEL": "WARNING", "PORT": str(self.port),
               "WEBHOOK_URL": "https://bot.example.org", "WEBHOOK_SECRET": SECRET}  # fmt: skip
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", self.mode, cwd=self.cwd, env=env,
            stdout=subprocess.DEVNULL, stderr=self.log,
        )  # fmt: skip
        if self.mode == "serve":
            async with aiohttp.ClientSession() as http:
                for _ in range(600):
                    try:
                        async with http.get(self.webhook.replace("telegram/webhook", "healthz")):
                            return
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.05)
            raise RuntimeError("serve did not start")

    async def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        await self.process.wait()

    def ensure_gone(self) -> None:
        """After a failed case: no bot process outlives the bench."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()

    async def stop(self) -> None:
        assert self.process is not None
        self.process.terminate()
        await asyncio.wait_for(self.process.wait(), 60)


class Telegram:
    """Delivers updates to a webhook as Telegram does: again until answered 200."""

    def __init__(self, fake: FakeBotAPI, bot: Bot) -> None:
        self.fake, self.bot = fake, bot
        self.acknowledged: set[int] = set()
        self.gate = asyncio.Semaphore(CONNECTIONS)

    async def deliver(self, update_id: int, until_acknowledged: bool = True) -> None:
        pause = 0.1
        while update_id not in self.acknowledged:
            async with self.gate:
                try:
                    status, _ = await self.fake.post_to_webhook(
                        self.bot.webhook, self.fake._sent_updates[update_id], SECRET
                    )
                except aiohttp.ClientError:
                    status = 0
            if status == 200:
                self.acknowledged.add(update_id)
            elif not until_acknowledged:
                return
            else:
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)


def outcome(fake: FakeBotAPI, updates: dict[int, int], stored: set[int]) -> dict[str, int]:
    counts = {u: len(fake.sent_messages(chat)) for u, chat in updates.items()}
    return {
        "not stored": len(set(updates) - stored),
        "unanswered": sum(1 for c in counts.values() if c == 0),
        "twice": sum(1 for c in counts.values() if c > 1),
    }


async def kill_case(mode: str, url: str, n: int, tmp: Path) -> dict[str, Any]:
    async with FakeBotAPI(parse_html=False) as fake:
        bot = Bot(mode, fake, url, tmp)
        try:
            return await _kill_case(fake, bot, url, n)
        finally:
            bot.ensure_gone()


async def _kill_case(fake: FakeBotAPI, bot: Bot, url: str, n: int) -> dict[str, Any]:
    mode = bot.mode
    chats = range(FIRST_CHAT, FIRST_CHAT + n)
    updates = {fake.user_sends_text(chat, "/taal"): chat for chat in chats}
    telegram = Telegram(fake, bot)

    def answered() -> int:
        return sum(1 for chat in chats if fake.sent_messages(chat))

    await bot.start()
    started = time.perf_counter()
    posting = None
    if mode == "serve":
        posting = asyncio.gather(*(telegram.deliver(u, False) for u in updates))
    await fake.wait_for(lambda f: answered() >= n // 5, timeout=120)
    await bot.kill()
    if posting is not None:
        await posting
    at_kill = answered()
    stored_at_kill = await stored_ids(url)
    acknowledged_not_stored = len(telegram.acknowledged - stored_at_kill)
    await bot.start()
    if mode == "serve":
        await asyncio.gather(*(telegram.deliver(u) for u in updates))
    else:
        await fake.wait_for(lambda f: f.pending_updates == 0, timeout=300)
    await bot.stop()  # a graceful stop sends every reply in hand
    elapsed = time.perf_counter() - started
    result = outcome(fake, updates, await stored_ids(url))
    window = sum(
        1 for u, chat in updates.items() if u in stored_at_kill and not fake.sent_messages(chat)
    )
    return {"in flight at kill": n - at_kill, "acked, not stored": acknowledged_not_stored,
            **result, "window": window, "seconds": elapsed}  # fmt: skip


async def outage_case(mode: str, cluster: pgcluster.OwnPostgres, seconds: float, tmp: Path,
                      rate: float = 20.0) -> dict[str, Any]:  # fmt: skip
    """Caregivers write at `rate` updates/s for 5 s, then the database stops for `seconds`
    while they go on, then 5 s more after it is back."""
    async with FakeBotAPI(parse_html=False) as fake:
        bot = Bot(mode, fake, cluster.url, tmp)
        try:
            return await _outage_case(fake, bot, cluster, seconds, rate)
        finally:
            bot.ensure_gone()


async def _outage_case(fake: FakeBotAPI, bot: Bot, cluster: pgcluster.OwnPostgres,
                       seconds: float, rate: float) -> dict[str, Any]:  # fmt: skip
    mode = bot.mode
    telegram = Telegram(fake, bot)
    updates: dict[int, int] = {}
    deliveries: list[Awaitable[None]] = []
    await bot.start()

    async def write_for(duration: float) -> None:
        end = time.perf_counter() + duration
        while time.perf_counter() < end:
            chat = FIRST_CHAT + len(updates)
            update_id = fake.user_sends_text(chat, "/taal")
            updates[update_id] = chat
            if mode == "serve":
                deliveries.append(asyncio.ensure_future(telegram.deliver(update_id)))
            await asyncio.sleep(1 / rate)

    await write_for(5)
    await cluster.stop()
    down = time.perf_counter()
    await write_for(seconds)
    during = len(updates)
    await cluster.start()
    back = time.perf_counter()
    await write_for(5)
    if deliveries:
        await asyncio.gather(*deliveries)
    else:
        await fake.wait_for(lambda f: f.pending_updates == 0, timeout=120)
    chats = list(updates.values())
    try:
        await fake.wait_for(lambda f: all(f.sent_messages(c) for c in chats), timeout=60)
    except AssertionError:
        pass  # counted as unanswered below
    caught_up = time.perf_counter() - back
    await bot.stop()
    result = outcome(fake, updates, await stored_ids(cluster.url))
    return {"updates": len(updates), "sent while down": during - int(5 * rate),
            **result, "down s": back - down, "caught up s": caught_up}  # fmt: skip


def show(title: str, rows: list[tuple[str, dict[str, Any]]]) -> None:
    print(title, flush=True)
    keys = list(rows[0][1])
    print(f"{'case':<20}" + "".join(f"{k:>19}" for k in keys))
    for name, row in rows:
        cells = "".join(f"{v:>19.1f}" if isinstance(v, float) else f"{v:>19}" for v in row.values())
        print(f"{name:<20}{cells}")
    print(flush=True)


async def kills(n: int) -> None:
    rows = []
    for mode in ("run", "serve"):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"
            env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
            await command(sys.executable, "-m", "bot", "db", "upgrade", env=env)
            rows.append((f"{mode}, SQLite", await kill_case(mode, url, n, Path(tmp))))

        async def on_postgres(url: str, mode: str = mode) -> dict[str, Any]:
            with tempfile.TemporaryDirectory() as tmp:
                return await kill_case(mode, url, n, Path(tmp))

        rows.append((f"{mode}, PostgreSQL", await with_postgres(on_postgres)))
    show(f"kill -9 with {n} updates (one per caregiver), restart, Telegram re-delivers", rows)


async def outages(seconds: float) -> None:
    rows = []
    async with pgcluster.OwnPostgres() as cluster:
        for mode in ("run", "serve"):
            with tempfile.TemporaryDirectory() as tmp:
                rows.append((f"{mode}, PostgreSQL", await outage_case(mode, cluster, seconds,
                                                                      Path(tmp))))  # fmt: skip
            await _truncate(cluster.url)
    show(f"database stopped for {seconds:g} s under load (20 updates/s), then started again", rows)


async def _truncate(url: str) -> None:
    from tests.conftest import _truncate_postgres

    await _truncate_postgres(url)


async def cost(before: str, caregivers: int) -> None:
    run = [sys.executable, "-m", "bot", "run"]
    with tempfile.TemporaryDirectory() as old:
        await command("sh", "-c", f"git archive {before} | tar -x -C {old}")
        rows: list[dict[str, Any]] = []
        trees: list[tuple[str, Path]] = [(f"before ({before})", Path(old)), ("after", ROOT)]
        for label, root in trees:
            with tempfile.TemporaryDirectory() as tmp:
                sqlite = f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"
                rows.append(await run_case(f"{label}, SQLite", run, {"DATABASE_URL": sqlite},
                                           WALK_OURS, caregivers, root=root))  # fmt: skip

            async def on_postgres(url: str, label: str = label, root: Path = root) -> Any:
                return await run_case(f"{label}, PostgreSQL", run, {"DATABASE_URL": url},
                                      WALK_OURS, caregivers, root=root)  # fmt: skip

            rows.append(await with_postgres(on_postgres))
    print(f"cost: {caregivers} caregivers walking the self-check without pause ({len(WALK_OURS)} "
          "updates each), `run`, bench/throughput.py")  # fmt: skip
    print(f"{'case':<34}{'updates':>8}{'updates/s':>11}{'p50 ms':>9}{'p99 ms':>9}")
    for r in rows:
        print(f"{r['name']:<34}{r['updates']:>8}{r['rate']:>11.1f}{r['p50']:>9.1f}"
              f"{r['p99']:>9.1f}")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--outage", type=float, default=30.0)
    parser.add_argument("--before", default="298e6ab", help="git revision before the change")
    parser.add_argument("--caregivers", type=int, default=200, help="for the cost")
    parser.add_argument("--skip", action="append", default=[],
                        choices=["kill", "outage", "cost"])  # fmt: skip
    args = parser.parse_args()
    steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("kill", lambda: kills(args.updates)),
        ("outage", lambda: outages(args.outage)),
        ("cost", lambda: cost(args.before, args.caregivers)),
    ]
    for name, step in steps:
        if name not in args.skip:
            await step()


if __name__ == "__main__":
    # The PostgreSQL cases make their databases where bench/throughput.py does.
    with postgres_server(durable=True) as throughput.PG_ADMIN:
        asyncio.run(main())
