"""The caregiver's side of the warm handover: `/contact` ("Wil je dat het steunpunt contact met je
opneemt?"), offered at heavy moments through `registry.suggestions`; what the steunpunt may see,
asked one thing at a time (nothing is shared by default); then the dialog `dialogs/handover.yaml`
(a note, how and when to be reached), the summary and the explicit yes. `/mijnverzoeken` shows
the status, a message to the staff member on it, and withdrawing. Also what the caregiver gets by
itself (picked up, a message, closed) and the registration of the whole feature.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.app.dispatch import Context
from bot.app.registry import InputOwner, MenuEntry, PeriodicJob, PersonalData, Registry, ShareSource
from bot.app.router import close_step, current_step, open_step
from bot.db.directory import CaregiverSteunpunt
from bot.db.models import DialogRun, Result
from bot.distress import own_steunpunt_card
from bot.engine.codec import ButtonCodec
from bot.engine.flow import Event, State
from bot.engine.output import Button, OutMessage, Reply, command_button, rows
from bot.engine.spec import Dialog, DialogError
from bot.features.handover import requests, staff
from bot.features.handover.models import (
    CLOSED,
    DRAFT,
    PICKED_UP,
    SENT,
    WITHDRAWN,
    HandoverAudit,
    HandoverMessage,
    HandoverRequest,
)
from bot.features.handover.requests import NEWS_KIND, STAFF_KIND, NotAllowed
from bot.features.handover.view import contact_text, label, shared_texts, steunpunt_name, t
from bot.features.questionnaire.handlers import open_dialog
from bot.jobs.scheduled import ScheduledMessage

DIALOG_ID = "handover"
COMMAND, MINE = "contact", "mijnverzoeken"
SUMMARY_ACTION = "handover.summary"
REPLY_OWNER = "handover_reply"
# The steunpunt key of a draft made while the caregiver first looks for their steunpunt.
FINDING = ""
# hv:start | hv:share:<draft>:yes|no | hv:stop:<draft> | hv:send:<draft> | hv:cancel:<draft>
# hv:withdraw:<request> | hv:sure:<request> | hv:keep:<request> | hv:reply:<request>
BUTTONS = ButtonCodec(
    "hv",
    {
        "start": (),
        "share": (int, ("yes", "no")),
        **{action: (int,) for action in ("stop", "send", "cancel", "withdraw", "sure", "keep")},
        "reply": (int,),
    },
)
# The moments other features reach at which the request is offered (`registry.suggested`).
MOMENTS = frozenset(
    {
        "selfcheck.heavy",
        "checkin.heavier",
        "respite.advice",
        "respite.now",
        "keukentafel.done",
        "help",
    }
)


def _menu(ctx: Context) -> Button:
    return command_button(ctx.texts.get("button_menu"), "menu")


def _mine(ctx: Context) -> Button:
    return command_button(t(ctx, "button_mine"), MINE)


# ---------------------------------------------------------------- the latest self-check result


async def result_latest(ctx: Context) -> dict[str, Any] | None:
    """The latest self-check result and the one before it of the same dialog (the trend)."""
    results = list(
        await ctx.session.scalars(
            select(Result)
            .where(Result.caregiver_id == ctx.caregiver.id)
            .order_by(Result.completed_at.desc(), Result.id.desc())
            .limit(20)
        )
    )
    if not results:
        return None
    last = results[0]
    before = next((r for r in results[1:] if r.dialog_id == last.dialog_id), None)
    data: dict[str, Any] = {
        "dialog": last.dialog_id,
        "band": last.band,
        "score": last.score,
        "max": last.max_score,
        "at": last.completed_at.isoformat(),
    }
    if before is not None:
        now = last.score / last.max_score if last.max_score else 0.0
        then = before.score / before.max_score if before.max_score else 0.0
        trend = "same" if abs(now - then) < 0.05 else ("heavier" if now > then else "lighter")
        data |= {"trend": trend, "before": before.completed_at.isoformat()}
    return data


def result_text(ctx: Context, data: Mapping[str, Any]) -> str:
    dialog = ctx.content.dialogs.get(str(data.get("dialog")))
    band = next((b for b in dialog.bands if b.id == data.get("band")), None) if dialog else None
    date = ctx.texts.translator.format_date(datetime.fromisoformat(str(data["at"])))
    title = ctx.texts.tr(band.title) if band is not None else str(data.get("band"))
    lines = [t(ctx, "result_line", date=date, band=title, score=data["score"], max=data["max"])]
    if data.get("trend") in ("heavier", "lighter", "same"):
        before = ctx.texts.translator.format_date(datetime.fromisoformat(str(data["before"])))
        lines.append(t(ctx, f"result_trend_{data['trend']}", date=before))
    return "\n".join(lines)


# ---------------------------------------------------------------- starting


async def _saved_steunpunt(ctx: Context) -> str | None:
    row = await ctx.session.get(CaregiverSteunpunt, ctx.caregiver.id)
    return row.steunpunt_key if row is not None and row.steunpunt_key else None


async def _not_possible(ctx: Context) -> Reply | None:
    """Why a request cannot start now (open already, no steunpunt, nobody there), or None."""
    key = await _saved_steunpunt(ctx)
    already = await requests.open_request(ctx.session, ctx.caregiver.id)
    if already is not None:
        name = await steunpunt_name(ctx, already.steunpunt_key)
        return Reply().add(
            OutMessage(t(ctx, "already_open", steunpunt=name), rows(_mine(ctx), _menu(ctx)))
        )
    if key is None:
        buttons = [_menu(ctx)]
        if "steunpunt" in ctx.core.registry.commands:
            buttons.insert(0, command_button(t(ctx, "find_steunpunt"), "steunpunt"))
        return Reply().add(OutMessage(t(ctx, "no_steunpunt"), rows(*buttons)))
    if not await requests.active_staff(ctx.session, key):
        # Honest: nobody of this steunpunt works with the bot; its card, and a count for the
        # operator (which steunpunt, when; nothing about the caregiver).
        await requests.record_demand(ctx.session, key, ctx.now)
        reply = Reply().add(
            OutMessage(t(ctx, "no_staff", steunpunt=await steunpunt_name(ctx, key)))
        )
        card = await own_steunpunt_card(ctx)
        if card is not None:
            reply.add(card)
        help_button = command_button(t(ctx, "button_help"), "hulp")
        return reply.add(OutMessage(t(ctx, "no_staff_then"), rows(help_button, _menu(ctx))))
    return None


async def on_contact(ctx: Context, event: Event) -> Reply:
    """`/contact`: the saved steunpunt, and whether to ask it."""
    blocked = await _not_possible(ctx)
    key = await _saved_steunpunt(ctx)
    if blocked is not None:
        if key is None and await requests.open_request(ctx.session, ctx.caregiver.id) is None:
            # A draft without a steunpunt marks the way back: once the caregiver saved one, the
            # finder's answer offers this again (the moment "steunpunt.saved").
            await requests.start_draft(ctx.session, ctx.caregiver.id, FINDING, ctx.now)
        return blocked
    assert key is not None
    name = await steunpunt_name(ctx, key)
    buttons = [Button(label(ctx, "start_yes", steunpunt=name), BUTTONS.pack("start"))]
    if "steunpunt" in ctx.core.registry.commands:
        buttons.append(command_button(t(ctx, "start_other"), "steunpunt"))
    return Reply().add(OutMessage(t(ctx, "start", steunpunt=name), rows(*buttons, _menu(ctx))))


async def _available(ctx: Context) -> list[str]:
    """The share sources that have something of this caregiver now, in their order."""
    found = []
    for name, source in sorted(ctx.core.registry.shares.items(), key=lambda i: i[1].order):
        if await source.latest(ctx) is not None:
            found.append(name)
    return found


async def _start(ctx: Context) -> Reply:
    blocked = await _not_possible(ctx)
    if blocked is not None:
        return blocked
    key = await _saved_steunpunt(ctx)
    assert key is not None
    draft = await requests.start_draft(
        ctx.session,
        ctx.caregiver.id,
        key,
        ctx.now,
        caregiver_name=requests.first_name(ctx.display_name),
        locale=ctx.texts.translator.locale,
        asking=await _available(ctx),
    )
    return await _next(ctx, draft)


async def _next(ctx: Context, draft: HandoverRequest) -> Reply:
    """The next thing to ask about sharing, or (when all are answered) the dialog."""
    if not draft.asking:
        # Fresh: a pass left halfway earlier belongs to another request.
        return await open_dialog(ctx, ctx.content.dialogs[DIALOG_ID], fresh=True)
    name = draft.asking[0]
    source = ctx.core.registry.shares[name]
    data = await source.latest(ctx)
    shown = source.describe(ctx, data) if data is not None else ""
    steunpunt = await steunpunt_name(ctx, draft.steunpunt_key)
    text = t(ctx, "ask_share", steunpunt=steunpunt, what=t(ctx, f"share_{name}"))
    if shown:
        # `shown` is HTML already (the source escaped what the caregiver typed).
        text += "\n\n" + t(ctx, "ask_share_hint") + "\n" + shown
    return Reply().add(
        OutMessage(
            text,
            rows(
                Button(t(ctx, "share_yes"), BUTTONS.pack("share", draft.id, "yes")),
                Button(t(ctx, "share_no"), BUTTONS.pack("share", draft.id, "no")),
                Button(ctx.texts.get("button_pause"), BUTTONS.pack("stop", draft.id)),
            ),
        )
    )


async def on_summary(
    ctx: Context, dialog: Dialog, run: DialogRun | None, state: State
) -> list[OutMessage]:
    """End action: the choices go onto the draft (and nowhere else: the dialog keeps no answers
    of its own), then exactly what the steunpunt will see, and the question to send it."""
    answers = state.answers
    draft = await requests.draft_of(ctx.session, ctx.caregiver.id)
    if draft is None:
        return [OutMessage(t(ctx, "cancelled")), ctx.menu_message()]
    draft.note = (answers.get("note") or None) if answers.get("note_wanted") == "yes" else None
    draft.reach = answers.get("reach", "message")
    draft.phone = (answers.get("phone") or None) if draft.reach == "phone" else None
    draft.part_of_day, draft.days = answers.get("part_of_day", "any"), answers.get("days", "any")
    name = await steunpunt_name(ctx, draft.steunpunt_key)
    # Short messages: who and how first, then each thing shared, then the question.
    heading, *shared = shared_texts(ctx, draft)
    contact = contact_text(ctx, draft)
    messages = [OutMessage(t(ctx, "summary", steunpunt=name) + "\n" + contact)]
    messages += [
        OutMessage(f"{heading}\n{text}" if index == 0 else text)
        for index, text in enumerate(shared)
    ]
    messages.append(
        OutMessage(
            t(ctx, "summary_question"),
            rows(
                Button(t(ctx, "summary_send"), BUTTONS.pack("send", draft.id)),
                Button(t(ctx, "summary_cancel"), BUTTONS.pack("cancel", draft.id)),
            ),
        )
    )
    return messages


# ---------------------------------------------------------------- the buttons


async def on_button(ctx: Context, event: Event) -> Reply:
    pressed = BUTTONS.unpack(event.text)
    if pressed is None:
        return ctx.stale_button()
    if pressed.action == "start":
        key = await _saved_steunpunt(ctx)
        reply = await _start(ctx)
        if key is not None:
            name = await steunpunt_name(ctx, key)
            reply.pressed_label = label(ctx, "start_yes", steunpunt=name)
        return reply
    request = await requests.request_of_caregiver(ctx.session, pressed.number(0), ctx.caregiver.id)
    if request is None:
        return ctx.stale_button()
    action = pressed.action
    if request.status == DRAFT and action in ("share", "stop", "send", "cancel"):
        return await _draft_button(ctx, request, action, pressed.text(1))
    if action in ("withdraw", "sure", "keep", "reply") and request.status != DRAFT:
        return await _request_button(ctx, request, action)
    return ctx.stale_button()


async def _draft_button(ctx: Context, draft: HandoverRequest, action: str, answer: str) -> Reply:
    if action == "share" and draft.asking:
        name, *rest = draft.asking
        source = ctx.core.registry.shares.get(name)
        data = await source.latest(ctx) if source is not None and answer == "yes" else None
        if data is not None:
            draft.shared = {**draft.shared, name: data}
        draft.asking = rest
        reply = await _next(ctx, draft)
        reply.pressed_label = t(ctx, "share_yes" if answer == "yes" else "share_no")
        return reply
    if action == "send":
        try:
            await requests.send(ctx.session, draft.id, ctx.caregiver.id, ctx.now)
        except NotAllowed:
            blocked = await _not_possible(ctx)
            return blocked or ctx.stale_button()
        name = await steunpunt_name(ctx, draft.steunpunt_key)
        return Reply(pressed_label=t(ctx, "summary_send")).add(
            OutMessage(t(ctx, "sent", steunpunt=name), rows(_mine(ctx), _menu(ctx)))
        )
    if action in ("cancel", "stop"):
        await ctx.session.delete(draft)
        await close_step(ctx)
        pressed = t(ctx, "summary_cancel") if action == "cancel" else ctx.texts.get("button_pause")
        key = "cancelled" if action == "cancel" else "stopped"
        return Reply(pressed_label=pressed).add(OutMessage(t(ctx, key)), ctx.menu_message())
    return ctx.stale_button()


async def _request_button(ctx: Context, request: HandoverRequest, action: str) -> Reply:
    name = await steunpunt_name(ctx, request.steunpunt_key)
    if action == "withdraw" and request.status in (SENT, PICKED_UP):
        return Reply().add(
            OutMessage(
                t(ctx, "withdraw_question", steunpunt=name),
                rows(
                    Button(t(ctx, "withdraw_yes"), BUTTONS.pack("sure", request.id)),
                    Button(t(ctx, "withdraw_no"), BUTTONS.pack("keep", request.id)),
                ),
            )
        )
    if action == "sure":
        try:
            await requests.withdraw(ctx.session, request.id, ctx.caregiver.id, ctx.now)
        except NotAllowed:
            return ctx.stale_button()
        return Reply(pressed_label=t(ctx, "withdraw_yes")).add(
            OutMessage(t(ctx, "withdrawn", steunpunt=name), rows(_mine(ctx), _menu(ctx)))
        )
    if action == "keep":
        return Reply(pressed_label=t(ctx, "withdraw_no")).add(
            OutMessage(t(ctx, "kept_as_is"), rows(_mine(ctx), _menu(ctx)))
        )
    if action == "reply" and request.status == PICKED_UP:
        await open_step(ctx, REPLY_OWNER, ("text",), detail=str(request.id))
        return Reply().add(
            OutMessage(t(ctx, "reply_prompt", name=request.picked_up_name, steunpunt=name))
        )
    if action == "reply":
        return Reply().add(OutMessage(t(ctx, "reply_closed")), ctx.menu_message())
    return ctx.stale_button()


async def on_reply_text(ctx: Context, event: Event) -> Reply | None:
    """The caregiver's typed message to the staff member on their request."""
    step = await current_step(ctx)
    if step is None or step.owner != REPLY_OWNER or not (step.detail or "").isdigit():
        return None
    request_id = int(step.detail or 0)
    await close_step(ctx, REPLY_OWNER)
    try:
        await requests.caregiver_writes(
            ctx.session, request_id, ctx.caregiver.id, event.text, ctx.now
        )
    except NotAllowed:
        return Reply().add(OutMessage(t(ctx, "reply_closed")), ctx.menu_message())
    request = await ctx.session.get(HandoverRequest, request_id)
    assert request is not None
    return Reply().add(
        OutMessage(t(ctx, "reply_sent", name=request.picked_up_name), rows(_mine(ctx), _menu(ctx)))
    )


