"""What the caregiver and staff sides of the family evenings share: loading evenings, counting
answers, the waiting list, the evening's message, and planning invitations and reminders as
scheduling rows (restart-safe; each row is claimed by one instance and sent once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from html import escape
from typing import Any

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.staff import Location, LocationSubscription
from bot.engine.codec import ButtonCodec
from bot.engine.output import Button, OutMessage
from bot.features.evenings.models import EveningRsvp, FamilyEvening
from bot.jobs.scheduled import ScheduledMessage, in_quiet_window, schedule
from bot.text.content import Texts
from bot.text.dates import at_local, local_date

PREFIX = "ev"  # caregiver buttons
STAFF_PREFIX = "eva"  # staff buttons
KIND_INVITE = "evening_invite"
KIND_REMINDER = "evening_reminder"
KIND_CHANGED = "evening_changed"
KIND_CANCELLED = "evening_cancelled"
KIND_PROMOTED = "evening_promoted"
KINDS = (KIND_INVITE, KIND_REMINDER, KIND_CHANGED, KIND_CANCELLED, KIND_PROMOTED)
ANSWERS = ("yes", "maybe", "no")
MAX_PARTY = 6
PARTY = tuple(str(n) for n in range(1, MAX_PARTY + 1))
# Families: ev:sub:<location key> | ev:nosub | ev:keep | ev:unsub[_yes]:<location id> |
# ev:a:<evening>:yes|maybe|no | ev:n|w:<evening>:<people> | ev:ics|open:<evening>
FAMILY_BUTTONS = ButtonCodec(
    PREFIX,
    {
        "sub": (str,), "nosub": (), "keep": (), "unsub": (int,), "unsub_yes": (int,),
        "a": (int, ANSWERS), "n": (int, PARTY), "w": (int, PARTY), "ics": (int,),
        "open": (int,),
    },
)  # fmt: skip
# Staff: eva:new:<location> | eva:show|cancel|cancel_yes:<evening> | eva:edit:<evening>:<field>
# (the planning and editing dialogs have the engine's buttons).
EVENING_FIELDS = ("starts_at", "place", "title", "description", "max_guests")
STAFF_BUTTONS = ButtonCodec(
    STAFF_PREFIX,
    {
        "new": (int,), "show": (int,), "cancel": (int,), "cancel_yes": (int,),
        "edit": (int, EVENING_FIELDS),
    },
)  # fmt: skip
# A reminder closer than this after the invitation (or a change) would only repeat it: left out.
MIN_REMINDER_GAP = timedelta(hours=20)


@dataclass(frozen=True)
class Counts:
    yes: int = 0
    yes_people: int = 0
    maybe: int = 0
    no: int = 0
    waitlist: int = 0


def count(answers: list[EveningRsvp]) -> Counts:
    return Counts(
        yes=sum(1 for r in answers if r.answer == "yes" and not r.waitlisted),
        yes_people=seats_taken(answers),
        maybe=sum(1 for r in answers if r.answer == "maybe"),
        no=sum(1 for r in answers if r.answer == "no"),
        waitlist=sum(1 for r in answers if r.answer == "yes" and r.waitlisted),
    )


def seats_taken(answers: list[EveningRsvp], except_caregiver: int | None = None) -> int:
    return sum(
        r.party_size
        for r in answers
        if r.answer == "yes" and not r.waitlisted and r.caregiver_id != except_caregiver
    )


def seats_left(evening: FamilyEvening, answers: list[EveningRsvp], caregiver_id: int) -> int | None:
    """Places still free for this caregiver (their own "yes" counts as free); None: no maximum."""
    if evening.max_guests is None:
        return None
    return max(0, evening.max_guests - seats_taken(answers, except_caregiver=caregiver_id))


async def answers_of(session: AsyncSession, evening_id: int) -> list[EveningRsvp]:
    result = await session.scalars(
        select(EveningRsvp)
        .where(EveningRsvp.evening_id == evening_id)
        .order_by(EveningRsvp.answered_at, EveningRsvp.caregiver_id)
    )
    return list(result)


async def evening_and_location(
    session: AsyncSession, evening_id: int, *, lock: bool = False
) -> tuple[FamilyEvening, Location] | None:
    """The evening with its location; `lock` serialises answers to one evening (PostgreSQL), so
    two families never both take the last places."""
    query = select(FamilyEvening).where(FamilyEvening.id == evening_id)
    if lock:
        query = query.with_for_update()
    evening = (await session.execute(query)).scalar_one_or_none()
    if evening is None:
        return None
    location = await session.get(Location, evening.location_id)
    return (evening, location) if location is not None else None


async def subscriber_ids(session: AsyncSession, location_id: int) -> list[int]:
    result = await session.scalars(
        select(LocationSubscription.caregiver_id)
        .where(LocationSubscription.location_id == location_id)
        .order_by(LocationSubscription.caregiver_id)
    )
    return list(result)


async def is_subscribed(session: AsyncSession, caregiver_id: int, location_id: int) -> bool:
    return await session.get(LocationSubscription, (caregiver_id, location_id)) is not None


def is_upcoming(evening: FamilyEvening, now: datetime) -> bool:
    return evening.status == "active" and evening.starts_at > now


# ---------------------------------------------------------------- the evening's message


def when_text(texts: Texts, moment: datetime) -> str:
    """ "vrijdag 12 december 2026 om 19:30", in Dutch time whatever the server's zone."""
    return texts.translator.format_datetime(moment)


