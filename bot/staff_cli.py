"""Operator commands for staff and locations: `python -m bot staff ...` and `location ...`.

Only the operator (who runs the bot) can make staff: an invitation is printed here, once.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import TextIO

from sqlalchemy import select

from bot.clock import Clock
from bot.db.session import Database
from bot.features import staff
from bot.features.staff_models import Location

UsernameLookup = Callable[[], Awaitable[str]]


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    people = sub.add_parser(
        "staff", help="staff of steunpunten and locations: invite, list, revoke"
    )
    actions = people.add_subparsers(dest="action", required=True)
    invite = actions.add_parser("invite", help="print a one-time invitation link")
    scope = invite.add_mutually_exclusive_group(required=True)
    scope.add_argument("--steunpunt", metavar="KEY", help="steunpunt key (directory export)")
    scope.add_argument("--location", metavar="KEY", help="location key (location list)")
    invite.add_argument("--days", type=int, default=staff.DEFAULT_INVITE_DAYS,
                        help="valid for this many days (default %(default)s)")  # fmt: skip
    listing = actions.add_parser("list", help="active staff (with --all also revoked)")
    listing.add_argument("--all", action="store_true")
    revoke = actions.add_parser("revoke", help="end a staff membership (id from staff list)")
    revoke.add_argument("member_id", type=int)

    places = sub.add_parser("location", help="care-home locations: add, list")
    place_actions = places.add_subparsers(dest="action", required=True)
    add = place_actions.add_parser("add", help="add a location")
    add.add_argument("key", help="stable id: lowercase letters, digits, '-' (e.g. de-linde)")
    add.add_argument("--name", required=True)
    add.add_argument("--address", required=True)
    add.add_argument("--organisation", required=True)
    add.add_argument("--example", action="store_true", help="example data, shown as such")
    place_actions.add_parser("list", help="all locations")


async def run(
    db: Database, clock: Clock, args: argparse.Namespace, username: UsernameLookup, out: TextIO
) -> int:
    """Carry out one operator command; problems are printed as one line and give exit code 1."""
    try:
        if args.mode == "location":
            return await _location(db, clock, args, out)
        return await _staff(db, clock, args, username, out)
    except staff.StaffError as exc:
        print(f"error: {exc}", file=out)
        return 1


async def _location(db: Database, clock: Clock, args: argparse.Namespace, out: TextIO) -> int:
    async with db.transaction() as session:
        if args.action == "add":
            location = await staff.add_location(
                session, clock.now(), args.key, args.name, args.address, args.organisation,
                example=args.example,
            )  # fmt: skip
            print(f"location {location.key} added: {location.name}, {location.address}", file=out)
            return 0
        result = await session.execute(select(Location).order_by(Location.key))
        for location in result.scalars():
            marker = " (example)" if location.example else ""
            print(
                f"{location.key}\t{location.name} ({location.organisation}){marker}\t"
                f"{location.address}",
                file=out,
            )
    return 0


async def _staff(
    db: Database, clock: Clock, args: argparse.Namespace, username: UsernameLookup, out: TextIO
) -> int:
    if args.action == "invite":
        bot_username = await username()  # first: a failing lookup must not waste an invitation
        async with db.transaction() as session:
            token, invite = await staff.create_invite(
                session, clock.now(), steunpunt_key=args.steunpunt, location_key=args.location,
                days=args.days,
            )  # fmt: skip
            name = await staff.scope_name(session, invite.steunpunt_key, invite.location_id)
        link = staff.invite_link(bot_username, token)
        until = f"{invite.expires_at:%Y-%m-%d %H:%M}"
        print(f"Invitation for staff of {name}, valid until {until} UTC,", file=out)
        print("for one person. Send this link to them (it is shown only once):", file=out)
        print(link, file=out)
        return 0
    if args.action == "list":
        async with db.transaction() as session:
            listing = await staff.list_staff(session, include_revoked=args.all)
        if not listing:
            print("no staff", file=out)
        for row in listing:
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            print(
                f"{row.member_id}\t{row.display_name or '-'}\t(telegram {row.telegram_user_id})\t"
                f"{row.scope}\tsince {row.granted_at:%Y-%m-%d}\t{state}",
                file=out,
            )
        return 0
    async with db.transaction() as session:
        done = await staff.revoke(session, args.member_id, clock.now())
    if not done:
        raise staff.StaffError(f"no active staff member with id {args.member_id}")
    print(f"staff member {args.member_id} revoked", file=out)
    return 0