# ---------------------------------------------------------------- /mijnverzoeken


def status_text(ctx: Context, request: HandoverRequest) -> str:
    if request.status == PICKED_UP:
        return t(ctx, "status_picked_up", name=request.picked_up_name or "?")
    if request.status == CLOSED:
        return t(ctx, "status_closed", outcome=t(ctx, f"outcome_{request.outcome}"))
    if request.status == WITHDRAWN:
        return t(ctx, "status_withdrawn")
    return t(ctx, "status_sent")


async def on_mine(ctx: Context, event: Event) -> Reply:
    mine = await requests.caregiver_requests(ctx.session, ctx.caregiver.id)
    if not mine:
        ask = command_button(t(ctx, "mine_ask"), COMMAND)
        return Reply().add(OutMessage(t(ctx, "mine_none"), rows(ask, _menu(ctx))))
    lines = [t(ctx, "mine_title")]
    buttons = []
    for request in mine[:10]:
        name = await steunpunt_name(ctx, request.steunpunt_key)
        date = ctx.texts.translator.format_date(request.sent_at or request.created_at)
        lines.append(
            f"{t(ctx, 'mine_line', steunpunt=name, date=date)} {status_text(ctx, request)}"
        )
        if request.status == PICKED_UP:
            text = label(ctx, "mine_reply", name=request.picked_up_name)
            buttons.append(Button(text, BUTTONS.pack("reply", request.id)))
        if request.status in (SENT, PICKED_UP):
            text = label(ctx, "mine_withdraw", steunpunt=name)
            buttons.append(Button(text, BUTTONS.pack("withdraw", request.id)))
    return Reply().add(OutMessage("\n".join(lines), rows(*buttons, _menu(ctx))))


