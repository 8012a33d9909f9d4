"""Staff broadcasts: `/bericht` composes a notice (text, optionally one photo or document),
chooses the audience, previews it exactly as caregivers get it, and sends it now or at a chosen
time; `/berichten` lists the notices of my steunpunt or location, with a stop button for those
still going out. Caregivers switch notices per source on or off with `/meldingen`.

Writing a notice is the dialog `dialogs/broadcast_notice.yaml`, run by the engine: the draft is
its `dialog_state` (so composing survives a restart), and the `Broadcast` row is made when it is
sent or planned. Every step checks again that the writer still holds the membership the draft
is written under (its guard). Delivery: `bot.features.broadcast.delivery`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app.dispatch import BotCore, Context
from bot.app.registry import MenuEntry, PeriodicJob, PersonalData, Registry
from bot.app.roles import Scope, scope_name, scopes_of, staff_menu
from bot.db.directory import CaregiverSteunpunt, Steunpunt, SteunpuntMunicipality
from bot.db.places import read_place
from bot.db.session import rowcount
from bot.db.staff import Location, LocationSubscription, StaffMember
from bot.engine.codec import ButtonCodec
from bot.engine.flow import Event, State, file_key
from bot.engine.output import Button, OutMessage, Reply, command_button, rows
from bot.engine.spec import Dialog
from bot.features.broadcast import delivery
from bot.features.broadcast.models import Broadcast, BroadcastDelivery, NoticeOptOut
from bot.features.questionnaire.handlers import open_dialog
from bot.jobs.scheduled import in_quiet_hours
from bot.text.content import Texts
from bot.text.fields import FieldError
from bot.transport.sender import Sender
from bot.transport.terminal import plain

# Staff buttons: bc:scope:<staff member id> (a new notice for that membership) and
# bc:cancel:<broadcast id>; writing a notice is the dialog file dialogs/broadcast_notice.yaml.
BUTTONS = ButtonCodec("bc", {"scope": (int,), "cancel": (int,)})
DIALOG, TEXT_STEP = "notice", "text"
SEND_ACTION, SCHEDULE_ACTION, STOPPED_ACTION = (
    "broadcast.send",
    "broadcast.schedule",
    "broadcast.stopped",
)
# Caregiver buttons: nt:s:<steunpunt key> | nt:l:<location id>, a notice source on or off.
NOTICE_BUTTONS = ButtonCodec("nt", {"s": (str,), "l": (int,), "o": (str,)})
LIST_LENGTH = 5

# ---------------------------------------------------------------- scope checks


async def active_scope(ctx: Context, broadcast: Broadcast) -> Scope | None:
    """The acting staff member's scope that covers `broadcast`, or None (revoked, other area)."""
    for scope in await scopes_of(ctx):
        if broadcast.steunpunt_key is not None and scope.steunpunt_key == broadcast.steunpunt_key:
            return scope
        if broadcast.location_id is not None and scope.location_id == broadcast.location_id:
            return scope
    return None


async def _scope_of(ctx: Context, state: State) -> Scope | None:
    """The membership the draft is written under, while it is still active."""
    member_id = int(state.given["member_id"])
    return next((s for s in await scopes_of(ctx) if s.member_id == member_id), None)


# ---------------------------------------------------------------- counting


async def municipality_counts(
    session: AsyncSession, steunpunt_key: str
) -> list[tuple[str, str, int]]:
    """(code, name, reachable caregivers) of every municipality the steunpunt serves."""
    return await delivery.municipality_counts(session, steunpunt_key)


async def _counts(session: AsyncSession, given: dict[str, str]) -> dict[str, str]:
    """How many the notice can reach: everyone of the scope (`count_all`) and, for a steunpunt,
    per municipality it serves (`areas`: the buttons, `area_facts`: code, name, count)."""
    steunpunt_key, location_id = given["steunpunt_key"] or None, given["location_id"] or None
    every = Broadcast(
        steunpunt_key=steunpunt_key,
        location_id=int(location_id) if location_id else None,
        audience="location" if location_id else "all",
        municipality_codes=[],
    )
    counts = {"count_all": str(await delivery.count_audience(session, every))}
    if steunpunt_key is not None:
        facts = await municipality_counts(session, steunpunt_key)
        counts["areas"] = json.dumps([[code, f"{name} ({n})"] for code, name, n in facts])
        counts["area_facts"] = json.dumps(facts)
        counts["several_areas"] = "1" if len(facts) > 1 else ""
    return counts


