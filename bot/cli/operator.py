"""Operator commands for staff, locations, notices and steunpunt cards: `python -m bot staff ...`,
`location ...` (add, set, list, and qr: the families' subscription link and a printable A4 poster
with its QR code), `notice ...` (list, cancel: the operator can stop any staff notice) and
`steunpunt ...` (changes, undo: what staff changed on their cards, and putting a value back;
report: where caregivers asked for contact, steunpunten without staff in the bot first).
The bot's username comes from --bot-username or BOT_USERNAME when Telegram is not asked.

Only the operator (who runs the bot) can make staff: an invitation is printed here, once.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO, TypeVar

from sqlalchemy import select

from bot.app import roles
from bot.clock import Clock
from bot.db.session import Database
from bot.db.staff import Location
from bot.engine.spec import DIALOGS_DIR, load_yaml
from bot.features.broadcast import delivery as broadcast_delivery
from bot.features.broadcast.models import Broadcast
from bot.features.evenings.files import poster_pdf, poster_png, subscribe_link
from bot.features.evenings.plan import replan_location
from bot.features.handover import requests as handover
from bot.features.staff import handlers as staff
from bot.features.steunpunt import card
from bot.transport.terminal import plain

UsernameLookup = Callable[[], Awaitable[str]]
OPEN_NOTICES = ("scheduled", "sending")
NOTICE_LIST_LENGTH = 50
CHANGES_SHOWN = 20
T = TypeVar("T")


def add_parsers(sub: argparse._SubParsersAction) -> None:
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
    _username_argument(invite)
    listing = actions.add_parser("list", help="active staff (with --all also revoked)")
    listing.add_argument("--all", action="store_true")
    revoke = actions.add_parser(
        "revoke", help="end a staff membership (id from staff list); cancels its planned notices"
    )
    revoke.add_argument("member_id", type=int)

    notices = sub.add_parser("notice", help="staff notices: list, cancel")
    notice_actions = notices.add_subparsers(dest="action", required=True)
    notice_list = notice_actions.add_parser(
        "list", help="planned and running notices (with --all also finished ones)"
    )
    notice_list.add_argument("--all", action="store_true")
    notice_cancel = notice_actions.add_parser(
        "cancel", help="stop a planned or running notice (id from notice list)"
    )
    notice_cancel.add_argument("notice_id", type=int)

    cards = sub.add_parser(
        "steunpunt",
        help="steunpunt cards as staff changed them (changes, undo); requests for contact (report)",
    )
    card_actions = cards.add_subparsers(dest="action", required=True)
    changes = card_actions.add_parser("changes", help="recent card changes, newest first")
    changes.add_argument("--limit", type=_positive, default=CHANGES_SHOWN, metavar="N",
                         help="how many (default %(default)s)")  # fmt: skip
    undo = card_actions.add_parser(
        "undo", help="put the old value of a change back (id from steunpunt changes)"
    )
    undo.add_argument("change_id", type=int)
    card_actions.add_parser(
        "report",
        help="requests for contact per steunpunt: staff, asked while nobody was there, by state",
    )

    places = sub.add_parser("location", help="care-home locations: add, set, list, qr")
    place_actions = places.add_subparsers(dest="action", required=True)
    add = place_actions.add_parser("add", help="add a location")
    add.add_argument("key", help="stable id: lowercase letters, digits, '-' (e.g. de-linde)")
    add.add_argument("--name", required=True)
    add.add_argument("--address", required=True)
    add.add_argument("--organisation", required=True)
    add.add_argument("--example", action="store_true", help="example data, shown as such")
    _reminder_arguments(add, defaults=" (default: 7,1 at 18:30)")
    change = place_actions.add_parser(
        "set", help="change a location; reminders of its upcoming evenings follow new settings"
    )
    change.add_argument("key")
    change.add_argument("--name")
    change.add_argument("--address")
    change.add_argument("--organisation")
    _reminder_arguments(change, defaults="")
    place_actions.add_parser("list", help="all locations")
    qr = place_actions.add_parser(
        "qr", help="the families' subscription link, and an A4 poster with its QR (PNG and PDF)"
    )
    qr.add_argument("key")
    qr.add_argument(
        "--out", type=Path, help="poster file name, without or with .png (default: poster-<key>)"
    )
    _username_argument(qr)


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if not 1 <= number <= 10_000:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 10000, got {text!r}")
    return number


def _username_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bot-username", metavar="NAME",
        help="the bot's @username for the link (default: BOT_USERNAME, else asked from Telegram)",
    )  # fmt: skip


def _reminder_arguments(parser: argparse.ArgumentParser, *, defaults: str) -> None:
    parser.add_argument(
        "--reminder-days",
        type=_checked(staff.parse_reminder_days),
        metavar="DAYS",
        help=f"days before an evening that reminders go out, e.g. 7,1, or none{defaults}",
    )
    parser.add_argument(
        "--reminder-time",
        type=_checked(staff.parse_reminder_time),
        metavar="HH:MM",
        help=f"local time the reminders go out{defaults}",
    )


def _checked(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type: the parser's own message on a bad value, in argparse's usual form."""

    def check(text: str) -> T:
        try:
            return parse(text)
        except staff.StaffError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    check.__name__ = parse.__name__
    return check


