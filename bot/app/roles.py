"""Who is staff of what: the active memberships of a Telegram user (one steunpunt or one care-home
location each), how a scope is named, and the staff menu every staff feature returns to. Read by
the staff features; the memberships themselves are made and revoked by bot/features/staff.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app.dispatch import Context
from bot.db.directory import Steunpunt
from bot.db.staff import Location, StaffMember
from bot.engine.output import Button, OutMessage, command_button, rows

# Deep-link payloads allow A-Z a-z 0-9 _ - and 64 characters; keys stay well inside that.
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


@dataclass(frozen=True)
class Scope:
    """What one staff membership covers: one steunpunt (by key) or one location (by id)."""

    member_id: int
    steunpunt_key: str | None
    location_id: int | None


async def active_memberships(session: AsyncSession, caregiver_id: int) -> list[StaffMember]:
    result = await session.execute(
        select(StaffMember)
        .where(StaffMember.caregiver_id == caregiver_id, StaffMember.revoked_at.is_(None))
        .order_by(StaffMember.id)
    )
    return list(result.scalars())


async def scopes_for(session: AsyncSession, caregiver_id: int) -> list[Scope]:
    """The steunpunten and locations this caregiver row is staff of (empty for everyone else);
    read from the database each time (the web console asks on every request)."""
    return [
        Scope(m.id, m.steunpunt_key, m.location_id)
        for m in await active_memberships(session, caregiver_id)
    ]


async def scopes_of(ctx: Context) -> list[Scope]:
    """The steunpunten and locations this user is staff of (empty for everyone else)."""
    return await scopes_for(ctx.session, ctx.caregiver.id)


async def steunpunt_keys_of(ctx: Context) -> list[str]:
    return [s.steunpunt_key for s in await scopes_of(ctx) if s.steunpunt_key]


async def location_ids_of(ctx: Context) -> list[int]:
    return [s.location_id for s in await scopes_of(ctx) if s.location_id is not None]


async def is_staff(ctx: Context) -> bool:
    return bool(await active_memberships(ctx.session, ctx.caregiver.id))


async def location_by_key(session: AsyncSession, key: str) -> Location | None:
    result = await session.execute(select(Location).where(Location.key == key))
    return result.scalar_one_or_none()


async def scope_name(
    session: AsyncSession, steunpunt_key: str | None, location_id: int | None
) -> str:
    """How staff and operators see a scope: "Steunpunt X" or "Location (organisation)"."""
    if steunpunt_key is not None:
        result = await session.execute(select(Steunpunt.name).where(Steunpunt.key == steunpunt_key))
        return result.scalar_one_or_none() or steunpunt_key
    location = await session.get(Location, location_id) if location_id is not None else None
    if location is None:
        return "?"
    return f"{location.name} ({location.organisation})"


def staff_menu(ctx: Context, intro: str) -> OutMessage:
    entries = sorted(ctx.core.registry.staff_menu, key=lambda e: e.order)
    buttons = []
    for e in entries:
        label = ctx.texts.get(e.label_key) if e.label_key else ctx.texts.tr(e.label)
        if not e.web_app:
            buttons.append(command_button(label, e.command))
        elif ctx.core.web_url is not None:
            buttons.append(Button(label, "", web_app=ctx.core.web_url + e.web_app))
    buttons.append(command_button(ctx.texts.get("button_menu"), "menu"))
    return OutMessage(intro, rows(*buttons))
