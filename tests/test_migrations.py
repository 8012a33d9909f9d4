"""Upgrading a database that holds data: from the schema the last release ran (0007) to today's,
on SQLite and PostgreSQL, an unfinished self-check keeps its place, and the migrations can be
undone to 0007 again."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
from alembic import command
from sqlalchemy import text

from bot.db import migrate
from bot.db.session import Database

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
RELEASED = "0007"


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_url(request: pytest.FixtureRequest, tmp_path: object) -> object:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/upgrade.sqlite3"
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    name = f"bot_upgrade_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    yield f"{base}/{name}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def execute(url: str, sql: str, **values: object) -> list[tuple[object, ...]]:
    db = Database(url)
    try:
        async with db.transaction() as session:
            result = await session.execute(text(sql), values)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await db.dispose()


async def test_an_unfinished_dialog_keeps_its_place_through_the_upgrade_and_back(
    empty_url: str,
) -> None:
    await migrate.upgrade_async(empty_url, RELEASED)
    await execute(
        empty_url,
        "INSERT INTO caregiver (id, telegram_user_id, chat_id, created_at, last_seen_at)"
        " VALUES (1, 42, 42, :now, :now)",
        now=NOW,
    )
    await execute(
        empty_url,
        "INSERT INTO dialog_state (caregiver_id, dialog_id, dialog_version, data, updated_at)"
        " VALUES (1, 'selfcheck', 1, :data, :now)",
        data='{"step": "q3", "seq": 3, "answers": {"q1": "no"}}',
        now=NOW,
    )
    await migrate.upgrade_async(empty_url)
    assert await migrate.is_up_to_date(empty_url)
    rows = await execute(empty_url, "SELECT caregiver_id, dialog_id FROM dialog_state")
    assert rows == [(1, "selfcheck")]
    # Now a second dialog of the same caregiver fits beside it.
    await execute(
        empty_url,
        "INSERT INTO dialog_state (caregiver_id, dialog_id, dialog_version, data, updated_at)"
        " VALUES (1, 'checkin_setup', 1, '{}', :now)",
        now=NOW,
    )
    # Undone: the most recent dialog of the caregiver stays (one row, the old key).
    await asyncio.to_thread(command.downgrade, migrate.alembic_config(empty_url), RELEASED)
    rows = await execute(empty_url, "SELECT caregiver_id FROM dialog_state")
    assert len(rows) == 1


async def test_notice_drafts_go_and_planned_notices_stay_when_the_wizards_become_dialogs(
    empty_url: str,
) -> None:
    await migrate.upgrade_async(empty_url, "0013")
    for notice_id, status, step in ((1, "draft", "audience"), (2, "scheduled", "done")):
        await execute(
            empty_url,
            "INSERT INTO broadcast (id, status, step, source_name, sender_name, text_html,"
            " text_length, audience, municipality_codes, audience_label, recipients, created_at,"
            " extra) VALUES (:id, :status, :step, 'Steunpunt', 'Sanne', 'Koffie', 6, 'all', '[]',"
            " 'Iedereen', 0, :now, '{}')",
            id=notice_id, status=status, step=step, now=NOW,
        )  # fmt: skip
    await migrate.upgrade_async(empty_url, "0016")
    assert await execute(empty_url, "SELECT id, status FROM broadcast") == [(2, "scheduled")]
    await asyncio.to_thread(command.downgrade, migrate.alembic_config(empty_url), "0013")
    assert await execute(empty_url, "SELECT id, step FROM broadcast") == [(2, "done")]
    assert await execute(empty_url, "SELECT count(*) FROM evening_draft") == [(0,)]


async def test_questions_of_the_operator_go_and_a_steunpunts_stay_when_0018_is_undone(
    empty_url: str,
) -> None:
    await migrate.upgrade_async(empty_url, "0017")
    question = (
        "INSERT INTO inspraak_question (id, status, step, steunpunt_key, municipality_codes,"
        " source_name, question, options, allow_comment, sender_name, created_at)"
        " VALUES (:id, 'open', 'done', :key, '[]', 'Steunpunt', 'Wat helpt?', '[\"a\", \"b\"]',"
        " true, '', :now)"
    )
    await execute(empty_url, question, id=1, key="voorbeeld-vught-boxtel", now=NOW)
    await migrate.upgrade_async(empty_url)
    await execute(empty_url, question, id=2, key=None, now=NOW)  # the operator's, 0018 on
    await execute(empty_url, "INSERT INTO inspraak_tally VALUES (2, 0, 3)")
    await asyncio.to_thread(command.downgrade, migrate.alembic_config(empty_url), "0017")
    assert await execute(empty_url, "SELECT id FROM inspraak_question") == [(1,)]
    assert await execute(empty_url, "SELECT count(*) FROM inspraak_tally") == [(0,)]
