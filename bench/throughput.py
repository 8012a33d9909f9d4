"""Throughput and latency of one bot instance against the local fake Bot API (issues 9 and 20).

Same run, same fake, on this machine, each bot in its own process (this process runs the fake and
the simulated caregivers):
- echo: a bare PTB bot answering every update with one fixed text and button (baseline_bot.py);
- ceiling: a bare PTB bot doing what a step of ours must do at least, no database: answer the
  tap and send a new question with buttons (ceiling_bot.py);
- ours, `python -m bot run` (the durable polling intake), each caregiver walking /start,
  language, consent and the whole self-check (every update reads and writes state), on SQLite
  and on PostgreSQL; with `--intake` also ours fed by PTB's Updater (updater_bot.py, not durable:
  what the durable intake costs).
A step ends at the first message with buttons to that caregiver. Our bot runs with the per-user
flood brake off (FLOOD_LIMIT): closed-loop users tap far faster than people.

    python bench/throughput.py [--users 100] [--caregivers 200] [--only sqlite|postgres]
                               [--intake] [--speedups] [--echo] [--rounds N]
                               [--saturated-only | --paced-only] [--profile FILE]

Saturated: `--users` closed-loop users, each tapping again the moment the answer arrives
(capacity). Prints steps/s, the ratio ours/ceiling (same run), CPU ms per step of the bot process
(from /proc, robust to other load on the machine), SQL statements, transactions and
connection pings per step (bench/counted.py) and Bot API calls per step (the fake's count,
getUpdates apart, with the updates per non-empty getUpdates). Paced: `--caregivers` people each
tapping once every 2-3 s (latency at a realistic load): p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
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
NO_FLOOD_BRAKE = {"FLOOD_LIMIT": "1000000"}
COUNTED = [sys.executable, str(ROOT / "bench" / "counted.py")]


class MeasuringFake(FakeBotAPI):
    """Resolves a waiter when the bot sends a message with buttons to that chat; counts the
    updates each getUpdates hands out."""

    def __init__(self) -> None:
        super().__init__(parse_html=False)
        self.waiting: dict[int, asyncio.Future[float]] = {}
        self.batches: list[int] = []
        self.seen = 0

    def _record(self, call: Call) -> None:
        super()._record(call)
        if call.method == "sendMessage" and call.status == 200 and call.params.get("reply_markup"):
            future = self.waiting.pop(int(call.params["chat_id"]), None)
            if future is not None and not future.done():
                future.set_result(time.perf_counter())
        if call.method == "getUpdates":
            # The updates this poll handed out: delivered ones above the last counted id.
            fresh = [q.update_id for q in self._queue if q.delivered and q.update_id > self.seen]
            if fresh:
                self.batches.append(len(fresh))
                self.seen = max(fresh)


async def caregiver(
    fake: MeasuringFake,
    user_id: int,
    walk: list[str | None],
    out: list[float],
    think: tuple[float, float] | None = None,
) -> None:
    """Walk `walk`; with `think` (low, high), pause that many seconds (uniform) before each
    step, as a person reading the question would (None: the next step at once: saturation)."""
    loop = asyncio.get_running_loop()
    pace = random.Random(user_id)
    for step in walk:
        if think:
            await asyncio.sleep(pace.uniform(*think))
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


def server_cpu_seconds(name: str = "postgres") -> float:
    """User + system CPU time of every process called `name` (the database server's backends,
    its WAL writer and checkpointer), from /proc; backends that ended meanwhile are not counted."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        if stat.partition("(")[2].rpartition(")")[0] != name:
            continue
        fields = stat.rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def sql_counts(process: asyncio.subprocess.Process, path: Path) -> dict[str, int]:
    """The counts of bench/counted.py so far (it writes them on SIGUSR1)."""

    def read() -> dict[str, int]:
        return dict(json.loads(path.read_text())) if path.exists() else {"dumps": 0}

    before = read()["dumps"]
    process.send_signal(signal.SIGUSR1)
    for _ in range(500):
        await asyncio.sleep(0.01)
        if (counts := read())["dumps"] > before:
            return counts
    raise RuntimeError("the bot did not write its counts")


