"""Family evenings of care homes, the family's side: subscribing through the location's link or
QR code, invitations and reminders with answer buttons (ik kom / misschien / ik kom niet, and how
many people), a calendar file, the waiting list of a full evening, and `/mijnavonden`.

The staff side (creating, editing, cancelling, counts) is `bot.features.evenings.staff`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from bot.app.dispatch import Context
from bot.app.registry import MenuEntry, PersonalData, Registry
from bot.app.roles import KEY_PATTERN, location_by_key
from bot.db.staff import Location, LocationSubscription
from bot.engine.flow import Event
from bot.engine.output import Button, OutMessage, Reply, command_button, rows
from bot.features.evenings import staff as evenings_staff
from bot.features.evenings.files import ICS_FILENAME, SUBSCRIBE_PREFIX, evening_ics
from bot.features.evenings.models import EveningRsvp, FamilyEvening
from bot.features.evenings.plan import (
    FAMILY_BUTTONS,
    KIND_CANCELLED,
    KIND_CHANGED,
    KIND_INVITE,
    KIND_PROMOTED,
    KIND_REMINDER,
    KINDS,
    MAX_PARTY,
    answer_text,
    answers_of,
    drop_pending,
    evening_and_location,
    evening_message,
    has_pending_reminders,
    is_subscribed,
    is_upcoming,
    plan_reminders,
    promote_waitlist,
    seats_left,
    short_when,
    when_text,
)
from bot.jobs.scheduled import ScheduledMessage

COMMAND = "mijnavonden"
MAX_LISTED = 10


def menu_button(ctx: Context) -> Button:
    return command_button(ctx.texts.get("button_menu"), "menu")


# ---------------------------------------------------------------- subscribing


async def upcoming_of_location(ctx: Context, location_id: int) -> list[FamilyEvening]:
    result = await ctx.session.scalars(
        select(FamilyEvening)
        .where(
            FamilyEvening.location_id == location_id,
            FamilyEvening.status == "active",
            FamilyEvening.starts_at > ctx.now,
        )
        .order_by(FamilyEvening.starts_at)
        .limit(MAX_LISTED)
    )
    return list(result)


async def on_subscribe_link(ctx: Context, event: Event) -> Reply:
    """`/start loc_<key>`: the location's link or QR code; asks before subscribing."""
    key = event.args.partition("_")[2]
    location = await location_by_key(ctx.session, key) if KEY_PATTERN.match(key) else None
    if location is None:
        return Reply().add(ctx.menu_message("link_not_valid"))
    name = location.name
    if await is_subscribed(ctx.session, ctx.caregiver.id, location.id):
        reply = Reply().add(OutMessage(ctx.texts.get("evening_already_subscribed", name=name)))
        return reply.add(*await _invitations_of(ctx, location), ctx.menu_message())
    question = ctx.texts.get(
        "evening_subscribe_question",
        name=name,
        organisation=location.organisation,
        address=location.address,
    )
    if location.example:
        question += "\n" + ctx.texts.get("evening_location_example")
    buttons = rows(
        # The key, not the id: the button can do no more than the link itself (ids are guessable).
        Button(ctx.texts.get("evening_subscribe_yes"), FAMILY_BUTTONS.pack("sub", location.key)),
        Button(ctx.texts.get("evening_subscribe_no"), FAMILY_BUTTONS.pack("nosub")),
    )
    return Reply().add(OutMessage(question, buttons))


async def _invitations_of(ctx: Context, location: Location) -> list[OutMessage]:
    messages = []
    for evening in await upcoming_of_location(ctx, location.id):
        answers = await answers_of(ctx.session, evening.id)
        mine = next((r for r in answers if r.caregiver_id == ctx.caregiver.id), None)
        messages.append(
            evening_message(ctx.texts, evening, location, "evening_invite_title", mine, answers)
        )
    return messages


