"""Staff broadcasts: `/bericht` composes a notice (text, optionally one photo or document),
chooses the audience, previews it exactly as caregivers get it, and sends it now or at a chosen
time; `/berichten` lists the notices of my steunpunt or location, with a stop button for those
still going out. Caregivers switch notices per source on or off with `/meldingen`.

The draft is a `Broadcast` row (status "draft"), so composing survives a restart. Every action
checks again that the acting staff member still holds the scope of the row. Delivery:
`bot.features.broadcast.delivery`.
"""

from __future__ import annotations

from datetime import timedelta
from html import escape

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app.dispatch import BotCore, Context
from bot.app.registry import InputOwner, MenuEntry, PeriodicJob, PersonalData, Registry
from bot.app.roles import Scope, scope_name, scopes_of, staff_menu
from bot.app.router import close_step, open_step
from bot.db.directory import CaregiverSteunpunt, Steunpunt, SteunpuntMunicipality
from bot.db.session import rowcount
from bot.db.staff import Location, LocationSubscription, StaffMember
from bot.engine.codec import ButtonCodec
from bot.engine.flow import Event
from bot.engine.output import Button, OutMessage, Reply, command_button, rows
from bot.features.broadcast import delivery
from bot.features.broadcast.models import Broadcast, BroadcastDelivery, NoticeOptOut
from bot.text.dates import WhenError, parse_datetime
from bot.transport.sender import Sender
from bot.transport.terminal import plain

# Staff buttons: bc:<action>:<broadcast id>, and bc:mt:<broadcast id>:<municipality code>.
BUTTONS = ButtonCodec(
    "bc",
    {
        **{action: (int,) for action in ("scope", "cancel", "stop", "edit", "all", "mun",
                                         "mdone", "now", "later", "aud")},
        "mt": (int, str),
    },
)  # fmt: skip
# The open step while a notice's text or sending time is typed.
DRAFT_STEP = "broadcast.draft"
DRAFT_STEP_TTL = timedelta(hours=24)
# Caregiver buttons: nt:s:<steunpunt key> | nt:l:<location id>, a notice source on or off.
NOTICE_BUTTONS = ButtonCodec("nt", {"s": (str,), "l": (int,)})
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


async def my_draft(ctx: Context, broadcast_id: int | None = None) -> Broadcast | None:
    """This staff member's draft (the given one, or the open one), still within their scope."""
    query = select(Broadcast).where(
        Broadcast.status == "draft", Broadcast.sender_caregiver_id == ctx.caregiver.id
    )
    if broadcast_id is not None:
        query = query.where(Broadcast.id == broadcast_id)
    draft = (await ctx.session.scalars(query.order_by(Broadcast.id.desc()).limit(1))).first()
    if draft is None or await active_scope(ctx, draft) is None:
        return None
    return draft


# ---------------------------------------------------------------- composing


async def on_compose(ctx: Context, event: Event) -> Reply:
    """`/bericht`: continue the open draft, or start one (asking for whom when staff of two)."""
    draft = await my_draft(ctx)
    if draft is not None:
        return await show_step(ctx, draft)
    scopes = await scopes_of(ctx)
    if len(scopes) == 1:
        return await show_step(ctx, await new_draft(ctx, scopes[0]))
    buttons = [
        Button(
            await scope_name(ctx.session, s.steunpunt_key, s.location_id),
            BUTTONS.pack("scope", s.member_id),
        )
        for s in scopes
    ]
    return Reply().add(OutMessage(ctx.texts.get("notice_choose_scope"), rows(*buttons)))


async def new_draft(ctx: Context, scope: Scope) -> Broadcast:
    member = await ctx.session.get(StaffMember, scope.member_id)
    draft = Broadcast(
        status="draft",
        step="text",
        steunpunt_key=scope.steunpunt_key,
        location_id=scope.location_id,
        source_name=await scope_name(ctx.session, scope.steunpunt_key, scope.location_id),
        sender_member_id=scope.member_id,
        sender_caregiver_id=ctx.caregiver.id,
        sender_name=(member.display_name if member else "") or ctx.display_name,
        text_html="",
        text_length=0,
        audience="location" if scope.location_id is not None else "all",
        municipality_codes=[],
        audience_label="",
        recipients=0,
        created_at=ctx.now,
        report_chat_id=ctx.caregiver.chat_id,
        extra={},
    )
    ctx.session.add(draft)
    await ctx.session.flush()
    return draft