# ---------------------------------------------------------------- composing (a dialog file)


async def on_compose(ctx: Context, event: Event) -> Reply:
    """`/bericht`: continue the open draft, or start one (asking for whom when staff of two)."""
    dialog = ctx.content.dialogs[DIALOG]
    row = await read_place(ctx.session, ctx.caregiver.id, DIALOG)
    if row is not None and row.dialog_version == dialog.version:
        if await still_scope(ctx, State.from_json(DIALOG, dialog.version, row.data)):
            return await open_dialog(ctx, dialog)
    scopes = await scopes_of(ctx)
    if len(scopes) == 1:
        return await start_draft(ctx, scopes[0])
    buttons = [
        Button(
            await scope_name(ctx.session, s.steunpunt_key, s.location_id),
            BUTTONS.pack("scope", s.member_id),
        )
        for s in scopes
    ]
    return Reply().add(OutMessage(ctx.texts.get("notice_choose_scope"), rows(*buttons)))


async def start_draft(ctx: Context, scope: Scope) -> Reply:
    given = {
        "member_id": str(scope.member_id),
        "steunpunt_key": scope.steunpunt_key or "",
        "location_id": str(scope.location_id) if scope.location_id is not None else "",
        "steunpunt": "1" if scope.steunpunt_key else "",
        "source": await scope_name(ctx.session, scope.steunpunt_key, scope.location_id),
    }
    given.update(await _counts(ctx.session, given))
    return await open_dialog(ctx, ctx.content.dialogs[DIALOG], given=given, fresh=True)


async def still_scope(ctx: Context, state: State) -> bool:
    """Guard: the writer is still staff of the draft's steunpunt or location; the counts are
    taken again, so the preview shows how many it reaches now."""
    if await _scope_of(ctx, state) is None:
        return False
    state.given.update(await _counts(ctx.session, state.given))
    return True


def _file(state: State) -> tuple[str | None, str | None]:
    """(media kind, file id) of the draft's photo or document, if it has one."""
    kind, _, file_id = state.answers.get(file_key(TEXT_STEP), "").partition(":")
    return (kind, file_id) if kind else (None, None)


def _draft(state: State) -> Broadcast:
    """The notice as the answers so far make it (unsaved: for the preview and the counts)."""
    given, answers = state.given, state.answers
    kind, file_id = _file(state)
    audience = "location" if given["location_id"] else "all"
    if answers.get("audience") == "pick":
        audience = "municipalities"
    codes = [c for c in answers.get("municipalities", "").split(",") if c]
    return Broadcast(
        steunpunt_key=given["steunpunt_key"] or None,
        location_id=int(given["location_id"]) if given["location_id"] else None,
        source_name=given["source"],
        text_html=answers.get(TEXT_STEP, ""),
        media_kind=kind,
        media_file_id=file_id,
        audience=audience,
        municipality_codes=codes if audience == "municipalities" else [],
    )


def _reach(state: State, draft: Broadcast) -> int:
    """How many the draft reaches, from the counts taken (the municipalities' sum: each
    caregiver has one municipality)."""
    if draft.audience != "municipalities":
        return int(state.given["count_all"])
    facts = json.loads(state.given.get("area_facts") or "[]")
    chosen = set(draft.municipality_codes or [])
    return sum(int(n) for code, _, n in facts if code in chosen)


def audience_label(texts: Texts, state: State, draft: Broadcast) -> str:
    if draft.location_id is not None:
        return texts.get("notice_audience_label_location", source=draft.source_name)
    if draft.audience == "municipalities":
        facts = json.loads(state.given.get("area_facts") or "[]")
        chosen = set(draft.municipality_codes or [])
        names = [name for code, name, _ in facts if code in chosen]
        return texts.get("notice_audience_label_municipalities", names=", ".join(names))
    return texts.get("notice_audience_label_all", source=draft.source_name)


def draft_values(ctx: Context) -> Callable[[State], Mapping[str, str]]:
    """Fill: `reachable` (anyone to send it to) and `confirm`, how many get it and who."""

    def values(state: State) -> Mapping[str, str]:
        draft = _draft(state)
        count = _reach(state, draft)
        if not count:
            return {"reachable": "", "confirm": ctx.texts.get("notice_nobody")}
        label = plain(audience_label(ctx.texts, state, draft))
        confirm = ctx.texts.get_n("notice_confirm", count, count=count, audience=label)
        return {"reachable": "1", "confirm": confirm}

    return values