async def subscribe(ctx: Context, key: str) -> Reply:
    """ "Ja, graag" under the link's question; the button carries the location key of the link."""
    location = await location_by_key(ctx.session, key) if KEY_PATTERN.match(key) else None
    if location is None:
        return ctx.stale_button()
    reply = Reply(pressed_label=ctx.texts.get("evening_subscribe_yes"))
    name = location.name
    if await is_subscribed(ctx.session, ctx.caregiver.id, location.id):
        return reply.add(OutMessage(ctx.texts.get("evening_already_subscribed", name=name)))
    ctx.session.add(
        LocationSubscription(
            caregiver_id=ctx.caregiver.id, location_id=location.id, subscribed_at=ctx.now
        )
    )
    # Evenings planned before the subscription: shown now, their reminders still to come.
    for evening in await upcoming_of_location(ctx, location.id):
        await drop_pending(ctx.session, evening.id, (KIND_REMINDER,), ctx.caregiver.id)
        plan_reminders(ctx.session, evening, location, [ctx.caregiver.id], ctx.now)
    invitations = await _invitations_of(ctx, location)
    key = "evening_subscribed" if invitations else "evening_subscribed_none_yet"
    reply.add(OutMessage(ctx.texts.get(key, name=name)), *invitations)
    return reply.add(ctx.menu_message())


async def unsubscribe(ctx: Context, location_id: int) -> Reply:
    subscription = await ctx.session.get(LocationSubscription, (ctx.caregiver.id, location_id))
    location = await ctx.session.get(Location, location_id)
    if subscription is None or location is None:
        return ctx.stale_button()
    await ctx.session.delete(subscription)
    # Pending invitations and reminders are skipped by their handlers; remove them right away.
    for evening in await upcoming_of_location(ctx, location_id):
        await drop_pending(ctx.session, evening.id, (KIND_INVITE, KIND_REMINDER), ctx.caregiver.id)
    text = ctx.texts.get("evening_unsubscribed", name=location.name)
    return Reply(pressed_label=ctx.texts.get("evening_unsubscribe_yes")).add(
        OutMessage(text), ctx.menu_message()
    )


# ---------------------------------------------------------------- answering


async def _may_answer(ctx: Context, evening: FamilyEvening, mine: EveningRsvp | None) -> bool:
    """Subscribers of the location answer; someone who answered before may change it."""
    return mine is not None or await is_subscribed(
        ctx.session, ctx.caregiver.id, evening.location_id
    )


async def _loaded(
    ctx: Context, evening_id: int, *, lock: bool = False
) -> tuple[FamilyEvening, Location, list[EveningRsvp], EveningRsvp | None] | Reply:
    """The evening a caregiver acts on, or the reply that says why they cannot (any more)."""
    found = await evening_and_location(ctx.session, evening_id, lock=lock)
    if found is None:
        return ctx.stale_button()
    evening, location = found
    answers = await answers_of(ctx.session, evening.id)
    mine = next((r for r in answers if r.caregiver_id == ctx.caregiver.id), None)
    if not await _may_answer(ctx, evening, mine):
        return ctx.stale_button()
    if evening.status != "active":
        text = ctx.texts.get("evening_gone_cancelled", title=evening.title)
        return Reply(toast=ctx.texts.get("stale_button_toast")).add(
            OutMessage(text, rows(menu_button(ctx)))
        )
    if evening.starts_at <= ctx.now:
        text = ctx.texts.get("evening_gone_past", title=evening.title)
        return Reply(toast=ctx.texts.get("stale_button_toast")).add(
            OutMessage(text, rows(menu_button(ctx)))
        )
    return evening, location, answers, mine


def _party_question(ctx: Context, evening: FamilyEvening, key: str, what: str) -> OutMessage:
    numbers = [
        Button(str(n), FAMILY_BUTTONS.pack(what, evening.id, str(n)))
        for n in range(1, MAX_PARTY + 1)
    ]
    text = ctx.texts.get(key, title=evening.title)
    return OutMessage(text, (tuple(numbers[:3]), tuple(numbers[3:])))