async def run(
    db: Database, clock: Clock, args: argparse.Namespace, username: UsernameLookup, out: TextIO
) -> int:
    """Carry out one operator command; problems are printed as one line and give exit code 1."""
    try:
        if args.mode == "location":
            return await _location(db, clock, args, username, out)
        if args.mode == "notice":
            return await _notice(db, clock, args, out)
        if args.mode == "steunpunt":
            return await _card(db, clock, args, out)
        return await _staff(db, clock, args, username, out)
    except (staff.StaffError, card.CardError) as exc:
        print(f"error: {exc}", file=out)
        return 1


async def _location(
    db: Database, clock: Clock, args: argparse.Namespace, username: UsernameLookup, out: TextIO
) -> int:
    if args.action == "qr":
        return await _location_qr(db, args, username, out)
    async with db.transaction() as session:
        if args.action == "add":
            location = await staff.add_location(
                session, clock.now(), args.key, args.name, args.address, args.organisation,
                example=args.example, reminder_days=args.reminder_days,
                reminder_time=args.reminder_time or staff.DEFAULT_REMINDER_TIME,
            )  # fmt: skip
            print(f"location {location.key} added: {location.name}, {location.address}", file=out)
            return 0
        if args.action == "set":
            location = await staff.update_location(
                session, args.key, name=args.name, address=args.address,
                organisation=args.organisation, reminder_days=args.reminder_days,
                reminder_time=args.reminder_time,
            )  # fmt: skip
            replanned = 0
            if args.reminder_days is not None or args.reminder_time is not None:
                replanned = await replan_location(session, location, clock.now())
            print(
                f"location {location.key} changed: {location.name}, {location.address}; "
                f"{_reminders(location)}; reminders of {replanned} upcoming evening(s) "
                "planned again",
                file=out,
            )
            return 0
        result = await session.execute(select(Location).order_by(Location.key))
        for location in result.scalars():
            marker = " (example)" if location.example else ""
            print(
                f"{location.key}\t{location.name} ({location.organisation}){marker}\t"
                f"{location.address}\t{_reminders(location)}",
                file=out,
            )
    return 0


def _reminders(location: Location) -> str:
    if not location.reminder_days:
        return "no reminders"
    days = ",".join(str(d) for d in location.reminder_days)
    return f"reminders {days} day(s) before at {location.reminder_time}"


async def _location_qr(
    db: Database, args: argparse.Namespace, username: UsernameLookup, out: TextIO
) -> int:
    async with db.transaction() as session:
        location = await roles.location_by_key(session, args.key)
    if location is None:
        raise staff.StaffError(f"no location with key {args.key!r} (see: location list)")
    link = subscribe_link(await username(), location.key)
    base: Path = args.out or Path(f"poster-{location.key}")
    png_path, pdf_path = base.with_suffix(".png"), base.with_suffix(".pdf")
    line = load_yaml(DIALOGS_DIR / "evenings.yaml")["messages"]["evening_poster_line"]
    png = await asyncio.to_thread(poster_png, location.name, line, link)
    try:
        await asyncio.to_thread(png_path.write_bytes, png)
        await asyncio.to_thread(pdf_path.write_bytes, poster_pdf(png))
    except OSError as exc:
        raise staff.StaffError(f"cannot write {base}: {exc.strerror}") from None
    print(f"Subscription link for the families of {location.name}:", file=out)
    print(link, file=out)
    print(f"A4 poster with its QR code, print it for the entrance: {png_path} and {pdf_path}",
          file=out)  # fmt: skip
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
            name = await roles.scope_name(session, invite.steunpunt_key, invite.location_id)
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
        cancelled = await broadcast_delivery.cancel_planned_of(session, args.member_id, clock.now())
        running = list(
            await session.scalars(
                select(Broadcast.id).where(
                    Broadcast.sender_member_id == args.member_id, Broadcast.status == "sending"
                )
            )
        )
    print(f"staff member {args.member_id} revoked", file=out)
    if cancelled:
        print(f"planned notice(s) cancelled: {_ids(cancelled)}", file=out)
    if running:
        print(f"still being sent: {_ids(running)} (stop with: notice cancel ID)", file=out)
    return 0


