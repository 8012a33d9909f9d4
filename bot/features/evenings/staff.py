"""Family evenings, the staff side: `/avond_nieuw` (the dialog `dialogs/evenings_new.yaml`, one
question a time, stored so a restart loses nothing), `/avonden` (upcoming evenings with counts,
who comes, edit with `dialogs/evenings_edit.yaml`, cancel) and `/avond_qr` (the location's
subscription link and a printable QR code).

Every press re-checks that the staff member is (still) staff of the evening's location: forged or
old button data, or a revoked membership, gets the ordinary stale-button answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from html import escape

from sqlalchemy import select

from bot.app.dispatch import Context
from bot.app.registry import MenuEntry, Registry
from bot.app.roles import location_ids_of, scopes_of, staff_menu
from bot.db.staff import Location
from bot.engine.flow import Event, State
from bot.engine.output import Button, OutMessage, Reply, command_button, rows
from bot.engine.spec import Dialog
from bot.features.evenings import plan
from bot.features.evenings.files import qr_png, subscribe_link
from bot.features.evenings.models import EveningRsvp, FamilyEvening
from bot.features.evenings.plan import (
    EVENING_FIELDS,
    KIND_INVITE,
    STAFF_BUTTONS,
    answers_of,
    count,
    details_lines,
    notify,
    plan_reminders,
    short_when,
    subscriber_ids,
    when_text,
)
from bot.features.questionnaire.handlers import open_dialog

# The planning and the editing of an evening are dialog files run by the engine; their answers
# and place live in `dialog_state` (restart-safe), their texts in the files.
NEW_DIALOG, EDIT_DIALOG = "evening_new", "evening_edit"
CREATE_ACTION, APPLY_ACTION, STOPPED_ACTION = (
    "evenings.create",
    "evenings.apply",
    "evenings.stopped",
)
FIELDS = EVENING_FIELDS
LISTED = 15
ADDRESS_SHOWN = 40  # characters of the address on the "Op het adres (...)" button


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


# ---------------------------------------------------------------- the dialogs' hooks


def _given(location: Location, families: int) -> dict[str, str]:
    """What the dialogs know of the location (`State.given`)."""
    return {
        "location_id": str(location.id), "name": location.name, "address": location.address,
        "address_short": location.address[:ADDRESS_SHOWN],
        "example": "1" if location.example else "", "families": str(families),
    }  # fmt: skip


def _location_of(state: State) -> Location:
    """The location as given at the start (unsaved: for showing the draft)."""
    given = state.given
    return Location(name=given["name"], address=given["address"], example=bool(given["example"]))


async def still_staff(ctx: Context, state: State) -> bool:
    """Guard of both dialogs: still staff of the location; refreshes how many families hear."""
    location_id = int(state.given["location_id"])
    if await _staff_location(ctx, location_id) is None:
        return False
    state.given["families"] = str(len(await subscriber_ids(ctx.session, location_id)))
    return True


def one_line(ctx: Context) -> Callable[[str, State], str]:
    """Check of a title: one line, single spaces."""
    return lambda value, state: " ".join(value.split())


def _max_text(ctx: Context, max_guests: int | None) -> str:
    if max_guests is None:
        return ctx.texts.get("evening_max_none")
    return ctx.texts.get_n("evening_max_some", max_guests, count=max_guests)


def _guests(answer: str | None) -> int | None:
    return int(answer) if answer else None


def draft_values(ctx: Context) -> Callable[[State], Mapping[str, str]]:
    """Fill of the new evening: `{summary}`, the evening as the families will see its details
    (an unsaved evening, never added), and how many families get the invitation."""

    def values(state: State) -> Mapping[str, str]:
        answers, location = state.answers, _location_of(state)
        if "starts_at" not in answers:
            return {}
        draft = FamilyEvening(
            title=answers.get("title", ""),
            starts_at=datetime.fromisoformat(answers["starts_at"]),
            place=answers.get("place") or location.address,
            description=answers.get("description") or "",
        )
        families = int(state.given["families"])
        lines = [ctx.texts.get("evening_confirm_title"), "", f"<b>{escape(draft.title)}</b>"]
        lines += [*details_lines(ctx.texts, draft, location), ""]
        lines += [_max_text(ctx, _guests(answers.get("max_guests"))), ""]
        lines.append(
            ctx.texts.get_n(
                "evening_confirm_families", families, count=families, name=location.name
            )
        )
        return {"summary": "\n".join(lines)}

    return values


def edit_values(ctx: Context) -> Callable[[State], Mapping[str, str]]:
    """Fill of an edit: `{old}` (the date before) and `{edit_check}`, the new value and how many
    families hear of it."""

    def values(state: State) -> Mapping[str, str]:
        given, field = state.given, state.given["field"]
        old = escape(when_text(ctx.texts, datetime.fromisoformat(given["old_starts_at"])))
        if field not in state.answers:
            return {"old": old}
        value = state.answers[field]
        if field == "max_guests":
            shown = _max_text(ctx, _guests(value))
        else:
            shown = value or "–"
        families = int(given["families"])
        check = ctx.texts.get_n(
            "evening_edit_check", families, title=given["title"], value=shown, count=families
        )
        return {"old": old, "edit_check": check}

    return values


# ---------------------------------------------------------------- planning a new evening


async def start_draft(ctx: Context, location: Location) -> Reply:
    families = len(await subscriber_ids(ctx.session, location.id))
    dialog = ctx.content.dialogs[NEW_DIALOG]
    return await open_dialog(ctx, dialog, given=_given(location, families), fresh=True)


async def on_new(ctx: Context, event: Event) -> Reply:
    """`/avond_nieuw`: for one location straight away, else first: which location?"""
    locations = [
        loc for lid in await location_ids_of(ctx) if (loc := await ctx.session.get(Location, lid))
    ]
    if not locations:
        return Reply().add(staff_menu(ctx, ctx.texts.get("evening_staff_no_location")))
    if len(locations) == 1:
        return await start_draft(ctx, locations[0])
    buttons = [Button(loc.name, STAFF_BUTTONS.pack("new", loc.id)) for loc in locations]
    return Reply().add(OutMessage(ctx.texts.get("evening_choose_location"), rows(*buttons)))


async def on_stopped(ctx: Context, dialog: Dialog, run: object, state: State) -> list[OutMessage]:
    """End action of "Stoppen" in either dialog: nothing is sent or changed."""
    return [staff_menu(ctx, ctx.texts.get("evening_stopped"))]


async def create_evening(
    ctx: Context, dialog: Dialog, run: object, state: State
) -> list[OutMessage]:
    """End action of the new evening: save it, invite the families, plan the reminders."""
    location = await _staff_location(ctx, int(state.given["location_id"]))
    if location is None:
        return [ctx.menu_message("finished_button")]
    answers = state.answers
    starts_at = datetime.fromisoformat(answers["starts_at"])
    if starts_at <= ctx.now:
        # The draft waited past its own date: asked again, the other answers kept.
        again = await open_dialog(
            ctx, dialog, given=state.given, at="starts_at", answers=answers, fresh=True
        )
        return [OutMessage(ctx.texts.get("evening_when_past")), *again.messages]
    member_id = next(
        (s.member_id for s in await scopes_of(ctx) if s.location_id == location.id), None
    )
    evening = FamilyEvening(
        location_id=location.id, title=answers["title"], starts_at=starts_at,
        place=answers.get("place") or location.address,
        description=answers.get("description") or "",
        max_guests=_guests(answers.get("max_guests")), status="active", created_by=member_id,
        created_at=ctx.now, updated_at=ctx.now, version=1,
    )  # fmt: skip
    ctx.session.add(evening)
    await ctx.session.flush()
    families = await subscriber_ids(ctx.session, location.id)
    notify(ctx.session, evening, families, KIND_INVITE, ctx.now)
    plan_reminders(ctx.session, evening, location, families, ctx.now)
    text = ctx.texts.get_n("evening_sent", len(families), count=len(families), name=location.name)
    return [OutMessage(text), staff_menu(ctx, ctx.texts.get("evening_staff_more"))]


# ---------------------------------------------------------------- editing an evening


async def start_edit(ctx: Context, evening: FamilyEvening, location: Location, field: str) -> Reply:
    families = len(await subscriber_ids(ctx.session, location.id))
    given = _given(location, families)
    given.update(
        evening_id=str(evening.id), field=field, title=evening.title,
        old_starts_at=evening.starts_at.isoformat(),
    )  # fmt: skip
    dialog = ctx.content.dialogs[EDIT_DIALOG]
    return await open_dialog(ctx, dialog, given=given, at=field, fresh=True)


def _new_value(field: str, answer: str, location: Location) -> object:
    if field == "starts_at":
        return datetime.fromisoformat(answer)
    if field == "max_guests":
        return _guests(answer)
    if field == "place":
        return answer or location.address
    return answer


async def apply_edit(ctx: Context, dialog: Dialog, run: object, state: State) -> list[OutMessage]:
    """End action of an edit: change the evening, tell its families, plan the reminders again."""
    field = state.given["field"]
    found = await _staff_evening(ctx, int(state.given["evening_id"]))
    if found is None or field not in FIELDS or field not in state.answers:
        return [ctx.menu_message("finished_button")]
    evening, location = found
    if evening.status != "active" or evening.starts_at <= ctx.now:
        return [OutMessage(ctx.texts.get("evening_staff_not_editable"))]
    new = _new_value(field, state.answers[field], location)
    if isinstance(new, datetime) and new <= ctx.now:
        return [OutMessage(ctx.texts.get("evening_when_past"))]
    old = getattr(evening, field)
    if new == old:
        return [await evening_card(ctx, evening, location)]
    families = await plan.change_evening(ctx.session, evening, location, {field: new}, ctx.now)
    text = ctx.texts.get_n("evening_changed_sent", families, count=families)
    return [OutMessage(text), await evening_card(ctx, evening, location)]


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
    """Staff buttons `eva:<what>:<id>[:<field>]` (the dialogs' own buttons are the engine's)."""
    pressed = STAFF_BUTTONS.unpack(event.text)
    if pressed is None:
        return ctx.stale_button()
    what, number = pressed.action, pressed.number(0)
    texts = ctx.texts
    if what == "new":
        location = await _staff_location(ctx, number)
        if location is None:
            return ctx.stale_button()
        reply = await start_draft(ctx, location)
        reply.pressed_label = location.name
        return reply
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
        reply = await start_edit(ctx, evening, location, field)
        reply.pressed_label = texts.get(f"evening_button_edit_{field}")
        return reply
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
    registry.actions.update(
        {CREATE_ACTION: create_evening, APPLY_ACTION: apply_edit, STOPPED_ACTION: on_stopped}
    )
    registry.guards["evenings.staff"] = still_staff
    registry.checks["evenings.one_line"] = one_line
    registry.fills.update({"evenings.draft": draft_values, "evenings.edit": edit_values})
