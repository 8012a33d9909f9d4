"""Throughput and latency of one bot instance against the local fake Bot API (issue 9).

Same run, same fake, on this machine: (1) a bare PTB bot answering every update with a fixed text
(aiohttp request backend, and once with PTB's default httpx), (2) our bot with simulated
caregivers each walking /start, language, consent and the whole self-check (every update reads
and writes state), on SQLite and on PostgreSQL. The bot runs in its own process; this process runs
the fake and the caregivers. Prints updates/s, p50/p99 latency (update delivered -> the bot's
answer with buttons) and the ratio ours/baseline.

    python bench/throughput.py [--caregivers 200] [--think 2] [--only sqlite|postgres]

Two runs: saturated (every caregiver taps again the moment the answer arrives: measures capacity)
and paced (caregivers read for about `--think` seconds per step, as people do: measures latency
at a realistic load of 200 concurrent caregivers).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakebotapi import Call, FakeBotAPI  # noqa: E402
from tests.postgres_server import postgres_server  # noqa: E402

TOKEN = "123456:BENCH-token-for-the-fake-api-0000"
PG_ADMIN = ""  # set below from tests/postgres_server.py: TEST_POSTGRES_URL or our own server
# The walk of one caregiver: commands and button labels (None = the first button shown).
WALK_OURS: list[str | None] = ["/start", "Nederlands", "Ja, dat mag", "/zelftest"] + [None] * 10
WALK_BASELINE: list[str | None] = ["/start"] + [None] * 13
PROFILE: list[str] = []


class MeasuringFake(FakeBotAPI):
    """Resolves a waiter when the bot sends a message with buttons to that chat."""

    def __init__(self) -> None:
        super().__init__(parse_html=False)
        self.waiting: dict[int, asyncio.Future[float]] = {}

    def _record(self, call: Call) -> None:
        super()._record(call)
        if call.method == "sendMessage" and call.status == 200 and call.params.get("reply_markup"):
            future = self.waiting.pop(int(call.params["chat_id"]), None)
            if future is not None and not future.done():
                future.set_result(time.perf_counter())


async def caregiver(
    fake: MeasuringFake, user_id: int, walk: list[str | None], out: list[float], think: float = 0
) -> None:
    """Walk `walk`; with `think`, pause 0.5-1.5 x `think` seconds before each step, as a person
    reading the question would (0: the next step at once, which saturates the bot)."""
    loop = asyncio.get_running_loop()
    pace = random.Random(user_id)
    for step in walk:
        if think:
            await asyncio.sleep(think * pace.uniform(0.5, 1.5))
        future: asyncio.Future[float] = loop.create_future()
        fake.waiting[user_id] = future
        started = time.perf_counter()
        if step is not None and step.startswith("/"):
            fake.user_sends_text(user_id, step)
        else:
            message = fake.last_message(user_id)
            buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
            chosen = next((b for b in buttons if step is None or b["text"] == step), buttons[0])
            fake.user_presses(user_id, message["message_id"], chosen["callback_data"])
        out.append(await asyncio.wait_for(future, 30) - started)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_case(
    name: str,
    command: list[str],
    env: dict[str, str],
    walk: list[str | None],
    caregivers: int,
    think: float = 0,
    root: Path = ROOT,
) -> dict[str, Any]:
    """One case; `root` is the source tree the bot runs from (bench/intake.py: an older one)."""
    fake = MeasuringFake()
    await fake.start()
    process = await asyncio.create_subprocess_exec(
        *command, cwd=root,
        env={**os.environ, "PYTHONPATH": str(root), "TELEGRAM_BOT_TOKEN": TOKEN,
             "TELEGRAM_API_BASE_URL": fake.base_url, "LOG_LEVEL": "WARNING", **env},
    )  # fmt: skip
    try:
        await fake.wait_for(lambda f: f.calls_to("getUpdates"), timeout=60)
        # Warm-up: one caregiver walks first (imports, connections, first queries).
        await caregiver(fake, 10_000_000, walk, [])
        latencies: list[float] = []
        spy = None
        if PROFILE and command[1:3] == ["-m", "bot"]:
            spy = await asyncio.create_subprocess_exec(
                "py-spy", "record", "--gil", "--format", "raw", "--nonblocking", "-o", PROFILE[0],
                "--pid", str(process.pid), stdout=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            await asyncio.sleep(1)
        cpu_before = cpu_seconds(process.pid)
        started = time.perf_counter()
        await asyncio.gather(
            *(caregiver(fake, 1 + i, walk, latencies, think) for i in range(caregivers))
        )
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(process.pid) - cpu_before
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            await spy.wait()
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
        await fake.stop()
    latencies.sort()
    return {
        "name": name,
        "updates": len(latencies),
        "rate": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        # CPU of the bot process per update and its share of one core while measuring.
        "cpu_ms": cpu / len(latencies) * 1000,
        "busy": cpu / elapsed,
    }


async def with_postgres(run: Any) -> Any:
    """Run `run(database_url)` on a fresh, migrated PostgreSQL database."""
    name = f"bot_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
    try:
        upgrade = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "db", "upgrade", cwd=ROOT,
            env={**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"},
            stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await upgrade.wait()
        return await run(url)
    finally:
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def measure(n: int, think: float, only: str | None) -> list[dict[str, Any]]:
    baseline_cmd = [sys.executable, str(ROOT / "bench" / "baseline_bot.py")]
    ours_cmd = [sys.executable, "-m", "bot", "run"]
    results = [await run_case("baseline, aiohttp", baseline_cmd, {}, WALK_BASELINE, n, think)]
    if only is None:
        results.append(await run_case("baseline, httpx", [*baseline_cmd, "--httpx"], {},
                                      WALK_BASELINE, n, think))  # fmt: skip
    if only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            sqlite = f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"
            results.append(await run_case("ours, SQLite", ours_cmd, {"DATABASE_URL": sqlite},
                                          WALK_OURS, n, think))  # fmt: skip
    if only in (None, "postgres"):
        results.append(await with_postgres(
            lambda url: run_case("ours, PostgreSQL", ours_cmd, {"DATABASE_URL": url},
                                 WALK_OURS, n, think)
        ))  # fmt: skip
    return results


def report(title: str, results: list[dict[str, Any]]) -> None:
    base = results[0]["rate"]
    print(title)
    print(f"{'case':<22}{'updates':>8}{'updates/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'ratio':>7}"
          f"{'CPU ms/upd':>12}{'bot CPU':>9}")  # fmt: skip
    for r in results:
        print(f"{r['name']:<22}{r['updates']:>8}{r['rate']:>11.1f}{r['p50']:>9.1f}"
              f"{r['p99']:>9.1f}{r['rate'] / base:>7.2f}{r['cpu_ms']:>12.2f}"
              f"{r['busy']:>8.0%}")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--caregivers", type=int, default=200)
    parser.add_argument("--only", choices=["baseline", "sqlite", "postgres"],
                        help="the aiohttp baseline and this one case (profiling)")  # fmt: skip
    parser.add_argument("--profile", metavar="FILE",
                        help="record our bot with py-spy into FILE (collapsed stacks)")  # fmt: skip
    parser.add_argument("--think", type=float, default=2.0,
                        help="mean seconds a caregiver reads before the next tap, for the paced "
                             "run (0: skip it)")  # fmt: skip
    args = parser.parse_args()
    n = args.caregivers
    if args.profile:
        PROFILE.append(args.profile)
    steps = f"{len(WALK_OURS)} updates each; bot in its own process"
    report(f"Saturated: {n} caregivers tapping without pause, {steps}",
           await measure(n, 0, args.only))  # fmt: skip
    if args.think:
        print()
        report(f"Paced: {n} caregivers reading {args.think:g} s (0.5-1.5x) per step, {steps}",
               await measure(n, args.think, args.only))  # fmt: skip


if __name__ == "__main__":
    with postgres_server(durable=True) as PG_ADMIN:
        asyncio.run(main())