def stop_button(ctx: Context, draft: Broadcast) -> Button:
    return Button(ctx.texts.get("notice_stop"), BUTTONS.pack("stop", draft.id))


async def show_step(ctx: Context, draft: Broadcast) -> Reply:
    texts = ctx.texts
    if draft.step in ("text", "time") or not draft.text_html:
        # The one open step: typed text now belongs to this draft, until something else starts.
        await open_step(ctx, DRAFT_STEP, ("text", "unsupported"), DRAFT_STEP_TTL)
    if draft.step == "text" or not draft.text_html:
        draft.step = "text"
        return Reply().add(
            OutMessage(
                texts.get("notice_ask_text", source=draft.source_name),
                rows(stop_button(ctx, draft)),
                expects="text",
            )
        )
    if draft.step == "time":
        stop = rows(stop_button(ctx, draft))
        return Reply().add(OutMessage(texts.get("notice_ask_time"), stop, expects="datetime"))
    if draft.step == "municipalities":
        return Reply().add(await municipality_question(ctx, draft))
    if draft.step == "audience":
        return await audience_question(ctx, draft)
    return await preview(ctx, draft)


async def on_stop_word(ctx: Context, event: Event) -> Reply:
    """ "stop" typed while writing a notice: the draft goes, as with its Stoppen button."""
    draft = await my_draft(ctx)
    await close_step(ctx, DRAFT_STEP)
    if draft is not None:
        await ctx.session.delete(draft)
    return Reply().add(staff_menu(ctx, ctx.texts.get("notice_stopped")))


async def on_draft_input(ctx: Context, event: Event) -> Reply | None:
    """Typed text (or a photo/document) for the open draft; None when no draft waits for it."""
    if event.kind not in ("text", "unsupported"):
        return None
    draft = await my_draft(ctx)
    if draft is None or draft.step not in ("text", "time"):
        return None
    if draft.step == "time":
        if event.kind != "text":
            return None
        return await on_time(ctx, draft, event.text)
    texts = ctx.texts
    media_kind, media_id = draft.media_kind, draft.media_file_id
    if event.kind == "unsupported":
        if event.text not in ("photo", "document") or not event.file_id:
            return Reply().add(OutMessage(texts.get("notice_only_text_or_media")))
        media_kind, media_id = event.text, event.file_id
    typed = event.args if event.kind == "unsupported" else event.text
    html = event.html or escape(typed, quote=False)
    text_html, length = (
        (html, len(typed)) if typed.strip() else (draft.text_html, draft.text_length)
    )
    limit = delivery.text_limit(ctx.core, draft.source_name, media_kind is not None)
    if length > limit:
        return Reply().add(
            OutMessage(
                texts.get("notice_too_long", length=length, limit=limit),
                rows(stop_button(ctx, draft)),
            )
        )
    draft.media_kind, draft.media_file_id = media_kind, media_id
    draft.text_html, draft.text_length = text_html, length
    if not text_html:
        return Reply().add(
            OutMessage(texts.get("notice_ask_text_for_media"), rows(stop_button(ctx, draft)))
        )
    if draft.location_id is not None:
        return await preview(ctx, draft)
    return await audience_question(ctx, draft)


async def municipality_counts(ctx: Context, draft: Broadcast) -> list[tuple[str, str, int]]:
    """(code, name, reachable caregivers) of every municipality the steunpunt serves."""
    assert draft.steunpunt_key is not None
    return await delivery.municipality_counts(ctx.session, draft.steunpunt_key)


async def audience_question(ctx: Context, draft: Broadcast) -> Reply:
    draft.step = "audience"
    draft.audience, draft.municipality_codes = "all", []
    texts = ctx.texts
    count = await delivery.count_audience(ctx.session, draft)
    buttons = [Button(texts.get("notice_audience_all", count=count), BUTTONS.pack("all", draft.id))]
    if len(await municipality_counts(ctx, draft)) > 1:
        buttons.append(Button(texts.get("notice_audience_pick"), BUTTONS.pack("mun", draft.id)))
    buttons += [
        Button(texts.get("notice_edit_text"), BUTTONS.pack("edit", draft.id)),
        stop_button(ctx, draft),
    ]
    return Reply().add(OutMessage(texts.get("notice_ask_audience"), rows(*buttons)))


