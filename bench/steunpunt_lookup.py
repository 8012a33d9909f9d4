"""Benchmark: steunpunt lookups (postcode, exact name, typo suggestion, nearest by location) with
a generated directory of 400 steunpunten and 4,000 postcode ranges, against a 10-steunpunt one.

Runs on SQLite and PostgreSQL (TEST_POSTGRES_URL, as the tests); each lookup is one transaction,
as in the bot. Creates its own database file / database and removes it.

    python bench/steunpunt_lookup.py
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.db import migrate
from bot.db.session import Database
from bot.features.steunpunt.directory import (
    Directory,
    MunicipalityData,
    SteunpuntData,
    find_by_location,
    find_by_municipality,
    find_by_postcode,
    normalise_name,
    places_named,
    replace_directory,
    suggest_places,
)
from tests.postgres_server import postgres_server

PG_ADMIN_URL = ""  # set below from tests/postgres_server.py: TEST_POSTGRES_URL or our own server
ROUNDS = 300
SYLLABLES = ("ber", "gen", "dam", "hout", "wijk", "oor", "vel", "loo", "zan", "dijk", "brug",
             "kerk", "veen", "horst", "meer", "rode", "ster", "win", "ka", "sel")  # fmt: skip


def generated(steunpunten: int, ranges_each: int, seed: int = 7) -> Directory:
    """A directory shaped like the Netherlands: about 0.9 municipality per steunpunt, 6 names each,
    coordinates inside the country, 4-digit ranges of 1-3 postcodes."""
    rng = random.Random(seed)
    names: set[str] = set()

    def name() -> str:
        while True:
            candidate = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).title()
            if candidate not in names:
                names.add(candidate)
                return candidate

    municipalities = [
        MunicipalityData(
            f"GM{1000 + i:04d}", name(), "Provincie", [name()], [name() for _ in range(4)]
        )
        for i in range(max(1, steunpunten * 9 // 10))
    ]
    entries = []
    for i in range(steunpunten):
        served = [municipalities[i % len(municipalities)].code]
        starts = rng.sample(range(1000, 9990), ranges_each)
        entries.append(
            SteunpuntData(
                key=f"sp-{i}", name=f"Steunpunt {i}", organisation="Org", services=["consulent"],
                municipalities=served, postcodes=[(s, s + rng.randint(0, 2)) for s in starts],
                latitude=rng.uniform(50.8, 53.4), longitude=rng.uniform(3.6, 7.1),
            )
        )  # fmt: skip
    return Directory(municipalities, entries)


async def timed(db: Database, lookup: Callable[..., Awaitable[object]], args: list[tuple]) -> str:
    samples = []
    for arg in args:
        start = time.perf_counter()
        async with db.transaction() as session:
            await lookup(session, *arg)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    p95 = samples[int(len(samples) * 0.95)]
    return f"median {statistics.median(samples):5.2f} ms  p95 {p95:5.2f} ms"


async def name_lookup(session: object, key: str) -> object:
    places = await places_named(session, key)  # type: ignore[arg-type]
    return await find_by_municipality(session, places[0].code)  # type: ignore[arg-type]


async def run(url: str, label: str) -> None:
    for size, ranges_each in ((10, 10), (400, 10)):
        directory = generated(size, ranges_each)
        db = Database(url)
        start = time.perf_counter()
        async with db.transaction() as session:
            await replace_directory(session, directory)
        imported = (time.perf_counter() - start) * 1000
        rng = random.Random(1)
        names = [n for m in directory.municipalities or [] for n in (m.name, *m.places)]
        ranges = sum(len(s.postcodes) for s in directory.steunpunten)
        print(f"{label}: {size} steunpunten, {ranges} postcode ranges, {len(names)} place names "
              f"(import {imported:.0f} ms)")  # fmt: skip
        postcodes = [(rng.randint(1000, 9999),) for _ in range(ROUNDS)]
        exact = [(normalise_name(rng.choice(names)),) for _ in range(ROUNDS)]
        typos = [(normalise_name(rng.choice(names))[:-1] + "x",) for _ in range(ROUNDS)]
        spots = [(rng.uniform(50.8, 53.4), rng.uniform(3.6, 7.1)) for _ in range(ROUNDS)]
        print(f"  postcode  {await timed(db, find_by_postcode, postcodes)}")
        print(f"  name      {await timed(db, name_lookup, exact)}")
        print(f"  typo      {await timed(db, suggest_places, typos)}")
        print(f"  location  {await timed(db, find_by_location, spots)}")
        await db.dispose()


async def admin(sql: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"
        migrate.upgrade(url)
        asyncio.run(run(url, "SQLite"))
    name = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"PostgreSQL skipped: {exc}")
        return
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        migrate.upgrade(f"{base}/{name}")
        asyncio.run(run(f"{base}/{name}", "PostgreSQL"))
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    with postgres_server(durable=True) as PG_ADMIN_URL:
        main()