def _ids(ids: list[int]) -> str:
    return ", ".join(str(i) for i in ids)


async def _notice(db: Database, clock: Clock, args: argparse.Namespace, out: TextIO) -> int:
    if args.action == "list":
        shown = ("scheduled", "sending", "done", "cancelled") if args.all else OPEN_NOTICES
        async with db.transaction() as session:
            listing = list(
                await session.scalars(
                    select(Broadcast)
                    .where(Broadcast.status.in_(shown))
                    .order_by(Broadcast.id.desc())
                    .limit(NOTICE_LIST_LENGTH)
                )
            )
            counts = {b.id: await broadcast_delivery.counts_of(session, b.id) for b in listing}
        if not listing:
            print("no notices", file=out)
        for notice in listing:
            moment = notice.started_at or notice.scheduled_for or notice.created_at
            progress = counts[notice.id]
            print(
                f"{notice.id}\t{notice.status}\t{moment:%Y-%m-%d %H:%M} UTC\t{notice.source_name}"
                f"\tby {notice.sender_name or '-'}\tsent {progress.sent} of {notice.recipients}"
                f"\t{' '.join(plain(notice.text_html).split())[:60]}",
                file=out,
            )
        return 0
    async with db.transaction() as session:
        found = await session.get(Broadcast, args.notice_id, with_for_update=True)
        if found is None:
            raise staff.StaffError(f"no notice with id {args.notice_id} (see: notice list)")
        if found.status not in OPEN_NOTICES:
            raise staff.StaffError(f"notice {args.notice_id} is {found.status} already")
        await broadcast_delivery.cancel(session, found, clock.now())
        progress = await broadcast_delivery.counts_of(session, found.id)
    print(
        f"notice {args.notice_id} cancelled; sent before the stop: {progress.sent}, "
        f"not sent: {progress.cancelled}",
        file=out,
    )
    return 0


def _shown(value: str | None) -> str:
    if value is None:
        return "(empty)"
    text = " ".join(value.split())
    return repr(text if len(text) <= 60 else text[:59] + "…")


async def _report(db: Database, out: TextIO) -> int:
    """Where caregivers ask for contact: steunpunten without active staff first (to invite)."""
    async with db.transaction() as session:
        lines = await handover.report(session)
    if not lines:
        print("no requests for contact yet", file=out)
        return 0
    print("steunpunt\tname\tstaff\tasked without staff\tlast asked\topen\tpicked up\tclosed",
          file=out)  # fmt: skip
    for line in lines:
        last = f"{line.last_asked:%Y-%m-%d}" if line.last_asked else "-"
        print(
            f"{line.steunpunt_key}\t{line.name}\t{line.staff}\t{line.asked_without_staff}\t"
            f"{last}\t{line.open}\t{line.picked_up}\t{line.closed}",
            file=out,
        )
    return 0


async def _card(db: Database, clock: Clock, args: argparse.Namespace, out: TextIO) -> int:
    if args.action == "report":
        return await _report(db, out)
    if args.action == "undo":
        async with db.transaction() as session:
            change = await card.undo_change(session, args.change_id, clock.now())
        print(
            f"change {args.change_id} undone: {change.field} of {change.steunpunt_key} is "
            f"{_shown(change.new_value)} again (kept as change {change.id})",
            file=out,
        )
        return 0
    async with db.transaction() as session:
        changes = await card.recent_changes(session, args.limit)
        undone = await card.undone_by(session, [c.id for c in changes])
    if not changes:
        print("no changes", file=out)
    for change in changes:
        who = (
            f"by {change.staff_name or '(erased)'} (staff member {change.staff_member_id or '-'})"
            if change.source == "staff"
            else f"by the operator (undo of {change.undo_of})"
        )
        note = f"\tundone by {undone[change.id]}" if change.id in undone else ""
        print(
            f"{change.id}\t{change.changed_at:%Y-%m-%d %H:%M} UTC\t{change.steunpunt_key}\t"
            f"{change.field}\t{_shown(change.old_value)} -> {_shown(change.new_value)}\t{who}"
            f"{note}",
            file=out,
        )
    return 0
