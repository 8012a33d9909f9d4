"""Benchmark: steunpunt lookups (postcode, exact name, typo suggestion, location) with the
national places layer loaded, and a generated directory of 400 steunpunten and 4,000 postcode
ranges against a 10-steunpunt one. Names, typos and locations are real places of the layer (the
whole country); postcodes are random. Prints p50/p99 per lookup and the memory the layer costs.

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
import tracemalloc
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
    find_by_name,
    find_by_postcode,
    find_in,
    replace_directory,
    suggest_places,
)
from bot.features.steunpunt.places import NL_PLACES, PlacesLayer, normalise_name, read_places
from tests.postgres_server import postgres_server

PG_ADMIN_URL = ""  # set below from tests/postgres_server.py: TEST_POSTGRES_URL or our own server
ROUNDS = 500
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
    p99 = samples[int(len(samples) * 0.99)]
    return f"p50 {statistics.median(samples):5.2f} ms  p99 {p99:5.2f} ms"


def layer_memory() -> tuple[PlacesLayer, float]:
    """The layer as a process loads it, and the memory that costs (tracemalloc, MiB)."""
    tracemalloc.start()
    layer = PlacesLayer(read_places(NL_PLACES.read_text(encoding="utf-8")))
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return layer, size / 2**20


async def run(url: str, label: str, layer: PlacesLayer) -> None:
    rng = random.Random(1)
    places = list(layer.places)
    for size, ranges_each in ((10, 10), (400, 10)):
        directory = generated(size, ranges_each)
        db = Database(url)
        start = time.perf_counter()
        async with db.transaction() as session:
            await replace_directory(session, directory)
        imported = (time.perf_counter() - start) * 1000
        ranges = sum(len(s.postcodes) for s in directory.steunpunten)
        print(f"{label}: {size} steunpunten, {ranges} postcode ranges, national layer of "
              f"{len(places)} places (import {imported:.0f} ms)")  # fmt: skip
        picks = [rng.choice(places) for _ in range(ROUNDS)]
        postcodes = [(layer, rng.randint(1000, 9999)) for _ in range(ROUNDS)]
        exact = [(layer, normalise_name(p.name)) for p in picks]
        typos = [(layer, normalise_name(p.name)[:-1] + "x") for p in picks]
        spots = [(layer, p.latitude + rng.uniform(-0.02, 0.02),
                  p.longitude + rng.uniform(-0.02, 0.02)) for p in picks]  # fmt: skip
        print(f"  postcode  {await timed(db, find_by_postcode, postcodes)}")
        print(f"  name      {await timed(db, name_lookup, exact)}")
        print(f"  typo      {await timed(db, suggest_places, typos)}")
        print(f"  location  {await timed(db, find_by_location, spots)}")
        await db.dispose()


async def name_lookup(session: object, layer: PlacesLayer, key: str) -> object:
    found = await find_by_name(session, layer, key)  # type: ignore[arg-type]
    return await find_in(session, found[0][1])  # type: ignore[arg-type]


async def admin(sql: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def main() -> None:
    layer, mib = layer_memory()
    print(f"national layer: {len(layer.places)} places, {len(layer.municipalities)} "
          f"municipalities, {mib:.1f} MiB per process (tracemalloc)")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"
        migrate.upgrade(url)
        asyncio.run(run(url, "SQLite", layer))
    name = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"PostgreSQL skipped: {exc}")
        return
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        migrate.upgrade(f"{base}/{name}")
        asyncio.run(run(f"{base}/{name}", "PostgreSQL", layer))
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    with postgres_server(durable=True) as PG_ADMIN_URL:
        main()