async def run_case(
    name: str,
    command: list[str],
    env: dict[str, str],
    walk: list[str | None],
    caregivers: int,
    think: tuple[float, float] | None = None,
    root: Path = ROOT,
) -> dict[str, Any]:
    """One case; `root` is the source tree the bot runs from (bench/intake.py: an older one)."""
    fake = MeasuringFake()
    await fake.start()
    stats = Path(tempfile.mkdtemp()) / "counts.json"
    process = await asyncio.create_subprocess_exec(
        *command, cwd=root,
        env={**os.environ, "PYTHONPATH": str(root), "TELEGRAM_BOT_TOKEN": TOKEN,
             "TELEGRAM_API_BASE_URL": fake.base_url, "LOG_LEVEL": "WARNING",
             "BENCH_STATS": str(stats), **env},
    )  # fmt: skip
    counted = command[:2] == COUNTED
    try:
        await fake.wait_for(lambda f: f.calls_to("getUpdates"), timeout=60)
        # Warm-up: one caregiver walks first (imports, connections, first queries).
        await caregiver(fake, 10_000_000, walk, [])
        latencies: list[float] = []
        spy = None
        if PROFILE and counted:
            spy = await asyncio.create_subprocess_exec(
                "py-spy", "record", "--gil", "--rate", "1000", "--format", "raw", "--nonblocking",
                "-o", PROFILE[0],
                "--pid", str(process.pid), stdout=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            await asyncio.sleep(1)
        counts_before = await sql_counts(process, stats) if counted else {}
        calls_before, batches_before = len(fake.calls), len(fake.batches)
        cpu_before, server_before = cpu_seconds(process.pid), server_cpu_seconds()
        started = time.perf_counter()
        await asyncio.gather(
            *(caregiver(fake, 1 + i, walk, latencies, think) for i in range(caregivers))
        )
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(process.pid) - cpu_before
        server_cpu = server_cpu_seconds() - server_before
        # Let the replies still in flight (after each step's question) arrive before counting.
        await asyncio.sleep(0.5)
        calls = fake.calls[calls_before:]
        counts = await sql_counts(process, stats) if counted else {}
        batches = fake.batches[batches_before:]
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            await spy.wait()
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
        await fake.stop()
    latencies.sort()
    steps = len(latencies)
    per_step = {k: (counts[k] - counts_before[k]) / steps for k in counts if k != "dumps"}
    return {
        "name": name,
        "updates": steps,
        "rate": steps / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(steps * 0.99) - 1] * 1000,
        # CPU of the bot process per step and its share of one core while measuring.
        "cpu_ms": cpu / steps * 1000,
        # The PostgreSQL server's CPU per step (its processes on this machine; ~0 for SQLite).
        "db_ms": server_cpu / steps * 1000,
        "busy": cpu / elapsed,
        "api": sum(c.method != "getUpdates" for c in calls) / steps,
        "batch": sum(batches) / len(batches) if batches else 0.0,
        **per_step,
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


async def measure(
    n: int,
    think: tuple[float, float] | None,
    only: str | None,
    intake: bool,
    extra: bool,
    speedups: bool = False,
    before: tuple[str, Path] | None = None,
) -> list[dict[str, Any]]:
    bench = ROOT / "bench"
    ceiling = [sys.executable, str(bench / "ceiling_bot.py")]
    results = [await run_case("ceiling (PTB, no db)", ceiling, {}, WALK_BASELINE, n, think)]
    if extra:
        echo = [sys.executable, str(bench / "baseline_bot.py")]
        results.append(await run_case("echo (PTB, no db)", echo, {}, WALK_BASELINE, n, think))
    intakes: list[tuple[str, list[str], dict[str, str], Path]] = [
        ("", [*COUNTED, "-m", "bot", "run"], {}, ROOT)
    ]
    if before is not None:  # the same bot from an older tree (a git revision), same run
        intakes.append((f" @{before[0]}", [*COUNTED, "-m", "bot", "run"], {}, before[1]))
    if intake:
        intakes.append((", not durable", [*COUNTED, str(bench / "updater_bot.py")], {}, ROOT))
    if speedups:
        intakes.append((", SPEEDUPS=0", [*COUNTED, "-m", "bot", "run"], {"SPEEDUPS": "0"}, ROOT))
    if only in (None, "sqlite"):
        for label, command, extra_env, root in intakes:
            with tempfile.TemporaryDirectory() as tmp:
                env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.sqlite3",
                       **NO_FLOOD_BRAKE, **extra_env}  # fmt: skip
                results.append(await run_case(f"ours, SQLite{label}", command, env,
                                              WALK_OURS, n, think, root))  # fmt: skip
    if only in (None, "postgres"):
        for label, command, extra_env, root in intakes:

            async def on_postgres(
                url: str, label: str = label, command: list[str] = command,
                extra_env: dict[str, str] = extra_env, root: Path = root,
            ) -> Any:  # fmt: skip
                env = {"DATABASE_URL": url, **NO_FLOOD_BRAKE, **extra_env}
                return await run_case(f"ours, PostgreSQL{label}", command, env, WALK_OURS, n,
                                      think, root)  # fmt: skip

            results.append(await with_postgres(on_postgres))
    return results