def short_when(texts: Texts, moment: datetime) -> str:
    return texts.translator.format_datetime(moment, format="EEE d MMM")


def answer_text(texts: Texts, rsvp: EveningRsvp | None) -> str:
    if rsvp is None:
        return texts.get("evening_your_answer_none")
    if rsvp.answer == "yes" and rsvp.waitlisted:
        return texts.get_n("evening_your_answer_waitlist", rsvp.party_size, people=rsvp.party_size)
    if rsvp.answer == "yes":
        return texts.get_n("evening_your_answer_yes", rsvp.party_size, people=rsvp.party_size)
    return texts.get(f"evening_your_answer_{rsvp.answer}")


def details_lines(texts: Texts, evening: FamilyEvening, location: Location) -> list[str]:
    place = (
        evening.place
        if evening.place == location.address
        else (f"{evening.place}, {location.address}")
    )
    lines = [
        f"📅 {escape(when_text(texts, evening.starts_at))}",
        f"📍 {escape(place)} ({escape(location.name)})",
    ]
    if location.example:
        lines.append(texts.get("evening_location_example"))
    if evening.description:
        lines += ["", escape(evening.description)]
    return lines


def answer_buttons(texts: Texts, evening_id: int) -> tuple[tuple[Button, ...], ...]:
    return (
        (
            Button(texts.get("evening_button_yes"), FAMILY_BUTTONS.pack("a", evening_id, "yes")),
            Button(
                texts.get("evening_button_maybe"), FAMILY_BUTTONS.pack("a", evening_id, "maybe")
            ),
        ),
        (Button(texts.get("evening_button_no"), FAMILY_BUTTONS.pack("a", evening_id, "no")),),
        (Button(texts.get("evening_button_calendar"), FAMILY_BUTTONS.pack("ics", evening_id)),),
    )


# Pushed messages (by their headline) start with two neutral lines for lock screens; a card
# shown in the chat on request does not need them.
PREVIEWS = {
    "evening_invite_title": "evening_invite_preview",
    "evening_reminder_title": "evening_reminder_preview",
    "evening_changed_headline": "evening_changed_preview",
    "evening_promoted_headline": "evening_promoted_preview",
}


def evening_message(
    texts: Texts,
    evening: FamilyEvening,
    location: Location,
    headline_key: str,
    rsvp: EveningRsvp | None,
    answers: list[EveningRsvp],
    extra: list[str] | None = None,
) -> OutMessage:
    """An invitation, reminder or change: two neutral lines when pushed (`PREVIEWS`, lock
    screens), the headline, the details, the caregiver's answer, and the answer and calendar
    buttons."""
    title = texts.get(headline_key, title=evening.title, location=location.name)
    preview = [texts.get(PREVIEWS[headline_key]), ""] if headline_key in PREVIEWS else []
    lines = [*preview, title, *(extra or []), ""]
    lines += [*details_lines(texts, evening, location), ""]
    left = seats_left(evening, answers, rsvp.caregiver_id if rsvp else -1)
    if left == 0 and not (rsvp is not None and rsvp.answer == "yes" and not rsvp.waitlisted):
        lines.append(texts.get("evening_is_full"))
    lines.append(answer_text(texts, rsvp))
    return OutMessage("\n".join(lines), answer_buttons(texts, evening.id))