async def municipality_question(ctx: Context, draft: Broadcast) -> OutMessage:
    texts = ctx.texts
    chosen = set(draft.municipality_codes or [])
    buttons = [
        Button(
            texts.get(
                "notice_municipality_on" if code in chosen else "notice_municipality_off",
                name=name,
                count=count,
            ),
            BUTTONS.pack("mt", draft.id, code),
        )
        for code, name, count in await municipality_counts(ctx, draft)
    ]
    buttons += [
        Button(texts.get("notice_municipalities_done"), BUTTONS.pack("mdone", draft.id)),
        stop_button(ctx, draft),
    ]
    return OutMessage(texts.get("notice_ask_municipalities"), rows(*buttons))


async def audience_label(ctx: Context, draft: Broadcast) -> str:
    return await delivery.audience_label(ctx.texts, ctx.session, draft)


async def preview(ctx: Context, draft: Broadcast) -> Reply:
    """The notice exactly as caregivers get it, the number of recipients, and what now."""
    draft.step = "confirm"
    draft.audience_label = plain(await audience_label(ctx, draft))[:400]
    count = await delivery.count_audience(ctx.session, draft)
    texts = ctx.texts
    buttons = []
    if count:
        buttons += [
            Button(texts.get("notice_send_now"), BUTTONS.pack("now", draft.id)),
            Button(texts.get("notice_send_later"), BUTTONS.pack("later", draft.id)),
        ]
    buttons.append(Button(texts.get("notice_edit_text"), BUTTONS.pack("edit", draft.id)))
    if draft.location_id is None:
        buttons.append(Button(texts.get("notice_edit_audience"), BUTTONS.pack("aud", draft.id)))
    buttons.append(stop_button(ctx, draft))
    confirm = (
        texts.get_n("notice_confirm", count, count=count, audience=draft.audience_label)
        if count
        else texts.get("notice_nobody")
    )
    return Reply().add(
        OutMessage(texts.get("notice_preview_intro")),
        delivery.notice_message(texts, draft),
        OutMessage(confirm, rows(*buttons)),
    )


# ---------------------------------------------------------------- time


WEEKDAYS = {
    "maandag": 0, "dinsdag": 1, "woensdag": 2, "donderdag": 3, "vrijdag": 4, "zaterdag": 5,
    "zondag": 6, "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4,
    "saturday": 5, "sunday": 6,
}  # fmt: skip
MONTHS = {
    "januari": 1, "jan": 1, "februari": 2, "feb": 2, "maart": 3, "mrt": 3, "april": 4, "apr": 4,
    "mei": 5, "juni": 6, "jun": 6, "juli": 7, "jul": 7, "augustus": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9, "oktober": 10, "okt": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}  # fmt: skip
RELATIVE = {"vandaag": 0, "today": 0, "morgen": 1, "tomorrow": 1, "overmorgen": 2}


async def on_time(ctx: Context, draft: Broadcast, text: str) -> Reply:
    texts = ctx.texts
    retry = rows(
        Button(texts.get("notice_send_now"), BUTTONS.pack("now", draft.id)), stop_button(ctx, draft)
    )
    try:
        moment = parse_datetime(text, ctx.now, max_ahead=delivery.SCHEDULE_AHEAD)
    except WhenError as error:
        key = {"past": "notice_time_past", "too_far": "notice_time_too_far"}.get(
            error.reason, "notice_time_unclear"
        )
        return Reply().add(OutMessage(texts.get(key), retry, expects="datetime"))
    if delivery.time_problem(moment, ctx.now) == "quiet":
        return Reply().add(OutMessage(texts.get("notice_time_quiet"), retry, expects="datetime"))
    draft.step = "done"
    await delivery.schedule(ctx.session, draft, moment)
    when = texts.translator.format_datetime(moment)
    return Reply().add(
        staff_menu(ctx, texts.get("notice_scheduled", when=when, audience=draft.audience_label))
    )


# ---------------------------------------------------------------- buttons


