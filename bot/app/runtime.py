"""Builds a running bot from settings: database (migrated), content, features, core."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.app.dispatch import BotCore
from bot.app.registry import Registry
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.db import migrate
from bot.db.session import Database
from bot.engine.spec import DIALOGS_DIR, load_yaml
from bot.features import load
from bot.text.content import Content

log = logging.getLogger(__name__)


class NotMigrated(Exception):
    """The PostgreSQL schema is behind; the operator runs `python -m bot db upgrade` (release)."""


class DatabaseUnavailable(Exception):
    """The database cannot be reached at start; the message names where, never the password."""


def where(url: str) -> str:
    """The database of `url` for a message: host, port and name (SQLite: the file)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"the SQLite file {parsed.database!r}"
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432} (database {parsed.database!r})"


async def prepare_database(settings: Settings) -> None:
    """Check the database is there: SQLite (one process, a newcomer's default) is migrated here;
    PostgreSQL must be migrated already. Raises `DatabaseUnavailable` or `NotMigrated` with one
    line for the operator. Example data is never imported here: real caregivers must not get
    fictional steunpunten (the terminal demo and `directory import --example` ask for it)."""
    try:
        await _prepare(settings)
    except (OSError, TimeoutError, SQLAlchemyError) as exc:
        raise DatabaseUnavailable(
            f"DATABASE_URL: cannot use the database at {where(settings.database_url)}: "
            f"{type(exc).__name__}"
        ) from None


async def _prepare(settings: Settings) -> None:
    if settings.is_sqlite:
        await migrate.upgrade_async(settings.database_url)
    elif not await migrate.is_up_to_date(settings.database_url):
        raise NotMigrated(
            "DATABASE_URL: the database schema is not up to date; run: python -m bot db upgrade"
        )


def privacy_version(directory: Path = DIALOGS_DIR) -> int:
    return int(load_yaml(directory / "messages.yaml").get("privacy_version", 1))


def build_core(
    settings: Settings,
    clock: Clock | None = None,
    directory: Path = DIALOGS_DIR,
    features: tuple[Content, Registry] | None = None,
) -> BotCore:
    """`features`: content and registry already read from `directory` (the tests read them once
    per run); by default they are read here."""
    content, registry = features or load(directory)
    core = BotCore(
        db=Database(settings.database_url),
        content=content,
        registry=registry,
        clock=clock or SystemClock(),
        privacy_version=privacy_version(directory),
        retention=settings.retention,
    )
    core.web_url = settings.webhook_url.rstrip("/") if settings.webhook_url else None
    core.operators = frozenset(settings.console.operators)
    return core