def preview(ctx: Context) -> Callable[[State], list[OutMessage]]:
    """Show: the notice exactly as caregivers get it."""

    def messages(state: State) -> list[OutMessage]:
        notice = delivery.notice_message(ctx.texts, _draft(state))
        return [OutMessage(ctx.texts.get("notice_preview_intro")), notice]

    return messages


def fits(ctx: Context) -> Callable[[str, State], str]:
    """Check of the text: with the header and footer it fits one Telegram message (a caption,
    with a photo or document)."""

    def check(value: str, state: State) -> str:
        length = len(plain(value))
        limit = delivery.text_limit(ctx.core, state.given["source"], _file(state)[0] is not None)
        if length > limit:
            raise FieldError("typed_text_long", {"length": length, "max": limit})
        return value

    return check


def daytime(ctx: Context) -> Callable[[str, State], str]:
    """Check of the moment: not at night (22:00-08:00)."""

    def check(value: str, state: State) -> str:
        if in_quiet_hours(datetime.fromisoformat(value)):
            raise FieldError("notice_time_quiet")
        return value

    return check


async def _stored(ctx: Context, state: State) -> Broadcast | None:
    """The finished draft as a notice row (status scheduled), when its writer is still staff."""
    scope = await _scope_of(ctx, state)
    if scope is None:
        return None
    member = await ctx.session.get(StaffMember, scope.member_id)
    draft = _draft(state)
    draft.status, draft.sender_member_id = "scheduled", scope.member_id
    draft.sender_caregiver_id, draft.report_chat_id = ctx.caregiver.id, ctx.caregiver.chat_id
    draft.sender_name = (member.display_name if member else "") or ctx.display_name
    draft.text_length = len(plain(draft.text_html))
    draft.audience_label = plain(audience_label(ctx.texts, state, draft))[:400]
    draft.recipients, draft.created_at, draft.extra = 0, ctx.now, {}
    ctx.session.add(draft)
    return draft


async def send_now(ctx: Context, dialog: Dialog, run: object, state: State) -> list[OutMessage]:
    """End action "Nu versturen": start now (the audience is computed and stored in this
    transaction), or at 08:00 when it is night."""
    notice = await _stored(ctx, state)
    if notice is None:
        return [ctx.menu_message("finished_button")]
    texts = ctx.texts
    count, held_until = await delivery.send_now(ctx.session, notice, ctx.now)
    if held_until is not None:
        when = texts.translator.format_datetime(held_until)
        return [staff_menu(ctx, texts.get("notice_held_until_morning", when=when))]
    return [OutMessage(texts.get_n("notice_sending", count or 0, count=count or 0))]


async def schedule_later(
    ctx: Context, dialog: Dialog, run: object, state: State
) -> list[OutMessage]:
    """End action after the moment was typed: the notice waits for it."""
    notice = await _stored(ctx, state)
    if notice is None:
        return [ctx.menu_message("finished_button")]
    moment = datetime.fromisoformat(state.answers["when"])
    await delivery.schedule(ctx.session, notice, moment)
    when = ctx.texts.translator.format_datetime(moment)
    text = ctx.texts.get("notice_scheduled", when=when, audience=notice.audience_label)
    return [staff_menu(ctx, text)]


async def on_stopped(ctx: Context, dialog: Dialog, run: object, state: State) -> list[OutMessage]:
    """End action of "Stoppen": the draft is forgotten, nothing sent."""
    return [staff_menu(ctx, ctx.texts.get("notice_stopped"))]


# ---------------------------------------------------------------- buttons


async def on_button(ctx: Context, event: Event) -> Reply:
    """Staff buttons `bc:scope:<member>` (for whom a new notice is) and `bc:cancel:<notice>`;
    the draft's own buttons are the engine's."""
    pressed = BUTTONS.unpack(event.text)
    if pressed is None:
        return ctx.stale_button()
    if pressed.action == "scope":
        return await on_scope(ctx, pressed.number(0))
    return await on_cancel(ctx, pressed.number(0))


async def on_scope(ctx: Context, member_id: int) -> Reply:
    scope = next((s for s in await scopes_of(ctx) if s.member_id == member_id), None)
    if scope is None:
        return ctx.stale_button()
    reply = await start_draft(ctx, scope)
    reply.pressed_label = await scope_name(ctx.session, scope.steunpunt_key, scope.location_id)
    return reply


# ---------------------------------------------------------------- list and cancel


