"""Staff roles: nobody is staff without an invitation.

The operator creates a one-time, expiring invitation on the command line (`python -m bot staff
invite --steunpunt KEY` or `--location KEY`); whoever opens its deep link in Telegram becomes staff
of that one steunpunt or care-home location. Staff features register their commands in
`Registry.staff_commands` and their menu entries in `Registry.staff_menu`; bot/app/roles.py
answers "is this user staff, and of what" for them. This module keeps the locations the operator
adds, the invitations and the memberships they make.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app.dispatch import Context
from bot.app.registry import PersonalData, Registry
from bot.app.roles import (
    KEY_PATTERN,
    active_memberships,
    is_staff,
    location_by_key,
    scope_name,
    scopes_of,
    staff_menu,
)
from bot.db.directory import Steunpunt
from bot.db.models import Caregiver
from bot.db.session import rowcount
from bot.db.staff import Location, LocationSubscription, StaffInvite, StaffMember
from bot.engine.flow import Event
from bot.engine.output import Reply

INVITE_PREFIX = "staff"
DEFAULT_INVITE_DAYS = 7


class StaffError(Exception):
    """An operator command that cannot be done, with the reason in words."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite_link(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username}?start={INVITE_PREFIX}_{token}"


# Operator side (command line) ---------------------------------------------------------------


DEFAULT_REMINDER_DAYS = (7, 1)
DEFAULT_REMINDER_TIME = "18:30"
MAX_REMINDERS = 4
MAX_REMINDER_DAYS = 60
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_reminder_days(text: str) -> list[int]:
    """ "7,1" -> [7, 1]: days before an evening on which reminders go out ("none": none)."""
    if text.strip().casefold() == "none":
        return []
    try:
        days = sorted({int(part) for part in text.split(",") if part.strip()}, reverse=True)
    except ValueError:
        days = []
    if not days or len(days) > MAX_REMINDERS or not all(1 <= d <= MAX_REMINDER_DAYS for d in days):
        raise StaffError(
            f"reminder days {text!r}: give 1 to {MAX_REMINDERS} whole numbers of days between 1 "
            f"and {MAX_REMINDER_DAYS}, separated by commas (e.g. 7,1), or none"
        )
    return days


def parse_reminder_time(text: str) -> str:
    """ "18:30" -> "18:30", "9:05" -> "09:05": the local time reminders go out at."""
    match = _TIME.match(text.strip())
    if match is None:
        raise StaffError(f"reminder time {text!r}: use HH:MM, e.g. 18:30")
    return f"{int(match[1]):02d}:{match[2]}"


def _required(label: str, value: str, limit: int) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise StaffError(f"location {label} is empty")
    if len(cleaned) > limit:
        raise StaffError(f"location {label} is longer than {limit} characters")
    return cleaned


async def add_location(
    session: AsyncSession,
    now: datetime,
    key: str,
    name: str,
    address: str,
    organisation: str,
    *,
    example: bool = False,
    reminder_days: list[int] | None = None,
    reminder_time: str = DEFAULT_REMINDER_TIME,
) -> Location:
    if not KEY_PATTERN.match(key):
        raise StaffError(
            f"location key {key!r}: use 1-40 lowercase letters, digits and '-', e.g. de-linde"
        )
    location = Location(
        key=key,
        name=_required("name", name, 120),
        address=_required("address", address, 200),
        organisation=_required("organisation", organisation, 120),
        reminder_days=list(DEFAULT_REMINDER_DAYS if reminder_days is None else reminder_days),
        reminder_time=parse_reminder_time(reminder_time),
        example=example,
        created_at=now,
    )
    if await location_by_key(session, key) is not None:
        raise StaffError(f"location {key!r} exists already")
    session.add(location)
    await session.flush()
    return location


async def update_location(
    session: AsyncSession,
    key: str,
    *,
    name: str | None = None,
    address: str | None = None,
    organisation: str | None = None,
    reminder_days: list[int] | None = None,
    reminder_time: str | None = None,
) -> Location:
    """Change what is given; every value is checked before anything changes."""
    location = await location_by_key(session, key)
    if location is None:
        raise StaffError(f"no location with key {key!r} (see: location list)")
    changes: dict[str, object] = {}
    for label, value, limit in (("name", name, 120), ("address", address, 200),
                                ("organisation", organisation, 120)):  # fmt: skip
        if value is not None:
            changes[label] = _required(label, value, limit)
    if reminder_days is not None:
        changes["reminder_days"] = list(reminder_days)
    if reminder_time is not None:
        changes["reminder_time"] = parse_reminder_time(reminder_time)
    if not changes:
        raise StaffError("nothing to change: give --name, --address, --organisation, "
                         "--reminder-days or --reminder-time")  # fmt: skip
    for column, new_value in changes.items():
        setattr(location, column, new_value)
    await session.flush()
    return location