# ---------------------------------------------------------------- what the caregiver gets


async def send_news(ctx: Context, row: ScheduledMessage) -> OutMessage | None:
    """Picked up, a message from staff, or closed; two neutral lines first (lock screens)."""
    request = await requests.request_of_caregiver(
        ctx.session, int(row.payload.get("request", 0)), ctx.caregiver.id
    )
    if request is None or request.status == WITHDRAWN:
        return None
    name = await steunpunt_name(ctx, request.steunpunt_key)
    event = row.payload.get("event")
    head = [t(ctx, "news_title"), t(ctx, "news_below"), ""]
    buttons = [_mine(ctx), _menu(ctx)]
    if event == "picked_up":
        key = "news_picked_up_phone" if request.reach == "phone" else "news_picked_up_message"
        body = [t(ctx, key, name=request.picked_up_name, steunpunt=name)]
    elif event == "message":
        message = await ctx.session.get(HandoverMessage, int(row.payload.get("message", 0)))
        if message is None or message.request_id != request.id:
            return None
        who = message.staff_name or name
        body = [t(ctx, "news_message", name=who, steunpunt=name, text=message.text)]
        if request.status == PICKED_UP:
            buttons.insert(0, Button(t(ctx, "button_answer"), BUTTONS.pack("reply", request.id)))
    elif event == "closed" and request.status == CLOSED:
        outcome = t(ctx, f"outcome_{request.outcome}")
        body = [t(ctx, "news_closed", steunpunt=name, outcome=outcome), t(ctx, "news_again")]
    else:
        return None
    return OutMessage("\n".join(head + body), rows(*buttons))