def _scope_filter(scopes: list[Scope]) -> ColumnElement[bool]:
    keys = [s.steunpunt_key for s in scopes if s.steunpunt_key]
    locations = [s.location_id for s in scopes if s.location_id is not None]
    return or_(Broadcast.steunpunt_key.in_(keys), Broadcast.location_id.in_(locations))


async def on_list(ctx: Context, event: Event) -> Reply:
    """`/berichten`: the latest notices of my steunpunt/location, with counts and stop buttons."""
    texts = ctx.texts
    broadcasts = list(
        await ctx.session.scalars(
            select(Broadcast)
            .where(_scope_filter(await scopes_of(ctx)))
            .order_by(Broadcast.created_at.desc(), Broadcast.id.desc())
            .limit(LIST_LENGTH)
        )
    )
    if not broadcasts:
        return Reply().add(staff_menu(ctx, texts.get("notice_list_empty")))
    lines = [texts.get("notice_list_title")]
    buttons = []
    for broadcast in broadcasts:
        moment = broadcast.started_at or broadcast.scheduled_for or broadcast.created_at
        when = texts.translator.format_datetime(moment)
        summary = plain(broadcast.text_html)
        lines.append(
            texts.get(
                "notice_list_item",
                when=when,
                sender=broadcast.sender_name or texts.get("notice_sender_erased"),
                status=texts.get(f"notice_status_{broadcast.status}"),
                audience=broadcast.audience_label,
                preview=summary[:60] + ("…" if len(summary) > 60 else ""),
            )
        )
        if broadcast.status != "scheduled":
            counts = await delivery.counts_of(ctx.session, broadcast.id)
            lines.append(delivery.counts_text(texts, counts))
        if broadcast.status in ("scheduled", "sending"):
            buttons.append(
                Button(
                    texts.get("notice_cancel_button", when=when),
                    BUTTONS.pack("cancel", broadcast.id),
                )
            )
    buttons.append(command_button(texts.get("button_menu"), "menu"))
    return Reply().add(OutMessage("\n\n".join(lines), rows(*buttons)))


async def on_cancel(ctx: Context, broadcast_id: int) -> Reply:
    broadcast = await ctx.session.get(Broadcast, broadcast_id, with_for_update=True)
    if broadcast is None or await active_scope(ctx, broadcast) is None:
        return ctx.stale_button()
    texts = ctx.texts
    if broadcast.status not in ("scheduled", "sending"):
        return Reply(toast=texts.get("notice_already_finished")).add(
            staff_menu(ctx, texts.get("notice_already_finished"))
        )
    await delivery.cancel(ctx.session, broadcast, ctx.now)
    counts = await delivery.counts_of(ctx.session, broadcast.id)
    text = texts.get("notice_cancelled")
    if broadcast.started_at is not None:
        text += "\n" + delivery.counts_text(texts, counts)
    return Reply(pressed_label=texts.get("notice_status_cancelled")).add(staff_menu(ctx, text))


# ---------------------------------------------------------------- /meldingen (caregivers)


async def sources_of(session: AsyncSession, caregiver_id: int) -> list[tuple[str, str]]:
    """(opt-out source, name) of every steunpunt and location this caregiver hears from, and
    the operator once a question of theirs came (named as in their latest notice)."""
    sources: list[tuple[str, str]] = []
    linked = await session.get(CaregiverSteunpunt, caregiver_id)
    if linked is not None:
        keys: list[str] = []
        if linked.steunpunt_key:
            keys.append(linked.steunpunt_key)
        if linked.municipality_code:
            serving = await session.scalars(
                select(Steunpunt.key)
                .join(SteunpuntMunicipality, SteunpuntMunicipality.steunpunt_id == Steunpunt.id)
                .where(SteunpuntMunicipality.municipality_code == linked.municipality_code)
                .order_by(Steunpunt.name)
            )
            keys += [k for k in serving if k not in keys]
        for key in keys:
            sources.append((delivery.source_of(key, None), await scope_name(session, key, None)))
    locations = await session.scalars(
        select(Location.id)
        .join(LocationSubscription, LocationSubscription.location_id == Location.id)
        .where(LocationSubscription.caregiver_id == caregiver_id)
        .order_by(Location.name)
    )
    for location_id in list(locations):
        name = await scope_name(session, None, location_id)
        sources.append((delivery.source_of(None, location_id), name))
    operator_name = await session.scalar(
        select(Broadcast.source_name)
        .join(BroadcastDelivery, BroadcastDelivery.broadcast_id == Broadcast.id)
        .where(
            BroadcastDelivery.caregiver_id == caregiver_id,
            Broadcast.sender_operator_id.is_not(None),
        )
        .order_by(Broadcast.id.desc())
        .limit(1)
    )
    if operator_name:
        sources.append((delivery.OPERATOR_SOURCE, operator_name))
    return sources


