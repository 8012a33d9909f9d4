"""Logging set-up: ids and event names only, never what caregivers typed or answered.

Our own code logs no message content at any level. Libraries do at DEBUG (PTB logs request
parameters, SQLAlchemy echoes statements, HTTP clients log URLs with the bot token), so they
keep a floor whatever LOG_LEVEL says.
"""

from __future__ import annotations

import logging

# Libraries speak from WARNING up, PTB from INFO (start/stop notes), even when LOG_LEVEL is lower.
# SQLAlchemy at INFO would echo every statement with its parameters: answers included.
LIBRARY_FLOORS = {"telegram": logging.INFO, "httpx": logging.WARNING, "httpcore": logging.WARNING,
                  "aiohttp": logging.WARNING, "apscheduler": logging.WARNING,
                  "asyncio": logging.WARNING, "sqlalchemy": logging.WARNING,
                  "alembic": logging.WARNING, "aiosqlite": logging.WARNING,
                  "asyncpg": logging.WARNING}  # fmt: skip


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)
    requested = logging.getLevelName(level)
    for name, floor in LIBRARY_FLOORS.items():
        logging.getLogger(name).setLevel(max(floor, requested))
