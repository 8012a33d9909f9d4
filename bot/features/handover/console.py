"""Requests for contact (the warm handover) on the web console, for the staff of a steunpunt:
the queue (open, picked up, the latest closed), one request with exactly what the caregiver
chose to share and the messages, and picking it up, writing to the caregiver and closing it
with an outcome; for operators, the requests per steunpunt. Everything goes through
`bot.features.handover.requests`, the functions the chat's `/verzoeken` uses.
"""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

from bot.app.registry import ConsolePage, Registry
from bot.console.request import ConsoleRequest, NotFound, Page, Redirect
from bot.db.staff import StaffMember
from bot.features.handover import requests
from bot.features.handover.models import CLOSED, OUTCOMES, PICKED_UP, SENT, HandoverRequest
from bot.features.handover.requests import NotAllowed
from bot.features.handover.view import card_text, steunpunt_name, t

TEMPLATES = Path(__file__).resolve().parent / "templates"


async def _found(req: ConsoleRequest) -> tuple[HandoverRequest, StaffMember]:
    """The request of the path and the user's membership that may act on it; else `NotFound`
    (another steunpunt's request, a draft or withdrawn one, a revoked member)."""
    request = await req.session.get(HandoverRequest, req.number(), with_for_update=True)
    if request is None:
        raise NotFound
    req.steunpunt_scope(request.steunpunt_key)
    member = await requests.member_for(req.session, req.caregiver.id, request.steunpunt_key)
    found = (
        await requests.request_for_member(req.session, request.id, member.id)
        if member is not None
        else None
    )
    if found is None:
        raise NotFound
    return found


def _staff_name(req: ConsoleRequest, member: StaffMember) -> str:
    return requests.first_name(req.display_name or member.display_name)


def _status(req: ConsoleRequest, request: HandoverRequest) -> Markup:
    ctx = req.context()
    if request.status == SENT:
        return Markup(t(ctx, "staff_status_sent"))
    if request.status == PICKED_UP:
        return Markup(t(ctx, "staff_status_picked_up", staff=request.picked_up_name))
    outcome = t(ctx, f"outcome_{request.outcome}") if request.outcome else ""
    return Markup(t(ctx, "staff_status_closed", outcome=outcome))


async def queue_page(req: ConsoleRequest) -> Page:
    ctx = req.context()
    queues = []
    for scope in req.scopes:
        if scope.steunpunt_key is None:
            continue
        queue = await requests.queue_for_member(req.session, scope.member_id)
        if queue is None:
            continue
        groups = [
            (req.texts.get(key), [
                {"request": r, "status": _status(req, r),
                 "date": req.texts.translator.format_date(r.sent_at) if r.sent_at else ""}
                for r in found
            ])
            for key, found in (("console_requests_open", queue.open),
                               ("console_requests_picked_up", queue.picked_up),
                               ("console_requests_closed", queue.closed))
        ]  # fmt: skip
        queues.append(
            {
                "name": Markup(await steunpunt_name(ctx, queue.steunpunt_key)),
                "counts": Markup(t(ctx, "staff_list_counts", open=len(queue.open),
                                   picked=len(queue.picked_up), closed=queue.closed_count)),
                "groups": groups,
                "empty": not (queue.open or queue.picked_up or queue.closed),
            }
        )  # fmt: skip
    return Page("requests.html", "console_requests_title", {"queues": queues})


async def request_page(req: ConsoleRequest, error: str = "", status: int = 200) -> Page:
    request, _ = await _found(req)
    ctx = req.context()
    thread = []
    for message in await requests.thread(req.session, request.id):
        who = message.staff_name if message.from_staff else (request.caregiver_name or "?")
        thread.append({"who": who, "from_staff": message.from_staff, "text": message.text,
                       "when": message.sent_at})  # fmt: skip
    values = {
        "request": request,
        "status": _status(req, request),
        "card": card_text(ctx, request),
        "thread": thread,
        "can_pick": request.status == SENT,
        "can_write": request.status == PICKED_UP,
        "can_close": request.status != CLOSED,
        "outcomes": [(o, Markup(t(ctx, f"staff_outcome_{o}"))) for o in OUTCOMES],
        "message_max": requests.MESSAGE_MAX,
        "error": error,
        "typed": req.form.get("text", ""),
        "labels": {
            key: Markup(t(ctx, key))
            for key in ("staff_pick", "staff_message", "staff_close", "staff_back")
        },
        "to_whom": request.caregiver_name or "?",
    }
    return Page("request.html", "console_request_title", values, status=status)


async def pick(req: ConsoleRequest) -> Redirect:
    request, member = await _found(req)
    try:
        _, changed = await requests.pick_up(
            req.session, request.id, member.id, req.now, _staff_name(req, member)
        )
    except NotAllowed:
        return Redirect(f"requests/{request.id}", "console_notice_request_not_now")
    key = "console_notice_request_picked" if changed else "console_notice_request_taken"
    return Redirect(f"requests/{request.id}", key)


async def reply(req: ConsoleRequest) -> Page | Redirect:
    request, member = await _found(req)
    text = req.form.get("text", "").replace("\r\n", "\n").strip()
    if not text or len(text) > requests.MESSAGE_MAX:
        problem = req.texts.get("console_request_message_length", max=requests.MESSAGE_MAX)
        return await request_page(req, problem, 422)
    try:
        await requests.staff_writes(
            req.session, request.id, member.id, text, req.now, _staff_name(req, member)
        )
    except NotAllowed:
        return Redirect(f"requests/{request.id}", "console_notice_request_not_now")
    return Redirect(f"requests/{request.id}", "console_notice_request_sent")


async def close(req: ConsoleRequest) -> Redirect:
    request, member = await _found(req)
    outcome = req.form.get("outcome", "")
    if outcome not in OUTCOMES:
        return Redirect(f"requests/{request.id}", "console_notice_request_choose_outcome")
    try:
        await requests.close(req.session, request.id, member.id, outcome, req.now)
    except NotAllowed:
        return Redirect(f"requests/{request.id}", "console_notice_request_not_now")
    return Redirect(f"requests/{request.id}", "console_notice_request_closed")


async def report_page(req: ConsoleRequest) -> Page:
    lines = await requests.report(req.session)
    return Page("requests_report.html", "console_requests_report_title", {"lines": lines})


def register(registry: Registry) -> None:
    registry.console_templates.append(TEMPLATES)
    registry.add_console_page(
        ConsolePage("requests", queue_page, role="steunpunt", nav_key="console_nav_requests",
                    order=15),
        ConsolePage(r"requests/{id:\d+}", request_page, role="steunpunt"),
        ConsolePage(r"requests/{id:\d+}/pick", pick, role="steunpunt", method="POST"),
        ConsolePage(r"requests/{id:\d+}/reply", reply, role="steunpunt", method="POST"),
        ConsolePage(r"requests/{id:\d+}/close", close, role="steunpunt", method="POST"),
        ConsolePage("operator/requests", report_page, role="operator",
                    nav_key="console_nav_requests_report", order=92),
    )  # fmt: skip
