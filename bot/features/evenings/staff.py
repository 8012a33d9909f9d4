"""Family evenings, the staff side: `/avond_nieuw` (step by step, stored so a restart loses
nothing), `/avonden` (upcoming evenings with counts, who comes, edit, cancel) and `/avond_qr`
(the location's subscription link and a printable QR code).

Every press re-checks that the staff member is (still) staff of the evening's location: forged or
old button data, or a revoked membership, gets the ordinary stale-button answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from typing import Any

from sqlalchemy import delete, select

from bot.app.dispatch import Context
from bot.app.registry import InputOwner, MenuEntry, Registry
from bot.app.roles import location_ids_of, scopes_of, staff_menu
from bot.app.router import close_step, open_step
from bot.db.staff import Location
from bot.engine.flow import Event
from bot.engine.output import Button, OutMessage, Reply, command_button, rows
from bot.features.evenings import plan
from bot.features.evenings.files import qr_png, subscribe_link
from bot.features.evenings.models import EveningDraft, EveningRsvp, FamilyEvening
from bot.features.evenings.plan import (
    DESCRIPTION_MAX,
    EVENING_FIELDS,
    GUESTS_MAX,
    KIND_INVITE,
    MAX_AHEAD,
    PLACE_MAX,
    STAFF_BUTTONS,
    TITLE_MAX,
    answers_of,
    count,
    details_lines,
    notify,
    plan_reminders,
    short_when,
    subscriber_ids,
    when_text,
)
from bot.text.dates import WhenError, parse_datetime

# A draft nobody touched for this long is forgotten: later typing is not taken as its answer.
DRAFT_TTL = timedelta(hours=6)
# The open step while an evening is planned or edited.
DRAFT_STEP = "evenings.draft"
FIELDS = EVENING_FIELDS
LISTED = 15


def stop_button(ctx: Context) -> Button:
    return Button(ctx.texts.get("evening_button_stop"), STAFF_BUTTONS.pack("stop"))


async def _staff_location(ctx: Context, location_id: int) -> Location | None:
    """The location, when this user is (still) active staff of it."""
    if location_id not in await location_ids_of(ctx):
        return None
    return await ctx.session.get(Location, location_id)


async def _staff_evening(ctx: Context, evening_id: int) -> tuple[FamilyEvening, Location] | None:
    evening = await ctx.session.get(FamilyEvening, evening_id)
    if evening is None:
        return None
    location = await _staff_location(ctx, evening.location_id)
    return (evening, location) if location is not None else None


async def _drop_draft(ctx: Context) -> None:
    await ctx.session.execute(
        delete(EveningDraft).where(EveningDraft.caregiver_id == ctx.caregiver.id)
    )
    await close_step(ctx, DRAFT_STEP)


async def _hold_step(ctx: Context) -> None:
    """The draft is the one open step: typed text answers it until something else starts."""
    await open_step(ctx, DRAFT_STEP, ttl=DRAFT_TTL)


# ---------------------------------------------------------------- asking, step by step


def _ask(ctx: Context, step: str, location: Location) -> OutMessage:
    texts = ctx.texts
    buttons: list[Button] = []
    expects = "text"
    if step in ("title", "edit_title"):
        text = texts.get("evening_ask_title")
    elif step in ("when", "edit_starts_at"):
        text, expects = texts.get("evening_ask_when"), "datetime"
    elif step in ("place", "edit_place"):
        text = texts.get("evening_ask_place")
        address = location.address[:40]
        buttons.append(
            Button(
                texts.get("evening_button_at_address", address=address), STAFF_BUTTONS.pack("addr")
            )
        )
    elif step in ("description", "edit_description"):
        text = texts.get("evening_ask_description")
        buttons.append(
            Button(texts.get("evening_button_no_description"), STAFF_BUTTONS.pack("nodesc"))
        )
    else:  # max / edit_max_guests
        text, expects = texts.get("evening_ask_max"), "number"
        buttons.append(Button(texts.get("evening_button_no_max"), STAFF_BUTTONS.pack("nomax")))
    buttons.append(stop_button(ctx))
    return OutMessage(text, rows(*buttons), expects=expects)


async def start_draft(ctx: Context, location: Location) -> Reply:
    await _drop_draft(ctx)
    ctx.session.add(
        EveningDraft(
            caregiver_id=ctx.caregiver.id, location_id=location.id, evening_id=None,
            step="title", data={}, updated_at=ctx.now,
        )
    )  # fmt: skip
    await _hold_step(ctx)
    intro = OutMessage(ctx.texts.get("evening_new_intro", name=location.name))
    return Reply().add(intro, _ask(ctx, "title", location))


async def on_new(ctx: Context, event: Event) -> Reply:
    """`/avond_nieuw`: for one location straight away, else first: which location?"""
    await _drop_draft(ctx)
    locations = [
        loc for lid in await location_ids_of(ctx) if (loc := await ctx.session.get(Location, lid))
    ]
    if not locations:
        return Reply().add(staff_menu(ctx, ctx.texts.get("evening_staff_no_location")))
    if len(locations) == 1:
        return await start_draft(ctx, locations[0])
    buttons = [Button(loc.name, STAFF_BUTTONS.pack("new", loc.id)) for loc in locations]
    return Reply().add(OutMessage(ctx.texts.get("evening_choose_location"), rows(*buttons)))


def _summary(ctx: Context, data: dict[str, Any], location: Location) -> list[str]:
    """The draft as the families will see its details (an unsaved evening, never added)."""
    draft = FamilyEvening(
        title=data["title"],
        starts_at=datetime.fromisoformat(data["starts_at"]),
        place=data.get("place") or location.address,
        description=data.get("description") or "",
    )
    lines = [f"<b>{escape(draft.title)}</b>", *details_lines(ctx.texts, draft, location)]
    return [*lines, "", _max_text(ctx, data.get("max_guests"))]


def _max_text(ctx: Context, max_guests: int | None) -> str:
    if max_guests is None:
        return ctx.texts.get("evening_max_none")
    return ctx.texts.get_n("evening_max_some", max_guests, count=max_guests)


async def _confirm_message(ctx: Context, draft: EveningDraft, location: Location) -> OutMessage:
    families = len(await subscriber_ids(ctx.session, location.id))
    lines = [ctx.texts.get("evening_confirm_title"), "", *_summary(ctx, draft.data, location)]
    lines += [
        "",
        ctx.texts.get_n("evening_confirm_families", families, count=families, name=location.name),
    ]
    buttons = rows(
        Button(ctx.texts.get("evening_button_send"), STAFF_BUTTONS.pack("send")), stop_button(ctx)
    )
    return OutMessage("\n".join(lines), buttons)


def _when_question(ctx: Context, starts_at: datetime, old: datetime | None) -> OutMessage:
    texts = ctx.texts
    when = when_text(texts, starts_at)
    if old is None:
        text = texts.get("evening_when_check", when=when)
    else:
        text = texts.get("evening_when_check_edit", when=when, old=when_text(texts, old))
    buttons = rows(
        Button(texts.get("evening_button_when_ok"), STAFF_BUTTONS.pack("when_ok")),
        Button(texts.get("evening_button_when_again"), STAFF_BUTTONS.pack("when_again")),
        stop_button(ctx),
    )
    return OutMessage(text, buttons)


def _when_error(ctx: Context, error: WhenError) -> str:
    values = dict(error.values)
    if "date" in values:
        day = values["date"]
        values["date"] = ctx.texts.translator.format_date(day, "full")  # type: ignore[arg-type]
    problem = ctx.texts.get(f"evening_when_{error.reason}", **values)
    return "\n".join([problem, ctx.texts.get("evening_when_example")])


async def on_stop_word(ctx: Context, event: Event) -> Reply:
    """ "stop" typed while planning an evening: the draft goes, as with its Stoppen button."""
    await _drop_draft(ctx)
    return Reply().add(staff_menu(ctx, ctx.texts.get("evening_stopped")))


async def on_draft_text(ctx: Context, event: Event) -> Reply | None:
    """Typed answers of an open draft; None when no (fresh) draft waits for this user."""
    if event.kind != "text":
        return None
    draft = await ctx.session.get(EveningDraft, ctx.caregiver.id)
    if draft is None:
        return None
    location = await _staff_location(ctx, draft.location_id)
    if draft.updated_at + DRAFT_TTL < ctx.now or location is None:
        await _drop_draft(ctx)
        return None
    text = event.text.strip()
    step = draft.step
    data = dict(draft.data)
    texts = ctx.texts
    reply = Reply()
    if step in ("title", "edit_title", "place", "edit_place", "description", "edit_description"):
        limit = {"title": TITLE_MAX, "place": PLACE_MAX}.get(
            step.removeprefix("edit_"), DESCRIPTION_MAX
        )
        if not text or len(text) > limit:
            return reply.add(
                OutMessage(texts.get("evening_too_long", limit=limit)), _ask(ctx, step, location)
            )
        return await _set(
            ctx,
            draft,
            location,
            step.removeprefix("edit_"),
            " ".join(text.split()) if step.endswith("title") else text,
        )
    if step in ("when", "confirm_when", "edit_starts_at", "confirm_edit_when"):
        try:
            moment = parse_datetime(text, ctx.now, max_ahead=MAX_AHEAD)
        except WhenError as error:
            return reply.add(
                OutMessage(_when_error(ctx, error), rows(stop_button(ctx)), expects="datetime")
            )
        data["starts_at"] = moment.isoformat()
        draft.data, draft.updated_at = data, ctx.now
        editing = draft.evening_id is not None
        draft.step = "confirm_edit_when" if editing else "confirm_when"
        old = None
        if editing:
            evening = await ctx.session.get(FamilyEvening, draft.evening_id)
            old = evening.starts_at if evening else None
        return reply.add(_when_question(ctx, moment, old))
    if step in ("max", "edit_max_guests"):
        number = int(text) if text.isdigit() and len(text) < 10 else None
        if number is None or not 1 <= number <= GUESTS_MAX:
            return reply.add(
                OutMessage(texts.get("evening_max_not_a_number")), _ask(ctx, step, location)
            )
        return await _set(ctx, draft, location, "max_guests", number)
    # A confirmation step: the buttons answer it.
    return reply.add(OutMessage(texts.get("evening_use_buttons"), rows(stop_button(ctx))))


ASKED_BY_FIELD = {
    "place": ("place", "edit_place"),
    "description": ("description", "edit_description"),
    "max_guests": ("max", "edit_max_guests"),
}
NEXT_STEP = {"title": "when", "place": "description", "description": "max", "max_guests": "confirm"}


async def _set(
    ctx: Context, draft: EveningDraft, location: Location, field: str, value: Any
) -> Reply:
    """Store one answer; in a new evening ask the next one, in an edit ask to confirm."""
    data = dict(draft.data)
    data[field] = value
    draft.data, draft.updated_at = data, ctx.now
    if draft.evening_id is not None:
        return await _confirm_edit(ctx, draft, location, field)
    draft.step = NEXT_STEP[field]
    if draft.step == "confirm":
        return Reply().add(await _confirm_message(ctx, draft, location))
    return Reply().add(_ask(ctx, draft.step, location))


async def _confirm_edit(ctx: Context, draft: EveningDraft, location: Location, field: str) -> Reply:
    evening = await ctx.session.get(FamilyEvening, draft.evening_id)
    if evening is None:
        await ctx.session.delete(draft)
        return ctx.stale_button()
    draft.step = f"confirm_edit_{field}"
    value = draft.data.get(field)
    shown = _max_text(ctx, value) if field == "max_guests" else str(value or "–")
    families = len(await subscriber_ids(ctx.session, location.id))
    text = ctx.texts.get_n("evening_edit_check", families, title=evening.title, value=shown,
                           count=families)  # fmt: skip
    buttons = rows(
        Button(ctx.texts.get("evening_button_apply"), STAFF_BUTTONS.pack("apply")), stop_button(ctx)
    )
    return Reply().add(OutMessage(text, buttons))


# ---------------------------------------------------------------- creating, editing, cancelling


async def _draft_and_location(ctx: Context) -> tuple[EveningDraft, Location] | None:
    draft = await ctx.session.get(EveningDraft, ctx.caregiver.id)
    if draft is None:
        return None
    location = await _staff_location(ctx, draft.location_id)
    if location is None:
        await ctx.session.delete(draft)
        return None
    return draft, location


async def create_evening(ctx: Context, draft: EveningDraft, location: Location) -> Reply:
    data = draft.data
    starts_at = datetime.fromisoformat(data["starts_at"])
    if starts_at <= ctx.now:
        draft.step, draft.updated_at = "when", ctx.now
        return Reply().add(
            OutMessage(ctx.texts.get("evening_when_past")), _ask(ctx, "when", location)
        )
    member_id = next(
        (s.member_id for s in await scopes_of(ctx) if s.location_id == location.id), None
    )
    evening = FamilyEvening(
        location_id=location.id, title=data["title"], starts_at=starts_at,
        place=data.get("place") or location.address, description=data.get("description") or "",
        max_guests=data.get("max_guests"), status="active", created_by=member_id,
        created_at=ctx.now, updated_at=ctx.now, version=1,
    )  # fmt: skip
    ctx.session.add(evening)
    await ctx.session.flush()
    families = await subscriber_ids(ctx.session, location.id)
    notify(ctx.session, evening, families, KIND_INVITE, ctx.now)
    plan_reminders(ctx.session, evening, location, families, ctx.now)
    await ctx.session.delete(draft)
    text = ctx.texts.get_n("evening_sent", len(families), count=len(families), name=location.name)
    return Reply(pressed_label=ctx.texts.get("evening_button_send")).add(
        OutMessage(text), staff_menu(ctx, ctx.texts.get("evening_staff_more"))
    )


async def apply_edit(ctx: Context, draft: EveningDraft, location: Location) -> Reply:
    evening = await ctx.session.get(FamilyEvening, draft.evening_id)
    field = draft.step.removeprefix("confirm_edit_")
    field = "starts_at" if field == "when" else field
    if evening is None or field not in FIELDS or field not in draft.data:
        await ctx.session.delete(draft)
        return ctx.stale_button()
    await ctx.session.delete(draft)
    if evening.status != "active" or evening.starts_at <= ctx.now:
        return Reply().add(OutMessage(ctx.texts.get("evening_staff_not_editable")))
    new = draft.data[field]
    if field == "starts_at":
        new = datetime.fromisoformat(new)
        if new <= ctx.now:
            return Reply().add(OutMessage(ctx.texts.get("evening_when_past")))
    old = getattr(evening, field)
    if new == old:
        return Reply().add(await evening_card(ctx, evening, location))
    families = await plan.change_evening(ctx.session, evening, location, {field: new}, ctx.now)
    text = ctx.texts.get_n("evening_changed_sent", families, count=families)
    return Reply(pressed_label=ctx.texts.get("evening_button_apply")).add(
        OutMessage(text), await evening_card(ctx, evening, location)
    )


async def cancel_evening(ctx: Context, evening: FamilyEvening, location: Location) -> Reply:
    if evening.status != "active" or evening.starts_at <= ctx.now:
        return Reply().add(OutMessage(ctx.texts.get("evening_staff_not_editable")))
    families = await plan.cancel_evening(ctx.session, evening, location, ctx.now)
    text = ctx.texts.get_n("evening_cancel_done", families, title=evening.title,
                          count=families)  # fmt: skip
    return Reply(pressed_label=ctx.texts.get("evening_button_cancel_yes")).add(
        OutMessage(text), staff_menu(ctx, ctx.texts.get("evening_staff_more"))
    )


# ---------------------------------------------------------------- /avonden


def _counts_line(ctx: Context, evening: FamilyEvening, answers: list[EveningRsvp]) -> str:
    c = count(answers)
    line = ctx.texts.get_n(
        "evening_counts", c.yes_people, yes=c.yes, people=c.yes_people, maybe=c.maybe, no=c.no
    )
    if evening.max_guests is not None:
        line += " " + ctx.texts.get("evening_counts_max", max=evening.max_guests)
    if c.waitlist:
        line += " " + ctx.texts.get("evening_counts_waitlist", count=c.waitlist)
    return line


async def on_list(ctx: Context, event: Event) -> Reply:
    await _drop_draft(ctx)
    ids = await location_ids_of(ctx)
    evenings = list(
        await ctx.session.scalars(
            select(FamilyEvening)
            .where(
                FamilyEvening.location_id.in_(ids),
                FamilyEvening.status == "active",
                FamilyEvening.starts_at > ctx.now,
            )
            .order_by(FamilyEvening.starts_at)
            .limit(LISTED)
        )
    )
    texts = ctx.texts
    new_button = command_button(texts.get("evening_menu_new"), "avond_nieuw")
    if not evenings:
        return Reply().add(OutMessage(texts.get("evening_list_empty"), rows(new_button)))
    lines = [texts.get("evening_list_title"), ""]
    buttons = []
    for evening in evenings:
        location = await ctx.session.get(Location, evening.location_id)
        answers = await answers_of(ctx.session, evening.id)
        name = f" ({escape(location.name)})" if location is not None and len(ids) > 1 else ""
        lines += [
            f"<b>{escape(evening.title)}</b>{name}",
            escape(when_text(texts, evening.starts_at)),
            _counts_line(ctx, evening, answers),
            "",
        ]
        label = f"{evening.title[:40]} – {short_when(texts, evening.starts_at)}"
        buttons.append(Button(label, STAFF_BUTTONS.pack("show", evening.id)))
    buttons += [new_button, command_button(texts.get("button_menu"), "menu")]
    return Reply().add(OutMessage("\n".join(lines).rstrip(), rows(*buttons)))


async def evening_card(ctx: Context, evening: FamilyEvening, location: Location) -> OutMessage:
    """One evening for its staff: details, counts, who said what, and what can be done."""
    texts = ctx.texts
    answers = await answers_of(ctx.session, evening.id)
    lines = [f"<b>{escape(evening.title)}</b>", *details_lines(texts, evening, location), ""]
    lines += [_counts_line(ctx, evening, answers)]
    groups = (
        ("evening_names_yes", [r for r in answers if r.answer == "yes" and not r.waitlisted]),
        ("evening_names_maybe", [r for r in answers if r.answer == "maybe"]),
        ("evening_names_no", [r for r in answers if r.answer == "no"]),
        ("evening_names_waitlist", [r for r in answers if r.answer == "yes" and r.waitlisted]),
    )
    for key, group in groups:
        if group:
            lines += ["", texts.get(key)]
            for rsvp in group:
                name = escape(rsvp.display_name or texts.get("evening_name_unknown"))
                people = f" ({rsvp.party_size})" if rsvp.answer == "yes" else ""
                lines.append(f"• {name}{people}")
    buttons = [
        Button(texts.get(f"evening_button_edit_{f}"), STAFF_BUTTONS.pack("edit", evening.id, f))
        for f in FIELDS
    ]
    buttons += [
        Button(texts.get("evening_button_cancel"), STAFF_BUTTONS.pack("cancel", evening.id)),
        command_button(texts.get("evening_button_back"), "avonden"),
    ]
    return OutMessage("\n".join(lines), rows(*buttons))


# ---------------------------------------------------------------- link and QR code


def bot_username(ctx: Context) -> str | None:
    lookup = getattr(ctx.core, "bot_username", None)
    if lookup is None:
        return None
    try:
        return lookup() or None
    except RuntimeError:  # the Telegram bot is not initialised (yet)
        return None


async def on_qr(ctx: Context, event: Event) -> Reply:
    await _drop_draft(ctx)
    locations = [
        loc for lid in await location_ids_of(ctx) if (loc := await ctx.session.get(Location, lid))
    ]
    if not locations:
        return Reply().add(staff_menu(ctx, ctx.texts.get("evening_staff_no_location")))
    username = bot_username(ctx)
    reply = Reply()
    for location in locations:
        if username is None:
            text = ctx.texts.get("evening_qr_no_username", key=location.key)
            reply.add(OutMessage(text))
            continue
        link = subscribe_link(username, location.key)
        text = ctx.texts.get("evening_qr_caption", name=location.name, link=link)
        reply.add(OutMessage(text, image=qr_png(link)))
    return reply.add(staff_menu(ctx, ctx.texts.get("evening_staff_more")))


# ---------------------------------------------------------------- buttons


async def on_button(ctx: Context, event: Event) -> Reply:
    """Staff buttons `eva:<what>[:<id>[:<field>]]`."""
    pressed = STAFF_BUTTONS.unpack(event.text)
    if pressed is None:
        return ctx.stale_button()
    what = pressed.action
    texts = ctx.texts
    if what == "stop":
        await _drop_draft(ctx)
        return Reply(pressed_label=texts.get("evening_button_stop")).add(
            staff_menu(ctx, texts.get("evening_stopped"))
        )
    if not pressed.values:
        return await _draft_button(ctx, what)
    number = pressed.number(0)
    if what == "new":
        location = await _staff_location(ctx, number)
        return await start_draft(ctx, location) if location is not None else ctx.stale_button()
    found = await _staff_evening(ctx, number)
    if found is None:
        return ctx.stale_button()
    evening, location = found
    if what == "show":
        return Reply().add(await evening_card(ctx, evening, location))
    if evening.status != "active" or evening.starts_at <= ctx.now:
        return Reply(toast=texts.get("stale_button_toast")).add(
            OutMessage(texts.get("evening_staff_not_editable"))
        )
    if what == "edit":
        field = pressed.text(1)
        await _drop_draft(ctx)
        ctx.session.add(
            EveningDraft(
                caregiver_id=ctx.caregiver.id, location_id=location.id, evening_id=evening.id,
                step=f"edit_{field}", data={}, updated_at=ctx.now,
            )
        )  # fmt: skip
        await _hold_step(ctx)
        return Reply(pressed_label=texts.get(f"evening_button_edit_{field}")).add(
            _ask(ctx, f"edit_{field}", location)
        )
    if what == "cancel":
        question = texts.get(
            "evening_cancel_question",
            title=evening.title,
            when=when_text(texts, evening.starts_at),
        )
        buttons = rows(
            Button(
                texts.get("evening_button_cancel_yes"), STAFF_BUTTONS.pack("cancel_yes", evening.id)
            ),
            Button(texts.get("evening_button_cancel_no"), STAFF_BUTTONS.pack("show", evening.id)),
        )
        return Reply().add(OutMessage(question, buttons))
    if what == "cancel_yes":
        return await cancel_evening(ctx, evening, location)
    return ctx.stale_button()


async def _draft_button(ctx: Context, what: str) -> Reply:
    found = await _draft_and_location(ctx)
    if found is None:
        return ctx.stale_button()
    draft, location = found
    await _hold_step(ctx)
    texts = ctx.texts
    step = draft.step
    editing = draft.evening_id is not None
    if what == "when_ok" and step in ("confirm_when", "confirm_edit_when"):
        label = texts.get("evening_button_when_ok")
        if editing:
            draft.step = "confirm_edit_starts_at"
            return Reply(pressed_label=label).add(
                *(await apply_edit(ctx, draft, location)).messages
            )
        draft.step, draft.updated_at = "place", ctx.now
        return Reply(pressed_label=label).add(_ask(ctx, "place", location))
    if what == "when_again" and step in ("confirm_when", "confirm_edit_when"):
        draft.step = "edit_starts_at" if editing else "when"
        draft.updated_at = ctx.now
        return Reply(pressed_label=texts.get("evening_button_when_again")).add(
            _ask(ctx, draft.step, location)
        )
    defaults = {"addr": ("place", location.address), "nodesc": ("description", ""),
                "nomax": ("max_guests", None)}  # fmt: skip
    if what in defaults:
        field, value = defaults[what]
        if step in ASKED_BY_FIELD[field]:
            return await _set(ctx, draft, location, field, value)
    if what == "send" and step == "confirm" and not editing:
        return await create_evening(ctx, draft, location)
    if what == "apply" and editing and step.startswith("confirm_edit_"):
        return await apply_edit(ctx, draft, location)
    return ctx.stale_button()


# ---------------------------------------------------------------- wiring


def register(registry: Registry) -> None:
    registry.staff_commands.update({"avond_nieuw": on_new, "avonden": on_list, "avond_qr": on_qr})
    registry.staff_buttons[STAFF_BUTTONS.prefix] = on_button
    registry.staff_menu.extend(
        [
            MenuEntry("avond_nieuw", "evening_menu_new", 20),
            MenuEntry("avonden", "evening_menu_list", 21),
            MenuEntry("avond_qr", "evening_menu_qr", 22),
        ]
    )
    registry.inputs[DRAFT_STEP] = InputOwner(on_draft_text, stop=on_stop_word)
