"""Logging set-up: ids and event names only, never what caregivers typed or answered.

Our own code logs no message content at any level. Libraries do at DEBUG (PTB logs request
parameters, SQLAlchemy echoes statements, HTTP clients log URLs with the bot token), so they
keep a floor whatever LOG_LEVEL says. Exception messages can carry content too (a `ValueError`
quoting what it could not parse), so tracebacks are printed with the message only for exception
types whose message is known to hold none (`SAFE_MESSAGES`), otherwise with the type alone.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram.error import TelegramError

# Messages of these exceptions name hosts, SQL (parameters hidden by the engine), Bot API
# answers: never what a caregiver typed.
SAFE_MESSAGES: tuple[type[BaseException], ...] = (OSError, TimeoutError, SQLAlchemyError,
                                                  TelegramError)  # fmt: skip
_OURS = str(Path(__file__).resolve().parent)

# Libraries speak from WARNING up, PTB from INFO (start/stop notes), even when LOG_LEVEL is lower.
# SQLAlchemy at INFO would echo every statement with its parameters: answers included.
LIBRARY_FLOORS = {"telegram": logging.INFO, "httpx": logging.WARNING, "httpcore": logging.WARNING,
                  "aiohttp": logging.WARNING, "apscheduler": logging.WARNING,
                  "asyncio": logging.WARNING, "sqlalchemy": logging.WARNING,
                  "alembic": logging.WARNING, "aiosqlite": logging.WARNING,
                  "asyncpg": logging.WARNING}  # fmt: skip


def describe(exc: BaseException) -> str:
    """An exception for a log line without its message: its type and where in our code it was
    raised (`ValueError at bot/features/checkin.py:120 in note`)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(_OURS)]
    name = type(exc).__name__
    if isinstance(exc, SAFE_MESSAGES):
        name = f"{name}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
    if not frames:
        return name
    where = frames[-1]
    path = Path(where.filename).relative_to(Path(_OURS).parent)
    return f"{name} at {path}:{where.lineno} in {where.name}"


class ContentFreeFormatter(logging.Formatter):
    """Tracebacks with their frames, and with the message only of `SAFE_MESSAGES` exceptions."""

    def formatException(self, ei: Any) -> str:
        _, exc, _ = ei
        if exc is None:
            return super().formatException(ei)
        lines: list[str] = []
        seen: set[int] = set()
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            text = type(exc).__name__
            if isinstance(exc, SAFE_MESSAGES):
                text = "".join(traceback.format_exception_only(exc)).rstrip()
            lines[:0] = [*traceback.format_tb(exc.__traceback__), text + "\n"]
            cause = exc.__cause__ or exc.__context__
            if cause is not None:
                lines[:0] = ["(while handling)\n"]
            exc = cause
        return ("Traceback (most recent call last):\n" + "".join(lines)).rstrip()


def asyncio_exception_handler(_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The event loop's report of an exception nobody awaited, without the exception's repr
    (asyncio's default puts `exception=ValueError('...')` into the message)."""
    exc = context.get("exception")
    logging.getLogger("asyncio").error(
        "%s: %s", context.get("message", "unhandled exception"),
        describe(exc) if exc else "no exception",
    )  # fmt: skip


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not root.handlers:  # as logging.basicConfig: a handler set up already (tests) stays
        handler = logging.StreamHandler()
        handler.setFormatter(
            ContentFreeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        root.addHandler(handler)
    root.setLevel(level)
    requested = logging.getLevelName(level)
    for name, floor in LIBRARY_FLOORS.items():
        logging.getLogger(name).setLevel(max(floor, requested))