async def on_answer(ctx: Context, evening_id: int, answer: str) -> Reply:
    loaded = await _loaded(ctx, evening_id, lock=answer != "yes")
    if isinstance(loaded, Reply):
        return loaded
    evening, location, answers, mine = loaded
    label = ctx.texts.get(f"evening_button_{answer}")
    if answer == "yes":
        if seats_left(evening, answers, ctx.caregiver.id) == 0:
            full = _party_question(ctx, evening, "evening_full_waitlist_question", "w")
            return Reply(pressed_label=label).add(full)
        return Reply(pressed_label=label).add(
            _party_question(ctx, evening, "evening_party_question", "n")
        )
    was_coming = mine is not None and mine.answer == "yes" and not mine.waitlisted
    mine = _store(ctx, evening, answers, mine, answer, 1, waitlisted=False)
    if answer == "no":
        await drop_pending(ctx.session, evening.id, (KIND_REMINDER,), ctx.caregiver.id)
    elif not await has_pending_reminders(ctx.session, evening, ctx.caregiver.id):
        # "maybe" after an earlier "no": reminders again
        plan_reminders(ctx.session, evening, location, [ctx.caregiver.id], ctx.now)
    if was_coming:
        await promote_waitlist(ctx.session, evening, answers, ctx.now)
    key = "evening_answered_no" if answer == "no" else "evening_answered_maybe"
    text = ctx.texts.get(key, title=evening.title, when=when_text(ctx.texts, evening.starts_at))
    return Reply(pressed_label=label).add(OutMessage(text, _after_answer_buttons(ctx, evening)))


async def on_party(ctx: Context, evening_id: int, people: int, waitlist: bool) -> Reply:
    loaded = await _loaded(ctx, evening_id, lock=True)
    if isinstance(loaded, Reply):
        return loaded
    evening, location, answers, mine = loaded
    label = str(people)
    left = seats_left(evening, answers, ctx.caregiver.id)
    fits = left is None or people <= left
    if not fits and not waitlist:
        text = ctx.texts.get_n("evening_full_for_party", left or 0, title=evening.title, left=left)
        buttons = rows(
            Button(
                ctx.texts.get("evening_button_waitlist"),
                FAMILY_BUTTONS.pack("w", evening.id, str(people)),
            ),
            Button(ctx.texts.get("evening_button_keep"), FAMILY_BUTTONS.pack("keep")),
        )
        return Reply(pressed_label=label).add(OutMessage(text, buttons))
    was_coming = mine is not None and mine.answer == "yes" and not mine.waitlisted
    if was_coming and not fits:
        # Already coming and now more people than fit: the earlier place is kept, not lost.
        kept = mine.party_size if mine else 1
        text = ctx.texts.get_n("evening_full_kept", kept, people=kept)
        return Reply(pressed_label=label).add(OutMessage(text, _after_answer_buttons(ctx, evening)))
    mine = _store(ctx, evening, answers, mine, "yes", people, waitlisted=not fits)
    if not await has_pending_reminders(ctx.session, evening, ctx.caregiver.id):
        plan_reminders(ctx.session, evening, location, [ctx.caregiver.id], ctx.now)
    if was_coming:  # fewer people than before: room for the waiting list
        await promote_waitlist(ctx.session, evening, answers, ctx.now)
    when = when_text(ctx.texts, evening.starts_at)
    if fits:
        key = "evening_answered_yes"
    else:
        key = "evening_answered_waitlist"
    text = ctx.texts.get_n(key, people, title=evening.title, when=when, people=people)
    return Reply(pressed_label=label).add(OutMessage(text, _after_answer_buttons(ctx, evening)))


