"""Builds a running bot from settings: database (migrated), content, features, core."""

from __future__ import annotations

from pathlib import Path

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.core import BotCore
from bot.db import migrate
from bot.db.session import Database
from bot.engine.dialog import DIALOGS_DIR, load_yaml
from bot.features import load


class NotMigrated(Exception):
    """The PostgreSQL schema is behind; the operator runs `python -m bot db upgrade` (release)."""


async def prepare_database(settings: Settings) -> None:
    """SQLite (one process, a newcomer's default) is migrated here; PostgreSQL must be migrated
    already. Example data is never imported here: real caregivers must not get fictional
    steunpunten (the terminal demo and `directory import --example` ask for it)."""
    if settings.is_sqlite:
        await migrate.upgrade_async(settings.database_url)
    elif not await migrate.is_up_to_date(settings.database_url):
        raise NotMigrated(
            "DATABASE_URL: the database schema is not up to date; run: python -m bot db upgrade"
        )


def privacy_version(directory: Path = DIALOGS_DIR) -> int:
    return int(load_yaml(directory / "messages.yaml").get("privacy_version", 1))


def build_core(
    settings: Settings, clock: Clock | None = None, directory: Path = DIALOGS_DIR
) -> BotCore:
    content, registry = load(directory)
    return BotCore(
        db=Database(settings.database_url),
        content=content,
        registry=registry,
        clock=clock or SystemClock(),
        privacy_version=privacy_version(directory),
        retention=settings.retention,
    )
