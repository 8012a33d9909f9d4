"""A PostgreSQL cluster of our own, in a temporary directory on a free port, that a test or bench
can stop and start again (a database outage). Never the machine's shared server on 5432.

Uses the machine's server binaries (/usr/lib/postgresql/*/bin); as root, runs them as the
`postgres` user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

ROOT = Path(__file__).resolve().parent.parent


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def available() -> bool:
    return _bin_dir() is not None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OwnPostgres:
    """`async with OwnPostgres() as pg:` a started, migrated cluster; `pg.url` for the bot,
    `await pg.stop()` / `await pg.start()` for an outage."""

    def __init__(self) -> None:
        bin_dir = _bin_dir()
        if bin_dir is None:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bin = bin_dir
        self.port = _free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="own-pg-"))
        self.data = self.tmp / "data"
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    async def _run(self, *command: str) -> None:
        process = await asyncio.create_subprocess_exec(
            *self._as_postgres, *command,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        _, err = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {err.decode(errors='replace')[-500:]}")

    async def start(self) -> None:
        await self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.tmp / "log"),
            "-o", f"-p {self.port} -k {self.tmp} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        )  # fmt: skip

    async def stop(self) -> None:
        """A fast shutdown: connected clients are cut off, new ones refused."""
        await self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-m", "fast", "stop")

    async def start_if_stopped(self) -> None:
        status = await asyncio.create_subprocess_exec(
            *self._as_postgres, str(self.bin / "pg_ctl"), "-D", str(self.data), "status",
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if await status.wait() != 0:
            await self.start()

    async def __aenter__(self) -> Self:
        if self._as_postgres:
            shutil.chown(self.tmp, "postgres", "postgres")
        await self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust",
                        "-U", "postgres", "--no-sync")  # fmt: skip
        await self.start()
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
        try:
            await self._run(
                str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-m", "immediate", "stop"
            )
        except RuntimeError:
            pass  # already stopped
        shutil.rmtree(self.tmp, ignore_errors=True)