def _store(
    ctx: Context,
    evening: FamilyEvening,
    answers: list[EveningRsvp],
    mine: EveningRsvp | None,
    answer: str,
    people: int,
    *,
    waitlisted: bool,
) -> EveningRsvp:
    # Staying on the waiting list (e.g. with another number of people) keeps the place in line.
    keep_place = mine is not None and mine.answer == "yes" and mine.waitlisted and waitlisted
    if mine is None:
        mine = EveningRsvp(evening_id=evening.id, caregiver_id=ctx.caregiver.id)
        ctx.session.add(mine)
        answers.append(mine)
    mine.answer, mine.party_size, mine.waitlisted = answer, people, waitlisted
    mine.display_name = (ctx.display_name or mine.display_name or "")[:120]
    if not keep_place:
        mine.answered_at = ctx.now
    return mine


def _after_answer_buttons(ctx: Context, evening: FamilyEvening) -> tuple[tuple[Button, ...], ...]:
    return rows(
        Button(ctx.texts.get("evening_button_calendar"), FAMILY_BUTTONS.pack("ics", evening.id)),
        Button(ctx.texts.get("evening_button_change"), FAMILY_BUTTONS.pack("open", evening.id)),
        command_button(ctx.texts.get("evening_button_mine"), COMMAND),
    )


async def on_calendar(ctx: Context, evening_id: int) -> Reply:
    loaded = await _loaded(ctx, evening_id)
    if isinstance(loaded, Reply):
        return loaded
    evening, location, _, _ = loaded
    data = evening_ics(
        uid=f"familieavond-{evening.id}@mantelzorg-bot",
        title=evening.title,
        starts_at=evening.starts_at,
        place=evening.place,
        address=location.address,
        description=evening.description,
        version=evening.version,
        stamp=ctx.now,
    )
    caption = ctx.texts.get("evening_ics_caption")
    return Reply().add(OutMessage(caption, document=(ICS_FILENAME, data)))


async def on_open(ctx: Context, evening_id: int) -> Reply:
    loaded = await _loaded(ctx, evening_id)
    if isinstance(loaded, Reply):
        return loaded
    evening, location, answers, mine = loaded
    message = evening_message(ctx.texts, evening, location, "evening_card_title", mine, answers)
    return Reply().add(message)


# ---------------------------------------------------------------- /mijnavonden


async def on_my_evenings(ctx: Context, event: Event) -> Reply:
    subscribed = list(
        await ctx.session.scalars(
            select(Location)
            .join(LocationSubscription, LocationSubscription.location_id == Location.id)
            .where(LocationSubscription.caregiver_id == ctx.caregiver.id)
            .order_by(Location.name)
        )
    )
    answered = select(EveningRsvp.evening_id).where(EveningRsvp.caregiver_id == ctx.caregiver.id)
    evenings = list(
        await ctx.session.scalars(
            select(FamilyEvening)
            .where(
                FamilyEvening.status == "active",
                FamilyEvening.starts_at > ctx.now,
                or_(
                    FamilyEvening.location_id.in_([loc.id for loc in subscribed]),
                    FamilyEvening.id.in_(answered),
                ),
            )
            .order_by(FamilyEvening.starts_at)
            .limit(MAX_LISTED)
        )
    )
    texts = ctx.texts
    if not subscribed and not evenings:
        return Reply().add(OutMessage(texts.get("evening_mine_nothing"), rows(menu_button(ctx))))
    lines = [texts.get("evening_mine_title"), ""]
    buttons: list[Button] = []
    if not evenings:
        lines.append(texts.get("evening_mine_none_planned"))
    for evening in evenings:
        location = await ctx.session.get(Location, evening.location_id)
        mine = await ctx.session.get(EveningRsvp, (evening.id, ctx.caregiver.id))
        lines.append(
            texts.get(
                "evening_mine_line",
                title=evening.title,
                location=location.name if location else "",
                when=when_text(texts, evening.starts_at),
                answer=answer_text(texts, mine),
            )
        )
        label = f"{evening.title[:40]} – {short_when(texts, evening.starts_at)}"
        buttons.append(Button(label, FAMILY_BUTTONS.pack("open", evening.id)))
    if subscribed:
        names = ", ".join(loc.name for loc in subscribed)
        lines += ["", texts.get("evening_mine_subscriptions", names=names)]
        for location in subscribed:
            label = texts.get("evening_button_unsubscribe", name=location.name[:40])
            buttons.append(Button(label, FAMILY_BUTTONS.pack("unsub", location.id)))
    buttons.append(menu_button(ctx))
    return Reply().add(OutMessage("\n".join(lines), rows(*buttons)))


