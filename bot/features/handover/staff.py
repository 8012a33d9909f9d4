"""The steunpunt staff's side of the warm handover: `/verzoeken` (open, picked up, closed, with
what the caregiver chose to share), "Ik pak dit op", messages to the caregiver through the bot,
the keukentafel PDF as a document, closing with an outcome; and what staff get by themselves
(a new request, the working-day reminder, a message, a withdrawal).

Every button and typed message checks the membership again (`requests.request_for_member`):
staff of another steunpunt, revoked staff and caregivers get the answer to a finished button.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.app.dispatch import Context
from bot.app.registry import InputOwner, MenuEntry, Registry
from bot.app.roles import active_memberships, staff_menu
from bot.app.router import close_step, current_step, open_step
from bot.db.staff import StaffMember
from bot.engine.codec import ButtonCodec
from bot.engine.flow import Event
from bot.engine.output import Button, OutMessage, Reply, command_button, rows
from bot.engine.spec import Dialog
from bot.features.handover import requests
from bot.features.handover.models import (
    CLOSED,
    OUTCOMES,
    PICKED_UP,
    SENT,
    HandoverMessage,
    HandoverRequest,
)
from bot.features.handover.requests import STAFF_KIND, NotAllowed
from bot.features.handover.view import card_text, label, steunpunt_name, t
from bot.jobs.scheduled import ScheduledMessage

COMMAND = "verzoeken"
REPLY_OWNER = "handover_staff_reply"
REMIND_EVERY = timedelta(minutes=10)
THREAD_SHOWN = 6
# hs:list | hs:view:<id> | hs:pick:<id> | hs:msg:<id> | hs:pdf:<id> | hs:close:<id>
# hs:out:<id>:<outcome>
BUTTONS = ButtonCodec(
    "hs",
    {
        "list": (),
        **{action: (int,) for action in ("view", "pick", "msg", "pdf", "close")},
        "out": (int, OUTCOMES),
    },
)


def _staff_name(ctx: Context, member: StaffMember) -> str:
    return requests.first_name(ctx.display_name or member.display_name)


async def _found(ctx: Context, request_id: int) -> tuple[HandoverRequest, StaffMember] | None:
    """The request and this user's membership that may act on it, or None."""
    request = await ctx.session.get(HandoverRequest, request_id)
    if request is None:
        return None
    member = await requests.member_for(ctx.session, ctx.caregiver.id, request.steunpunt_key)
    if member is None:
        return None
    return await requests.request_for_member(ctx.session, request_id, member.id)


def _date(ctx: Context, moment: datetime | None) -> str:
    return ctx.texts.translator.format_date(moment) if moment is not None else ""


def _outcome(ctx: Context, request: HandoverRequest) -> str:
    return t(ctx, f"outcome_{request.outcome}") if request.outcome else ""


# ---------------------------------------------------------------- the list


async def on_list(ctx: Context, event: Event) -> Reply:
    members = [
        m for m in await active_memberships(ctx.session, ctx.caregiver.id) if m.steunpunt_key
    ]
    if not members:
        return Reply().add(staff_menu(ctx, t(ctx, "staff_none")))
    reply = Reply()
    for member in members:
        queue = await requests.queue_for_member(ctx.session, member.id)
        assert queue is not None
        name = await steunpunt_name(ctx, queue.steunpunt_key)
        lines = [t(ctx, "staff_list_title", steunpunt=name)]
        if not (queue.open or queue.picked_up or queue.closed):
            lines.append(t(ctx, "staff_list_empty"))
        else:
            lines.append(
                t(
                    ctx,
                    "staff_list_counts",
                    open=len(queue.open),
                    picked=len(queue.picked_up),
                    closed=queue.closed_count,
                )
            )
        buttons = [
            Button(_item(ctx, r), BUTTONS.pack("view", r.id))
            for r in [*queue.open, *queue.picked_up, *queue.closed]
        ]
        if member is members[-1]:
            buttons.append(command_button(ctx.texts.get("staff_menu_button"), "medewerker"))
        reply.add(OutMessage("\n".join(lines), rows(*buttons)))
    return reply