# ---------------------------------------------------------------- offered at heavy moments


async def suggest(ctx: Context, moment: str, answers: Mapping[str, str]) -> list[Button]:
    """At a heavy moment and in /hulp: the offer, when the caregiver has a saved steunpunt
    (without one, those moments offer to find it) and no request open already; and once a
    steunpunt is saved by who came from /contact to find it first."""
    if moment == "steunpunt.saved":
        draft = await requests.draft_of(ctx.session, ctx.caregiver.id)
        if draft is None or draft.steunpunt_key != FINDING:
            return []  # only for who came from /contact to find it first
    elif moment not in MOMENTS or await _saved_steunpunt(ctx) is None:
        return []
    if await requests.open_request(ctx.session, ctx.caregiver.id) is not None:
        return []
    return [command_button(t(ctx, "offer_button"), COMMAND)]


class ReminderJob:
    """The working-day reminders as a periodic job (every 10 minutes; one pass is one
    transaction, and a request reminds at most once a day, so a repeated pass does nothing)."""

    def __init__(self, core: Any) -> None:
        self.core = core

    async def run(self) -> None:
        async with self.core.db.transaction() as session:
            await requests.remind(session, self.core.clock.now())

    def stop(self) -> None:
        """A pass is one transaction: nothing to hand back."""