async def on_button(ctx: Context, event: Event) -> Reply:
    """Buttons `ev:<what>:<id>[:<value>]` (`ev:sub:<location key>`); every part is checked, and
    the caregiver's right to act on the evening or location is checked again."""
    pressed = FAMILY_BUTTONS.unpack(event.text)
    if pressed is None:
        return ctx.stale_button()
    what, value = pressed.action, pressed.text(1)
    texts = ctx.texts
    if what == "nosub":
        return Reply(pressed_label=texts.get("evening_subscribe_no")).add(
            OutMessage(texts.get("evening_not_subscribed")), ctx.menu_message()
        )
    if what == "keep":
        return Reply(pressed_label=texts.get("evening_button_keep")).add(
            OutMessage(
                texts.get("evening_kept"),
                rows(command_button(texts.get("evening_button_mine"), COMMAND)),
            )
        )
    if what == "sub":
        return await subscribe(ctx, pressed.text(0))
    number = pressed.number(0)  # every other action names an evening or location by its id
    if what == "unsub":
        location = await ctx.session.get(Location, number)
        if location is None or not await is_subscribed(ctx.session, ctx.caregiver.id, number):
            return ctx.stale_button()
        question = texts.get("evening_unsubscribe_question", name=location.name)
        buttons = rows(
            Button(texts.get("evening_unsubscribe_yes"), FAMILY_BUTTONS.pack("unsub_yes", number)),
            Button(texts.get("evening_unsubscribe_no"), FAMILY_BUTTONS.pack("keep")),
        )
        return Reply().add(OutMessage(question, buttons))
    if what == "unsub_yes":
        return await unsubscribe(ctx, number)
    if what == "a":
        return await on_answer(ctx, number, value)
    if what in ("n", "w"):
        return await on_party(ctx, number, int(value), waitlist=what == "w")
    if what == "ics":
        return await on_calendar(ctx, number)
    if what == "open":
        return await on_open(ctx, number)
    return ctx.stale_button()


# ---------------------------------------------------------------- scheduled messages


async def _scheduled_context(
    ctx: Context, row: ScheduledMessage, *, same_version: bool
) -> tuple[FamilyEvening, Location, list[EveningRsvp], EveningRsvp | None] | None:
    """What a scheduled evening message needs, or None when it has nothing to say any more:
    the evening is gone, cancelled, moved (another version), over, or the caregiver left."""
    evening_id = row.payload.get("evening_id")
    if not isinstance(evening_id, int):
        return None
    found = await evening_and_location(ctx.session, evening_id)
    if found is None:
        return None
    evening, location = found
    if not is_upcoming(evening, ctx.now):
        return None
    if same_version and row.payload.get("version") != evening.version:
        return None
    answers = await answers_of(ctx.session, evening.id)
    mine = next((r for r in answers if r.caregiver_id == ctx.caregiver.id), None)
    if not await is_subscribed(ctx.session, ctx.caregiver.id, evening.location_id):
        return None
    return evening, location, answers, mine


async def send_invite(ctx: Context, row: ScheduledMessage) -> OutMessage | None:
    found = await _scheduled_context(ctx, row, same_version=False)
    if found is None:
        return None
    evening, location, answers, mine = found
    return evening_message(ctx.texts, evening, location, "evening_invite_title", mine, answers)