async def notices_message(ctx: Context) -> OutMessage:
    texts = ctx.texts
    sources = await sources_of(ctx.session, ctx.caregiver.id)
    if not sources:
        return ctx.core.menu_message(texts, "notices_none")
    off = set(
        await ctx.session.scalars(
            select(NoticeOptOut.source).where(NoticeOptOut.caregiver_id == ctx.caregiver.id)
        )
    )
    buttons = [
        Button(
            texts.get("notices_off" if source in off else "notices_on", name=name),
            NOTICE_BUTTONS.pack(*source.split(":", 1)),
        )
        for source, name in sources
    ]
    buttons.append(command_button(texts.get("button_menu"), "menu"))
    return OutMessage(texts.get("notices_title"), rows(*buttons))


async def on_notices(ctx: Context, event: Event) -> Reply:
    return Reply().add(await notices_message(ctx))


async def on_notices_button(ctx: Context, event: Event) -> Reply:
    pressed = NOTICE_BUTTONS.unpack(event.text)
    source = f"{pressed.action}:{pressed.text(0)}" if pressed is not None else ""
    names = dict(await sources_of(ctx.session, ctx.caregiver.id))
    if source not in names:
        return ctx.stale_button()
    texts = ctx.texts
    removed = await ctx.session.execute(
        delete(NoticeOptOut).where(
            NoticeOptOut.caregiver_id == ctx.caregiver.id, NoticeOptOut.source == source
        )
    )
    if rowcount(removed):
        key, label = "notices_switched_on", "notices_on"
    else:
        ctx.session.add(
            NoticeOptOut(caregiver_id=ctx.caregiver.id, source=source, created_at=ctx.now)
        )
        await ctx.session.flush()
        key, label = "notices_switched_off", "notices_off"
    return Reply(pressed_label=texts.get(label, name=names[source])).add(
        OutMessage(texts.get(key, name=names[source])), await notices_message(ctx)
    )


def _notice_job(core: BotCore, sender: Sender | None, worker: str) -> delivery.NoticeJob | None:
    if sender is None:
        return None
    return delivery.NoticeJob(delivery.NoticeDeliverer(core, sender, worker))


def register(registry: Registry) -> None:
    registry.periodic.append(PeriodicJob("deliver_notices", timedelta(seconds=2), _notice_job))
    # Claimed deliveries of a stopping worker go back for the other instances.
    registry.claimed_tables.append(BroadcastDelivery)
    registry.staff_commands.update({"bericht": on_compose, "berichten": on_list})
    registry.staff_buttons[BUTTONS.prefix] = on_button
    registry.staff_menu.extend(
        [
            MenuEntry("bericht", "notice_menu_new", 10),
            MenuEntry("berichten", "notice_menu_list", 11),
        ]
    )
    registry.commands["meldingen"] = on_notices
    registry.buttons[NOTICE_BUTTONS.prefix] = on_notices_button
    registry.actions.update(
        {SEND_ACTION: send_now, SCHEDULE_ACTION: schedule_later, STOPPED_ACTION: on_stopped}
    )
    registry.guards["broadcast.scope"] = still_scope
    registry.fills["broadcast.draft"] = draft_values
    registry.shows["broadcast.preview"] = preview
    registry.checks.update({"broadcast.fits": fits, "broadcast.daytime": daytime})
    # A staff member's notices outlive them for the audit trail, without their name and chat
    # (`ERASED_WITH`); what reached a caregiver and whom they muted stay until /vergeetmij.
    registry.add_personal_data(
        PersonalData(
            Broadcast,
            Broadcast.sender_caregiver_id,
            label="kept_notice_sent",
            outlives_caregiver=True,
        ),
        PersonalData(
            BroadcastDelivery,
            BroadcastDelivery.caregiver_id,
            label="kept_notice_received",
            kept_without_consent=True,
        ),
        PersonalData(
            NoticeOptOut,
            NoticeOptOut.caregiver_id,
            label="kept_notice_opt_out",
            kept_without_consent=True,
        ),
    )