# ---------------------------------------------------------------- planning rows


def reminder_moments(
    evening: FamilyEvening,
    location: Location,
    now: datetime,
    min_gap: timedelta = MIN_REMINDER_GAP,
) -> list[tuple[int, datetime]]:
    """(days before, moment) of the location's reminders for this evening that are still to come
    (at least `min_gap` from now): on the local day `days` before, at the location's reminder
    time (DST-correct)."""
    hour, _, minute = location.reminder_time.partition(":")
    at = time(int(hour), int(minute or 0))
    evening_day = local_date(evening.starts_at)
    moments = []
    for days in sorted({int(d) for d in location.reminder_days if int(d) > 0}, reverse=True):
        due = at_local(evening_day - timedelta(days=days), at)
        if now + min_gap <= due < evening.starts_at:
            moments.append((days, due))
    return moments


def payload(evening: FamilyEvening, **extra: Any) -> dict[str, Any]:
    return {"evening_id": evening.id, "version": evening.version, **extra}


def plan_reminders(
    session: AsyncSession,
    evening: FamilyEvening,
    location: Location,
    caregiver_ids: list[int],
    now: datetime,
    *,
    min_gap: timedelta = MIN_REMINDER_GAP,
    already_sent: frozenset[tuple[int, int]] = frozenset(),
) -> int:
    """Reminder rows for each caregiver, except the (caregiver, days) in `already_sent`."""
    quiet_ok = in_quiet_window(time.fromisoformat(location.reminder_time))
    planned = 0
    for days, due in reminder_moments(evening, location, now, min_gap):
        for caregiver_id in caregiver_ids:
            if (caregiver_id, days) in already_sent:
                continue
            extra = payload(evening, days=days, quiet_ok=quiet_ok)
            schedule(session, caregiver_id, KIND_REMINDER, due, now, extra)
            planned += 1
    return planned


def of_evening(evening_id: int) -> ColumnElement[bool]:
    """Scheduling rows about one evening (its id is in their payload)."""
    return ScheduledMessage.payload["evening_id"].as_integer() == evening_id


async def has_pending_reminders(
    session: AsyncSession, evening: FamilyEvening, caregiver_id: int
) -> bool:
    found = await session.scalars(
        select(ScheduledMessage.id).where(
            ScheduledMessage.caregiver_id == caregiver_id,
            ScheduledMessage.kind == KIND_REMINDER,
            ScheduledMessage.status == "pending",
            of_evening(evening.id),
        )
    )
    return found.first() is not None


async def sent_reminders(
    session: AsyncSession, evening: FamilyEvening
) -> frozenset[tuple[int, int]]:
    """(caregiver, days before) of the reminders already sent for this version of the evening."""
    days = ScheduledMessage.payload["days"].as_integer()
    result = await session.execute(
        select(ScheduledMessage.caregiver_id, days).where(
            ScheduledMessage.kind == KIND_REMINDER,
            ScheduledMessage.status == "sent",
            of_evening(evening.id),
            ScheduledMessage.payload["version"].as_integer() == evening.version,
        )
    )
    return frozenset((int(c), int(d)) for c, d in result.all() if d is not None)


async def replan_reminders(
    session: AsyncSession,
    evening: FamilyEvening,
    location: Location,
    now: datetime,
    *,
    min_gap: timedelta = MIN_REMINDER_GAP,
) -> None:
    """Plan the evening's reminders again from scratch (after a change of the evening or of the
    location's reminder settings): every subscriber except those who said they do not come, and
    none that was already sent for this version of the evening."""
    await drop_pending(session, evening.id, (KIND_REMINDER,))
    not_coming = {r.caregiver_id for r in await answers_of(session, evening.id) if r.answer == "no"}
    families = [c for c in await subscriber_ids(session, location.id) if c not in not_coming]
    plan_reminders(
        session, evening, location, families, now, min_gap=min_gap,
        already_sent=await sent_reminders(session, evening),
    )  # fmt: skip