def _item(ctx: Context, request: HandoverRequest) -> str:
    """A request's button in the list (a label: plain text)."""
    name = request.caregiver_name or "?"
    if request.status == SENT:
        return label(
            ctx, "staff_item_sent", number=request.id, name=name, date=_date(ctx, request.sent_at)
        )
    if request.status == PICKED_UP:
        return label(ctx, "staff_item_picked_up", number=request.id, name=name,
                 staff=request.picked_up_name)  # fmt: skip
    return label(
        ctx, "staff_item_closed", number=request.id, name=name, outcome=_outcome(ctx, request)
    )


# ---------------------------------------------------------------- one request


async def card(ctx: Context, request: HandoverRequest) -> OutMessage:
    """The request as staff see it: status, what was shared, the latest messages, the actions."""
    if request.status == SENT:
        status = t(ctx, "staff_status_sent")
    elif request.status == PICKED_UP:
        status = t(ctx, "staff_status_picked_up", staff=request.picked_up_name)
    else:
        status = t(ctx, "staff_status_closed", outcome=_outcome(ctx, request))
    lines = [
        f"{t(ctx, 'staff_card_title', number=request.id)} {status}",
        t(ctx, "staff_card_sent_at", date=_date(ctx, request.sent_at)),
        "",
        card_text(ctx, request),
    ]
    messages = await requests.thread(ctx.session, request.id)
    if messages:
        lines += ["", t(ctx, "staff_thread")]
        for message in messages[-THREAD_SHOWN:]:
            values = {"date": _date(ctx, message.sent_at), "text": message.text}
            if message.from_staff:
                lines.append(t(ctx, "staff_thread_staff", staff=message.staff_name, **values))
            else:
                name = request.caregiver_name or "?"
                lines.append(t(ctx, "staff_thread_caregiver", name=name, **values))
    buttons = []
    if request.status == SENT:
        buttons.append(Button(t(ctx, "staff_pick"), BUTTONS.pack("pick", request.id)))
    if request.status == PICKED_UP:
        buttons.append(Button(t(ctx, "staff_message"), BUTTONS.pack("msg", request.id)))
    source = ctx.core.registry.shares.get("keukentafel")
    if "keukentafel" in request.shared and source is not None and source.document is not None:
        buttons.append(Button(t(ctx, "staff_pdf"), BUTTONS.pack("pdf", request.id)))
    if request.status != CLOSED:
        buttons.append(Button(t(ctx, "staff_close"), BUTTONS.pack("close", request.id)))
    buttons.append(Button(t(ctx, "staff_back"), BUTTONS.pack("list")))
    return OutMessage("\n".join(lines), rows(*buttons))


async def on_button(ctx: Context, event: Event) -> Reply:
    pressed = BUTTONS.unpack(event.text)
    if pressed is None:
        return ctx.stale_button()
    if pressed.action == "list":
        return await on_list(ctx, event)
    found = await _found(ctx, pressed.number(0))
    if found is None:
        return ctx.stale_button()
    request, member = found
    action = pressed.action
    try:
        if action == "view":
            return Reply().add(await card(ctx, request))
        if action == "pick":
            request, changed = await requests.pick_up(
                ctx.session, request.id, member.id, ctx.now, _staff_name(ctx, member)
            )
            name = request.caregiver_name or "?"
            key = "staff_picked" if changed else "staff_already_picked"
            text = t(ctx, key, name=name, staff=request.picked_up_name)
            return Reply(pressed_label=t(ctx, "staff_pick")).add(
                OutMessage(text), await card(ctx, request)
            )
        if action == "msg" and request.status == PICKED_UP:
            await open_step(ctx, REPLY_OWNER, ("text",), detail=str(request.id))
            name = request.caregiver_name or "?"
            staff = _staff_name(ctx, member)
            prompt = t(ctx, "staff_reply_prompt", name=name, staff=staff)
            return Reply().add(OutMessage(prompt))
        if action == "pdf":
            source = ctx.core.registry.shares.get("keukentafel")
            data = request.shared.get("keukentafel")
            if source is not None and source.document is not None and data is not None:
                return Reply().add(await source.document(ctx, data))
        if action == "close" and request.status != CLOSED:
            name = request.caregiver_name or "?"
            outcomes = [
                Button(t(ctx, f"staff_outcome_{o}"), BUTTONS.pack("out", request.id, o))
                for o in OUTCOMES
            ]
            back = Button(t(ctx, "staff_back"), BUTTONS.pack("view", request.id))
            return Reply().add(
                OutMessage(t(ctx, "staff_close_question", name=name), rows(*outcomes, back))
            )
        if action == "out":
            outcome = pressed.text(1)
            await requests.close(ctx.session, request.id, member.id, outcome, ctx.now)
            name = request.caregiver_name or "?"
            text = t(ctx, "staff_closed", outcome=t(ctx, f"outcome_{outcome}"), name=name)
            return Reply(pressed_label=t(ctx, f"staff_outcome_{outcome}")).add(
                staff_menu(ctx, text)
            )
    except NotAllowed:
        pass
    return ctx.stale_button()


