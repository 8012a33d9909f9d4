"""Logging set-up: ids and event names only, never what caregivers typed or answered.

Our own code logs no message content at any level. Libraries do at DEBUG (PTB logs request
parameters, HTTP clients log URLs with the bot token), so they are capped at INFO whatever
LOG_LEVEL says.
"""

from __future__ import annotations

import logging

QUIET_LIBRARIES = (
    "telegram",
    "httpx",
    "httpcore",
    "aiohttp",
    "apscheduler",
    "asyncio",
    "sqlalchemy",
)


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)
    for name in QUIET_LIBRARIES:
        library = logging.getLogger(name)
        library.setLevel(max(logging.INFO, logging.getLevelName(level)))
    logging.getLogger("httpx").setLevel(logging.WARNING)