async def replan_location(session: AsyncSession, location: Location, now: datetime) -> int:
    """After the location's reminder days or time changed: its upcoming evenings' reminders
    follow the new settings. Returns how many evenings were planned again."""
    evenings = list(
        await session.scalars(
            select(FamilyEvening).where(
                FamilyEvening.location_id == location.id,
                FamilyEvening.status == "active",
                FamilyEvening.starts_at > now,
            )
        )
    )
    for evening in evenings:
        # No message goes with a change of settings: a reminder due soon is still wanted.
        await replan_reminders(session, evening, location, now, min_gap=timedelta(0))
    return len(evenings)


def notify(
    session: AsyncSession,
    evening: FamilyEvening,
    caregiver_ids: list[int],
    kind: str,
    now: datetime,
    **extra: Any,
) -> None:
    """A message to each of `caregiver_ids` as soon as the scheduler's next tick (outside quiet
    hours): through the rows, every send is rate-limited and survives a restart."""
    for caregiver_id in caregiver_ids:
        schedule(session, caregiver_id, kind, now, now, payload(evening, **extra))


async def drop_pending(
    session: AsyncSession,
    evening_id: int,
    kinds: tuple[str, ...],
    caregiver_id: int | None = None,
) -> None:
    statement = delete(ScheduledMessage).where(
        ScheduledMessage.status == "pending",
        ScheduledMessage.kind.in_(kinds),
        of_evening(evening_id),
    )
    if caregiver_id is not None:
        statement = statement.where(ScheduledMessage.caregiver_id == caregiver_id)
    await session.execute(statement.execution_options(synchronize_session=False))


async def promote_waitlist(
    session: AsyncSession, evening: FamilyEvening, answers: list[EveningRsvp], now: datetime
) -> list[EveningRsvp]:
    """Move up the waiting list, first come first served, everyone whose party still fits; each
    is told by a message of their own."""
    if evening.max_guests is None:
        waiting = [r for r in answers if r.answer == "yes" and r.waitlisted]
    else:
        waiting = []
        taken = seats_taken(answers)
        for rsvp in answers:
            if rsvp.answer == "yes" and rsvp.waitlisted:
                if taken + rsvp.party_size <= evening.max_guests:
                    taken += rsvp.party_size
                    waiting.append(rsvp)
    for rsvp in waiting:
        rsvp.waitlisted = False
    if waiting:
        notify(session, evening, [r.caregiver_id for r in waiting], KIND_PROMOTED, now)
    return waiting


# ---------------------------------------------------------------- changing and cancelling


async def change_evening(
    session: AsyncSession,
    evening: FamilyEvening,
    location: Location,
    changes: dict[str, Any],
    now: datetime,
) -> int:
    """Apply `changes` (field -> new value, fields of `EVENING_FIELDS`) to an upcoming evening:
    a new version, the waiting list moved up when there is room, reminders planned again (at
    the new date, if moved), and one change message to every subscriber, replacing an earlier
    one not sent yet (it shows all details). Returns how many families are told."""
    old = {name: getattr(evening, name) for name in changes}
    for name, value in changes.items():
        setattr(evening, name, value)
    evening.version += 1
    evening.updated_at = now
    if "max_guests" in changes:
        await promote_waitlist(session, evening, await answers_of(session, evening.id), now)
    await drop_pending(session, evening.id, (KIND_CHANGED,))
    await replan_reminders(session, evening, location, now)
    families = await subscriber_ids(session, location.id)
    shown = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in old.items()}
    notify(session, evening, families, KIND_CHANGED, now, changes=shown)
    return len(families)


async def cancel_evening(
    session: AsyncSession, evening: FamilyEvening, location: Location, now: datetime
) -> int:
    """Cancel an upcoming evening: nothing more is planned for it, and every subscriber and
    everyone who answered (except those who said no) is told. Returns how many are told."""
    evening.status = "cancelled"
    evening.version += 1
    evening.updated_at = now
    await drop_pending(
        session, evening.id, (KIND_INVITE, KIND_REMINDER, KIND_CHANGED, KIND_PROMOTED)
    )
    answers = await answers_of(session, evening.id)
    families = set(await subscriber_ids(session, location.id))
    families |= {r.caregiver_id for r in answers if r.answer != "no"}
    families -= {r.caregiver_id for r in answers if r.answer == "no"}
    notify(session, evening, sorted(families), KIND_CANCELLED, now)
    return len(families)