def best_of(rounds: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per case, the round with the most steps/s (other load on the machine only ever slows a
    run down), with the median CPU ms per step over all rounds."""
    merged = []
    for runs in zip(*rounds, strict=True):
        best = dict(max(runs, key=lambda r: r["rate"]))
        best["cpu_ms"] = statistics.median(r["cpu_ms"] for r in runs)
        merged.append(best)
    return merged


def report(title: str, results: list[dict[str, Any]]) -> None:
    base = results[0]["rate"]
    print(title)
    head = f"{'case':<34}{'steps':>6}{'steps/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'ratio':>7}"
    print(f"{head}{'CPU ms':>8}{'GC ms':>6}{'PG ms':>6}{'busy':>6}{'SQL':>6}{'tx':>5}{'ping':>5}"
          f"{'API':>5}{'batch':>6}")  # fmt: skip
    for r in results:
        sql = (f"{r['statements']:>6.2f}{r['transactions']:>5.2f}{r['pings']:>5.2f}"
               if "statements" in r else f"{'-':>6}{'-':>5}{'-':>5}")  # fmt: skip
        gc_ms = f"{r['gc_us'] / 1000:>6.2f}" if "gc_us" in r else f"{'-':>6}"
        print(f"{r['name']:<34}{r['updates']:>6}{r['rate']:>9.1f}{r['p50']:>8.1f}"
              f"{r['p99']:>8.1f}{r['rate'] / base:>7.2f}{r['cpu_ms']:>8.2f}{gc_ms}"
              f"{r['db_ms']:>6.2f}{r['busy']:>6.0%}"
              f"{sql}{r['api']:>5.2f}{r['batch']:>6.1f}")  # fmt: skip
    print(
        "(per step: CPU ms of the bot process, its time in the garbage collector and the "
        "PostgreSQL server's CPU ms, SQL statements, transactions, connection "
        "pings, Bot API calls besides getUpdates; batch: updates per non-empty getUpdates)"
    )


def export_tree(revision: str, into: Path) -> None:
    """The source tree of a git revision, for `--before`."""
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, check=True,
                             capture_output=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100, help="closed-loop users (saturated)")
    parser.add_argument("--caregivers", type=int, default=200, help="paced caregivers")
    parser.add_argument("--only", choices=["sqlite", "postgres"],
                        help="the ceiling and this one case (profiling)")  # fmt: skip
    parser.add_argument("--intake", action="store_true",
                        help="also ours without the durable intake (PTB's Updater)")  # fmt: skip
    parser.add_argument("--echo", action="store_true", help="also the echo baseline")
    parser.add_argument("--speedups", action="store_true",
                        help="also ours without uvloop and orjson (SPEEDUPS=0)")  # fmt: skip
    parser.add_argument("--before", metavar="REV",
                        help="also ours as of this git revision (exported to a temporary "
                             "directory), in the same run")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=1,
                        help="saturated: run every case this many times, interleaved, and "
                             "report the best (a noisy machine)")  # fmt: skip
    parser.add_argument("--paced-only", action="store_true")
    parser.add_argument("--saturated-only", action="store_true")
    parser.add_argument("--profile", metavar="FILE",
                        help="record our bot (saturated) with py-spy into FILE")  # fmt: skip
    args = parser.parse_args()
    if args.profile:
        PROFILE.append(args.profile)
    steps = f"{len(WALK_OURS)} steps each; each bot in its own process"
    with tempfile.TemporaryDirectory() as old:
        before = None
        if args.before:
            await asyncio.to_thread(export_tree, args.before, Path(old))
            before = (args.before, Path(old))
        await run_all(args, steps, before)


async def run_all(args: argparse.Namespace, steps: str, before: tuple[str, Path] | None) -> None:
    if not args.paced_only:
        rounds = [
            await measure(
                args.users, None, args.only, args.intake, args.echo, args.speedups, before
            )
            for _ in range(args.rounds)
        ]
        best = f"; best of {args.rounds} rounds, CPU ms the median" if args.rounds > 1 else ""
        report(f"Saturated: {args.users} users tapping without pause, {steps}{best}",
               best_of(rounds))  # fmt: skip
        PROFILE.clear()
    if not args.saturated_only:
        if not args.paced_only:
            print()
        paced = await measure(
            args.caregivers, (2.0, 3.0), args.only, args.intake, args.echo, args.speedups, before
        )
        report(f"Paced: {args.caregivers} caregivers, one tap every 2-3 s each, {steps}", paced)


if __name__ == "__main__":
    with postgres_server(durable=True) as PG_ADMIN:
        asyncio.run(main())