async def create_invite(
    session: AsyncSession,
    now: datetime,
    *,
    steunpunt_key: str | None = None,
    location_key: str | None = None,
    days: int = DEFAULT_INVITE_DAYS,
) -> tuple[str, StaffInvite]:
    """A new invitation and its token (shown once; only its hash is stored)."""
    if (steunpunt_key is None) == (location_key is None):
        raise StaffError("give exactly one of --steunpunt or --location")
    if not 1 <= days <= 90:
        raise StaffError("--days must be between 1 and 90")
    location_id = None
    if steunpunt_key is not None:
        found = await session.execute(select(Steunpunt.id).where(Steunpunt.key == steunpunt_key))
        if found.scalar_one_or_none() is None:
            raise StaffError(f"no steunpunt with key {steunpunt_key!r} (see: directory export)")
    else:
        assert location_key is not None
        location = await location_by_key(session, location_key)
        if location is None:
            raise StaffError(f"no location with key {location_key!r} (see: location list)")
        location_id = location.id
    token = secrets.token_urlsafe(24)  # 32 characters, 192 bits
    invite = StaffInvite(
        token_hash=token_hash(token),
        steunpunt_key=steunpunt_key,
        location_id=location_id,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(invite)
    await session.flush()
    return token, invite


@dataclass(frozen=True)
class StaffListing:
    member_id: int
    display_name: str
    telegram_user_id: int
    scope: str
    granted_at: datetime
    revoked_at: datetime | None


async def list_staff(session: AsyncSession, *, include_revoked: bool = False) -> list[StaffListing]:
    query = (
        select(StaffMember, Caregiver.telegram_user_id)
        .join(Caregiver, Caregiver.id == StaffMember.caregiver_id)
        .order_by(StaffMember.id)
    )
    if not include_revoked:
        query = query.where(StaffMember.revoked_at.is_(None))
    listing = []
    for member, telegram_user_id in (await session.execute(query)).all():
        listing.append(
            StaffListing(
                member.id,
                member.display_name,
                telegram_user_id,
                await scope_name(session, member.steunpunt_key, member.location_id),
                member.granted_at,
                member.revoked_at,
            )
        )
    return listing


async def revoke(session: AsyncSession, member_id: int, now: datetime) -> bool:
    result = await session.execute(
        update(StaffMember)
        .where(StaffMember.id == member_id, StaffMember.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(rowcount(result))


# Telegram side ------------------------------------------------------------------------------


async def redeem(ctx: Context, token: str) -> StaffMember | None:
    """Make this user staff with an unused, unexpired invitation; None when it is not valid."""
    result = await ctx.session.execute(
        select(StaffInvite).where(StaffInvite.token_hash == token_hash(token)).with_for_update()
    )
    invite = result.scalar_one_or_none()
    if invite is None or invite.used_at is not None or invite.expires_at <= ctx.now:
        return None
    invite.used_at = ctx.now
    invite.used_by = ctx.caregiver.id
    existing = [
        m
        for m in await active_memberships(ctx.session, ctx.caregiver.id)
        if m.steunpunt_key == invite.steunpunt_key and m.location_id == invite.location_id
    ]
    if existing:
        return existing[0]
    member = StaffMember(
        caregiver_id=ctx.caregiver.id,
        steunpunt_key=invite.steunpunt_key,
        location_id=invite.location_id,
        invite_id=invite.id,
        display_name=ctx.display_name,
        granted_at=ctx.now,
    )
    ctx.session.add(member)
    await ctx.session.flush()
    ctx.forget_staff()
    return member


async def on_invite_link(ctx: Context, event: Event) -> Reply:
    """`/start staff_<token>`: an invitation link opened in Telegram."""
    token = event.args.partition("_")[2]
    member = await redeem(ctx, token) if token else None
    if member is None:
        # Says nothing about staff: to anyone else this is a link that no longer works.
        return Reply().add(ctx.menu_message("link_not_valid"))
    name = await scope_name(ctx.session, member.steunpunt_key, member.location_id)
    intro = ctx.texts.get("staff_welcome", scope=escape(name))
    return Reply().add(staff_menu(ctx, intro))


async def on_staff_menu(ctx: Context, event: Event) -> Reply:
    names = [
        escape(await scope_name(ctx.session, s.steunpunt_key, s.location_id))
        for s in await scopes_of(ctx)
    ]
    intro = ctx.texts.get("staff_menu_title", scopes=", ".join(names))
    return Reply().add(staff_menu(ctx, intro))


def register(registry: Registry) -> None:
    registry.staff_check = is_staff
    # Staff work and subscriptions are asked for on their own: withdrawing consent keeps them. A
    # used invitation stays for the audit trail, without the link to who used it.
    registry.add_personal_data(
        PersonalData(
            StaffMember, StaffMember.caregiver_id, label="kept_staff", kept_without_consent=True
        ),
        PersonalData(
            StaffInvite, StaffInvite.used_by, label="kept_staff_invite", outlives_caregiver=True
        ),
        PersonalData(
            LocationSubscription,
            LocationSubscription.caregiver_id,
            label="kept_subscription",
            kept_without_consent=True,
        ),
    )
    registry.start_payloads[INVITE_PREFIX] = on_invite_link
    registry.staff_commands["medewerker"] = on_staff_menu