def _check_dialog(dialog: Dialog, registry: Registry) -> None:
    """Every share source needs its question in the dialog file (`share_<name>`)."""
    missing = [f"share_{n}" for n in registry.shares if f"share_{n}" not in dialog.messages]
    if missing:
        raise DialogError(f"{dialog.source}: messages: missing {', '.join(missing)}")


def register(registry: Registry, dialogs: dict[str, Dialog]) -> None:
    dialog = dialogs.get(DIALOG_ID)
    if dialog is None:
        return
    registry.shares["result"] = ShareSource(latest=result_latest, describe=result_text, order=10)
    _check_dialog(dialog, registry)
    registry.commands.update({COMMAND: on_contact, MINE: on_mine, "myrequests": on_mine})
    registry.menu.append(MenuEntry(COMMAND, None, dialog.menu_order, label=dialog.menu_label or ""))
    registry.buttons[BUTTONS.prefix] = on_button
    registry.actions[SUMMARY_ACTION] = on_summary
    registry.inputs[REPLY_OWNER] = InputOwner(on_reply_text)
    registry.suggestions.append(suggest)
    registry.scheduled[NEWS_KIND] = send_news
    # Asked for on its own, with an explicit yes: not part of the consent to store answers.
    registry.kept_without_consent.update({NEWS_KIND, STAFF_KIND})
    registry.periodic.append(
        PeriodicJob(
            "handover_reminders", staff.REMIND_EVERY, lambda core, _s, _w: ReminderJob(core)
        )
    )
    staff.register(registry, dialog)

    def months(policy: Any) -> int:
        return int(policy.handover_months)

    registry.add_personal_data(
        PersonalData(
            HandoverRequest,
            HandoverRequest.caregiver_id,
            label="kept_handover_request",
            timed=HandoverRequest.closed_at,
            months=months,
            kept_without_consent=True,
            # A draft only holds the choices being made: gone a day after it was started.
            transient=HandoverRequest.status == DRAFT,
            transient_since=HandoverRequest.created_at,
        ),
        PersonalData(
            HandoverMessage,
            HandoverMessage.caregiver_id,
            label="kept_handover_message",
            kept_without_consent=True,
        ),
        PersonalData(
            HandoverAudit,
            HandoverAudit.actor_caregiver_id,
            label="kept_handover_audit",
            outlives_caregiver=True,
        ),
    )