async def on_button(ctx: Context, event: Event) -> Reply:
    pressed = BUTTONS.unpack(event.text)
    if pressed is None:
        return ctx.stale_button()
    action, broadcast_id = pressed.action, pressed.number(0)
    if action == "scope":
        return await on_scope(ctx, broadcast_id)
    if action == "cancel":
        return await on_cancel(ctx, broadcast_id)
    draft = await my_draft(ctx, broadcast_id)
    if draft is None:
        return ctx.stale_button()
    texts = ctx.texts
    if action == "stop":
        await ctx.session.delete(draft)
        await close_step(ctx, DRAFT_STEP)
        return Reply(pressed_label=texts.get("notice_stop")).add(
            staff_menu(ctx, texts.get("notice_stopped"))
        )
    if action == "edit":
        draft.step = "text"
        return Reply(pressed_label=texts.get("notice_edit_text")).add(
            *(await show_step(ctx, draft)).messages
        )
    if draft.steunpunt_key is not None and action in ("all", "mun", "mt", "mdone", "aud"):
        return await on_audience_button(
            ctx, draft, action, [pressed.text(1)] if action == "mt" else []
        )
    if draft.step == "confirm" and action == "now":
        return await send_now(ctx, draft)
    if draft.step in ("confirm", "time") and action == "later":
        draft.step = "time"
        return Reply(pressed_label=texts.get("notice_send_later")).add(
            *(await show_step(ctx, draft)).messages
        )
    if draft.step == "time" and action == "now":
        return await send_now(ctx, draft)
    return ctx.stale_button()


async def on_scope(ctx: Context, member_id: int) -> Reply:
    scope = next((s for s in await scopes_of(ctx) if s.member_id == member_id), None)
    if scope is None or await my_draft(ctx) is not None:
        return ctx.stale_button()
    name = await scope_name(ctx.session, scope.steunpunt_key, scope.location_id)
    reply = await show_step(ctx, await new_draft(ctx, scope))
    reply.pressed_label = name
    return reply


async def on_audience_button(ctx: Context, draft: Broadcast, action: str, args: list[str]) -> Reply:
    texts = ctx.texts
    if action == "aud" and draft.step == "confirm":
        reply = await audience_question(ctx, draft)
        reply.pressed_label = texts.get("notice_edit_audience")
        return reply
    if action == "all" and draft.step == "audience":
        draft.audience, draft.municipality_codes = "all", []
        reply = await preview(ctx, draft)
        reply.pressed_label = plain(
            texts.get("notice_audience_label_all", source=draft.source_name)
        )
        return reply
    if action == "mun" and draft.step == "audience":
        draft.step, draft.audience, draft.municipality_codes = (
            "municipalities",
            "municipalities",
            [],
        )
        return Reply(pressed_label=texts.get("notice_audience_pick")).add(
            await municipality_question(ctx, draft)
        )
    if action == "mt" and draft.step == "municipalities" and len(args) == 1:
        served = {code: name for code, name, _ in await municipality_counts(ctx, draft)}
        code = args[0]
        if code not in served:
            return ctx.stale_button()
        chosen = list(draft.municipality_codes or [])
        chosen = [c for c in chosen if c != code] if code in chosen else [*chosen, code]
        draft.municipality_codes = chosen
        return Reply(pressed_label=served[code]).add(await municipality_question(ctx, draft))
    if action == "mdone" and draft.step == "municipalities":
        if not draft.municipality_codes:
            return Reply(toast=texts.get("notice_choose_one_municipality"))
        reply = await preview(ctx, draft)
        reply.pressed_label = texts.get("notice_municipalities_done")
        return reply
    return ctx.stale_button()


async def send_now(ctx: Context, draft: Broadcast) -> Reply:
    """Start now (the audience is computed and stored in this transaction), or at 08:00 when it
    is night."""
    texts = ctx.texts
    pressed = texts.get("notice_send_now")
    draft.step = "done"
    count, held_until = await delivery.send_now(ctx.session, draft, ctx.now)
    if held_until is not None:
        when = texts.translator.format_datetime(held_until)
        return Reply(pressed_label=pressed).add(
            staff_menu(ctx, texts.get("notice_held_until_morning", when=when))
        )
    return Reply(pressed_label=pressed).add(
        OutMessage(texts.get_n("notice_sending", count or 0, count=count or 0))
    )


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
            .where(Broadcast.status != "draft", _scope_filter(await scopes_of(ctx)))
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
    if (
        broadcast is None
        or broadcast.status == "draft"
        or await active_scope(ctx, broadcast) is None
    ):
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
    """(opt-out source, name) of every steunpunt and location this caregiver hears from."""
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
    registry.inputs[DRAFT_STEP] = InputOwner(on_draft_input, stop=on_stop_word)
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