async def on_reply_text(ctx: Context, event: Event) -> Reply | None:
    """A staff member's typed message to the caregiver of a request they may act on."""
    step = await current_step(ctx)
    if step is None or step.owner != REPLY_OWNER or not (step.detail or "").isdigit():
        return None
    await close_step(ctx, REPLY_OWNER)
    found = await _found(ctx, int(step.detail or 0))
    if found is None:
        return ctx.stale_button()
    request, member = found
    try:
        await requests.staff_writes(
            ctx.session, request.id, member.id, event.text, ctx.now, _staff_name(ctx, member)
        )
    except NotAllowed:
        return ctx.stale_button()
    text = t(ctx, "staff_reply_sent", name=request.caregiver_name or "?")
    return Reply().add(OutMessage(text), await card(ctx, request))


async def on_reply_stop(ctx: Context, event: Event) -> Reply:
    await close_step(ctx, REPLY_OWNER)
    return Reply().add(staff_menu(ctx, t(ctx, "staff_reply_stopped")))


# ---------------------------------------------------------------- what staff get by themselves


async def send_to_staff(ctx: Context, row: ScheduledMessage) -> OutMessage | None:
    """New, reminder, message or withdrawn; two neutral lines first (lock screens). Nothing for
    a membership that ended, or a request that moved on meanwhile."""
    member = await requests.active_member(ctx.session, int(row.payload.get("member", 0)))
    request = await ctx.session.get(HandoverRequest, int(row.payload.get("request", 0)))
    if member is None or request is None or member.caregiver_id != ctx.caregiver.id:
        return None
    if member.steunpunt_key != request.steunpunt_key:
        return None
    event = row.payload.get("event")
    view = Button(t(ctx, "staff_view"), BUTTONS.pack("view", request.id))
    menu = command_button(ctx.texts.get("staff_menu_button"), "medewerker")
    if event == "new" and request.status == SENT:  # picked up meanwhile: nothing to do
        text = "\n".join([t(ctx, "staff_new_title"), t(ctx, "staff_new_below")])
        return OutMessage(text, rows(view, menu))
    if event == "reminder" and request.status == SENT:
        text = "\n".join([t(ctx, "staff_reminder_title"), t(ctx, "staff_reminder_below")])
        return OutMessage(text, rows(view, menu))
    if event == "message" and request.status == PICKED_UP:
        message = await ctx.session.get(HandoverMessage, int(row.payload.get("message", 0)))
        if message is None or message.request_id != request.id:
            return None
        body = t(
            ctx,
            "staff_message_text",
            name=request.caregiver_name or "?",
            number=request.id,
            text=message.text,
        )
        text = "\n".join([t(ctx, "staff_message_title"), t(ctx, "staff_new_below"), "", body])
        answer = Button(t(ctx, "staff_answer"), BUTTONS.pack("msg", request.id))
        return OutMessage(text, rows(answer, view))
    if event == "withdrawn":
        below = t(ctx, "staff_withdrawn_below", number=request.id)
        return OutMessage("\n".join([t(ctx, "staff_withdrawn_title"), below]), rows(menu))
    return None


def register(registry: Registry, dialog: Dialog) -> None:
    registry.staff_commands.update({COMMAND: on_list, "requests": on_list})
    registry.staff_buttons[BUTTONS.prefix] = on_button
    label = dialog.messages["staff_menu_list"]
    registry.staff_menu.append(MenuEntry(COMMAND, None, 15, label=label))
    registry.inputs[REPLY_OWNER] = InputOwner(on_reply_text, stop=on_reply_stop)
    registry.scheduled[STAFF_KIND] = send_to_staff