async def send_reminder(ctx: Context, row: ScheduledMessage) -> OutMessage | None:
    found = await _scheduled_context(ctx, row, same_version=True)
    if found is None:
        return None
    evening, location, answers, mine = found
    if mine is not None and mine.answer == "no":
        return None
    return evening_message(ctx.texts, evening, location, "evening_reminder_title", mine, answers)


CHANGE_KEYS = {
    "title": "evening_changed_title_field",
    "starts_at": "evening_changed_when",
    "place": "evening_changed_place",
    "description": "evening_changed_description",
    "max_guests": "evening_changed_max",
}


async def send_changed(ctx: Context, row: ScheduledMessage) -> OutMessage | None:
    found = await _scheduled_context(ctx, row, same_version=False)
    if found is None:
        return None
    evening, location, answers, mine = found
    changes: dict[str, Any] = row.payload.get("changes") or {}
    extra = []
    for field, old in changes.items():
        key = CHANGE_KEYS.get(field)
        if key is None:
            continue
        if field == "starts_at" and isinstance(old, str):
            old = when_text(ctx.texts, datetime.fromisoformat(old))
        extra.append(ctx.texts.get(key, old=str(old or "–")))
    return evening_message(
        ctx.texts, evening, location, "evening_changed_headline", mine, answers, extra
    )


async def send_cancelled(ctx: Context, row: ScheduledMessage) -> OutMessage | None:
    evening_id = row.payload.get("evening_id")
    found = (
        await evening_and_location(ctx.session, evening_id) if isinstance(evening_id, int) else None
    )
    if found is None:
        return None
    evening, location = found
    if evening.status != "cancelled" or evening.starts_at <= ctx.now:
        return None
    mine = await ctx.session.get(EveningRsvp, (evening.id, ctx.caregiver.id))
    subscribed = await is_subscribed(ctx.session, ctx.caregiver.id, evening.location_id)
    if (mine is None and not subscribed) or (mine is not None and mine.answer == "no"):
        return None
    text = "\n".join(
        [
            ctx.texts.get("evening_cancelled_preview"),
            "",
            ctx.texts.get(
                "evening_cancelled_headline", title=evening.title, location=location.name
            ),
            "",
            ctx.texts.get(
                "evening_cancelled_text",
                title=evening.title,
                when=when_text(ctx.texts, evening.starts_at),
            ),
        ]
    )
    return OutMessage(text, rows(menu_button(ctx)))


async def send_promoted(ctx: Context, row: ScheduledMessage) -> OutMessage | None:
    found = await _scheduled_context(ctx, row, same_version=False)
    if found is None:
        return None
    evening, location, answers, mine = found
    if mine is None or mine.answer != "yes" or mine.waitlisted:
        return None
    extra = [ctx.texts.get_n("evening_promoted_text", mine.party_size, people=mine.party_size)]
    return evening_message(
        ctx.texts, evening, location, "evening_promoted_headline", mine, answers, extra
    )


def register(registry: Registry) -> None:
    registry.start_payloads[SUBSCRIBE_PREFIX] = on_subscribe_link
    registry.commands[COMMAND] = on_my_evenings
    registry.menu.append(MenuEntry(COMMAND, "menu_evenings", 50))
    registry.buttons[FAMILY_BUTTONS.prefix] = on_button
    registry.scheduled.update(
        {
            KIND_INVITE: send_invite,
            KIND_REMINDER: send_reminder,
            KIND_CHANGED: send_changed,
            KIND_CANCELLED: send_cancelled,
            KIND_PROMOTED: send_promoted,
        }
    )
    # Subscribing to a location is its own request, needing no consent to store answers.
    registry.kept_without_consent.update(KINDS)
    registry.add_personal_data(
        PersonalData(
            EveningRsvp,
            EveningRsvp.caregiver_id,
            label="kept_rsvp",
            timed=EveningRsvp.answered_at,
            kept_without_consent=True,
        ),
    )
    evenings_staff.register(registry)
