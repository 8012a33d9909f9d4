"""The caregiver's own data: `/mijngegevens` exports everything, `/vergeetmij` erases everything.

Both work over every table that refers to a caregiver, found from the schema itself, so a table a
later feature adds is exported and erased without anyone having to remember it here. Rows that
outlive the caregiver (a staff member's notices) lose the copies marked `ERASED_WITH`.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app.dispatch import Context
from bot.app.registry import Registry
from bot.db.models import ERASED_WITH, Base, Caregiver
from bot.engine.flow import Event
from bot.engine.output import Button, OutMessage, Reply, rows


def caregiver_tables() -> list[tuple[Table, str]]:
    """(table, column) for every column that points at caregiver.id, in dependency order."""
    found = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if any(fk.column.table.name == Caregiver.__tablename__ for fk in column.foreign_keys):
                found.append((table, column.name))
    return found


def erased_copies() -> list[tuple[Table, str, list[Column[Any]]]]:
    """(table, column pointing at the caregiver, columns to blank) of every `ERASED_WITH` mark."""
    found = []
    for table in Base.metadata.sorted_tables:
        marked: dict[str, list[Column[Any]]] = {}
        for column in table.columns:
            if ERASED_WITH in column.info:
                marked.setdefault(column.info[ERASED_WITH], []).append(column)
        found += [(table, owner, columns) for owner, columns in marked.items()]
    return found


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


async def export_caregiver(session: AsyncSession, caregiver: Caregiver) -> dict[str, Any]:
    """Everything stored about one caregiver, as JSON-ready data."""
    profile = {c.name: _plain(getattr(caregiver, c.key)) for c in Caregiver.__table__.columns}
    data: dict[str, Any] = {"caregiver": profile}
    for table, column in caregiver_tables():
        result = await session.execute(select(table).where(table.c[column] == caregiver.id))
        data[table.name] = [{k: _plain(v) for k, v in row._mapping.items()} for row in result]
    return data


def summary_text(ctx: Context, data: dict[str, Any]) -> str:
    texts = ctx.texts
    caregiver = ctx.caregiver
    lines = [texts.get("export_title"), ""]
    lines.append(texts.get("export_since", date=texts.translator.format_date(caregiver.created_at)))
    if caregiver.consent_at is not None:
        consent_date = texts.translator.format_date(caregiver.consent_at)
        lines.append(
            texts.get("export_consent", date=consent_date, version=caregiver.consent_version)
        )
    else:
        lines.append(texts.get("export_no_consent"))
    counts = {name: len(rows_) for name, rows_ in data.items() if name != "caregiver"}
    lines.append(texts.get("export_counts", answers=counts.get("answer", 0),
                           results=counts.get("result", 0)))  # fmt: skip
    lines += ["", texts.get("export_file_note")]
    return "\n".join(lines)


async def on_my_data(ctx: Context, event: Event) -> Reply:
    data = await export_caregiver(ctx.session, ctx.caregiver)
    payload = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
    stamp = ctx.now.strftime("%Y-%m-%d")
    return Reply().add(
        OutMessage(summary_text(ctx, data)),
        OutMessage(
            ctx.texts.get("export_caption"), document=(f"mijngegevens-{stamp}.json", payload)
        ),
    )


async def on_forget_me(ctx: Context, event: Event) -> Reply:
    return Reply().add(
        OutMessage(
            ctx.texts.get("forget_confirm"),
            rows(
                Button(ctx.texts.get("forget_yes"), "p:forget:yes"),
                Button(ctx.texts.get("forget_no"), "p:forget:no"),
            ),
        )
    )


async def forget_caregiver(session: AsyncSession, caregiver: Caregiver) -> None:
    """Erase the caregiver; ON DELETE CASCADE takes every row that refers to them, and rows that
    stay (ON DELETE SET NULL) first lose their marked copies of the caregiver's name and chat."""
    for table, owner, columns in erased_copies():
        blank = {c.name: None if c.nullable else "" for c in columns}
        await session.execute(update(table).where(table.c[owner] == caregiver.id).values(blank))
    await session.delete(caregiver)
    await session.flush()


async def on_button(ctx: Context, event: Event) -> Reply:
    if event.text == "p:forget:yes":
        texts = ctx.texts
        await forget_caregiver(ctx.session, ctx.caregiver)
        return Reply(pressed_label=texts.get("forget_yes")).add(
            OutMessage(texts.get("forget_done"))
        )
    if event.text == "p:forget:no":
        return Reply(pressed_label=ctx.texts.get("forget_no")).add(
            OutMessage(ctx.texts.get("privacy_kept")), ctx.menu_message()
        )
    return ctx.stale_button()


def register(registry: Registry) -> None:
    registry.commands.update(
        {
            "mijngegevens": on_my_data,
            "mydata": on_my_data,
            "vergeetmij": on_forget_me,
            "forgetme": on_forget_me,
        }
    )
    registry.buttons["p"] = on_button
