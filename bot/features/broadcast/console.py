"""Staff notices on the web console: the list with status and counts, one notice with its
delivery chart, and composing (text, audience, the caregivers' preview, now or later) and
cancelling. The rows and rules are those of the chat's `/bericht`: a notice composed here is a
`Broadcast` like any other, delivered by the same deliverer (`bot.features.broadcast.delivery`).
"""

from __future__ import annotations

from html import escape, unescape
from pathlib import Path

from markupsafe import Markup
from sqlalchemy import ColumnElement, or_, select

from bot.app.registry import ConsolePage, Registry
from bot.app.roles import Scope, scope_name
from bot.console.render import line_chart
from bot.console.request import ConsoleRequest, NotFound, Page, Redirect
from bot.features.broadcast import delivery
from bot.features.broadcast.models import Broadcast, BroadcastDelivery
from bot.text.dates import parse_form_datetime
from bot.transport.terminal import plain

TEMPLATES = Path(__file__).resolve().parent / "templates"
LISTED = 30
CHART_POINTS = 60


def _scopes_filter(req: ConsoleRequest) -> ColumnElement[bool]:
    return or_(
        Broadcast.steunpunt_key.in_(req.steunpunt_keys),
        Broadcast.location_id.in_(req.location_ids),
    )


async def _notice(
    req: ConsoleRequest, notice_id: int | None = None, *, draft: bool = False
) -> Broadcast:
    """The notice of the path (or `notice_id`), when it is of one of the user's scopes (a
    draft: their own); else `NotFound`, whether it exists or not."""
    wanted = req.number() if notice_id is None else notice_id
    broadcast = await req.session.get(Broadcast, wanted, with_for_update=True)
    if broadcast is None:
        raise NotFound
    req.scope_of(broadcast.steunpunt_key, broadcast.location_id)
    if draft != (broadcast.status == "draft"):
        raise NotFound
    if draft and broadcast.sender_caregiver_id != req.caregiver.id:
        raise NotFound
    return broadcast


async def list_page(req: ConsoleRequest) -> Page:
    broadcasts = list(
        await req.session.scalars(
            select(Broadcast)
            .where(Broadcast.status != "draft", _scopes_filter(req))
            .order_by(Broadcast.created_at.desc(), Broadcast.id.desc())
            .limit(LISTED)
        )
    )
    rows = []
    for broadcast in broadcasts:
        counts = await delivery.counts_of(req.session, broadcast.id)
        rows.append({"notice": broadcast, "counts": counts, "excerpt": _excerpt(broadcast)})
    return Page("notices.html", "console_notices_title", {"rows": rows})


def _excerpt(broadcast: Broadcast) -> str:
    text = plain(broadcast.text_html)
    return text[:80] + ("…" if len(text) > 80 else "")


async def _chart(req: ConsoleRequest, broadcast: Broadcast) -> Markup | None:
    moments = list(
        await req.session.scalars(
            select(BroadcastDelivery.finished_at)
            .where(
                BroadcastDelivery.broadcast_id == broadcast.id,
                BroadcastDelivery.status == "sent",
                BroadcastDelivery.finished_at.is_not(None),
            )
            .order_by(BroadcastDelivery.finished_at)
        )
    )
    start = broadcast.started_at
    sent = [m for m in moments if m is not None]
    if start is None or not sent:
        return None
    points: list[tuple[float, float]] = [(0.0, 0.0)]
    step = max(1, len(sent) // CHART_POINTS)
    for index in range(step - 1, len(sent), step):
        points.append(((sent[index] - start).total_seconds(), float(index + 1)))
    if points[-1][1] != len(sent):
        points.append(((sent[-1] - start).total_seconds(), float(len(sent))))
    texts = req.texts
    return line_chart(
        points,
        label=texts.get("console_notice_chart_label", sent=len(sent)),
        x_labels=(
            texts.translator.format_time(start, pattern="HH:mm:ss"),
            texts.translator.format_time(sent[-1], pattern="HH:mm:ss"),
        ),
    )


async def detail_page(req: ConsoleRequest) -> Page:
    broadcast = await _notice(req)
    counts = await delivery.counts_of(req.session, broadcast.id)
    values = {
        "notice": broadcast,
        "counts": counts,
        "message": delivery.notice_message(req.texts, broadcast).text,
        "chart": await _chart(req, broadcast),
        "can_cancel": broadcast.status in ("scheduled", "sending"),
    }
    return Page("notice.html", "console_notice_title", values)


async def cancel(req: ConsoleRequest) -> Redirect:
    broadcast = await _notice(req)
    if broadcast.status not in ("scheduled", "sending"):
        return Redirect(f"notices/{broadcast.id}", "console_notice_already_finished")
    await delivery.cancel(req.session, broadcast, req.now)
    return Redirect(f"notices/{broadcast.id}", "console_notice_cancelled")


# ---------------------------------------------------------------- composing


async def _scope_choice(req: ConsoleRequest) -> Scope | None:
    raw = req.query.get("scope") or req.form.get("scope", "")
    if len(req.scopes) == 1:
        return req.scopes[0]
    return next((s for s in req.scopes if str(s.member_id) == raw), None)


async def _form_values(
    req: ConsoleRequest, scope: Scope, draft: Broadcast | None, text: str, error: str = ""
) -> dict[str, object]:
    municipalities = []
    chosen = set(draft.municipality_codes or []) if draft is not None else set()
    if scope.steunpunt_key is not None:
        for code, name, count in await delivery.municipality_counts(
            req.session, scope.steunpunt_key
        ):
            municipalities.append(
                {"code": code, "name": name, "count": count, "checked": code in chosen}
            )
    source = await scope_name(req.session, scope.steunpunt_key, scope.location_id)
    return {
        "scope": scope,
        "source": source,
        "draft": draft,
        "text": text,
        "error": error,
        "limit": delivery.text_limit(req.core, source, False),
        "municipalities": municipalities,
        "audience": draft.audience if draft is not None else "all",
    }


async def compose_page(req: ConsoleRequest) -> Page:
    draft = None
    if req.query.get("draft", "").isdigit():
        draft = await _notice(req, int(req.query["draft"][:12]), draft=True)
    scope = (
        req.scope_of(draft.steunpunt_key, draft.location_id)
        if draft is not None
        else await _scope_choice(req)
    )
    if scope is None:
        choices = [
            {"id": s.member_id, "name": await scope_name(req.session, s.steunpunt_key,
                                                         s.location_id)}
            for s in req.scopes
        ]  # fmt: skip
        return Page("notice_scope.html", "console_compose_title", {"choices": choices})
    text = _typed_text(draft) if draft is not None else ""
    return Page(
        "compose.html", "console_compose_title", await _form_values(req, scope, draft, text)
    )


def _typed_text(draft: Broadcast) -> str:
    """The draft's text as typed on the page (stored escaped, as the chat stores typed text)."""
    return unescape(draft.text_html)


async def compose(req: ConsoleRequest) -> Page | Redirect:
    """The form: store the draft (the same row the chat composer makes) and show the preview."""
    draft = None
    if req.form.get("draft", "").isdigit():
        draft = await _notice(req, int(req.form["draft"][:12]), draft=True)
    scope = (
        req.scope_of(draft.steunpunt_key, draft.location_id)
        if draft is not None
        else await _scope_choice(req)
    )
    if scope is None:
        raise NotFound
    text = req.form.get("text", "").replace("\r\n", "\n").strip()
    source = await scope_name(req.session, scope.steunpunt_key, scope.location_id)
    limit = delivery.text_limit(req.core, source, False)
    texts = req.texts
    problem = ""
    if not text:
        problem = texts.get("console_compose_empty")
    elif len(text) > limit:
        problem = texts.get("notice_too_long", length=len(text), limit=limit)
    codes: list[str] = []
    audience = "location" if scope.location_id is not None else "all"
    if scope.steunpunt_key is not None and req.form.get("audience") == "municipalities":
        served = {
            c for c, _, _ in await delivery.municipality_counts(req.session, scope.steunpunt_key)
        }
        codes = [c for c in req.form_lists.get("municipality", []) if c in served]
        audience = "municipalities"
        if not codes and not problem:
            problem = texts.get("notice_choose_one_municipality")
    if problem:
        values = await _form_values(req, scope, draft, text, problem)
        values["audience"] = audience
        return Page("compose.html", "console_compose_title", values, status=422)
    if draft is None:
        draft = await delivery.new_draft(
            req.session, scope, req.now, sender_caregiver_id=req.caregiver.id,
            sender_name=req.display_name, report_chat_id=req.caregiver.chat_id,
        )  # fmt: skip
    draft.text_html, draft.text_length = escape(text, quote=False), len(text)
    draft.media_kind = draft.media_file_id = None
    draft.audience, draft.municipality_codes = audience, codes
    draft.step = "confirm"
    return Redirect(f"notices/{draft.id}/preview")


async def preview_page(req: ConsoleRequest, error: str = "", status: int = 200) -> Page:
    draft = await _notice(req, draft=True)
    draft.audience_label = plain(await delivery.audience_label(req.texts, req.session, draft))[:400]
    count = await delivery.count_audience(req.session, draft)
    values = {
        "draft": draft,
        "count": count,
        "message": delivery.notice_message(req.texts, draft).text,
        "error": error,
        "later": req.form.get("later", ""),
    }
    return Page("preview.html", "console_preview_title", values, status=status)


async def send(req: ConsoleRequest) -> Page | Redirect:
    draft = await _notice(req, draft=True)
    draft.audience_label = (await delivery.audience_label(req.texts, req.session, draft))[:400]
    if await delivery.count_audience(req.session, draft) == 0:
        return await preview_page(req, req.texts.get("notice_nobody"), 422)
    if req.form.get("when") == "later":
        moment = parse_form_datetime(req.form.get("later", ""))
        problem = "unclear" if moment is None else delivery.time_problem(moment, req.now)
        if problem is not None or moment is None:
            return await preview_page(req, req.texts.get(f"notice_time_{problem}"), 422)
        await delivery.schedule(req.session, draft, moment)
        return Redirect(f"notices/{draft.id}", "console_notice_scheduled")
    _, held_until = await delivery.send_now(req.session, draft, req.now)
    notice = "console_notice_held" if held_until is not None else "console_notice_sending"
    return Redirect(f"notices/{draft.id}", notice)


async def discard(req: ConsoleRequest) -> Redirect:
    draft = await _notice(req, draft=True)
    await req.session.delete(draft)
    return Redirect("notices", "console_notice_discarded")


def register(registry: Registry) -> None:
    registry.console_templates.append(TEMPLATES)
    registry.add_console_page(
        ConsolePage("notices", list_page, nav_key="console_nav_notices", order=10),
        ConsolePage("notices/new", compose_page),
        ConsolePage("notices/new", compose, method="POST"),
        ConsolePage(r"notices/{id:\d+}", detail_page),
        ConsolePage(r"notices/{id:\d+}/cancel", cancel, method="POST"),
        ConsolePage(r"notices/{id:\d+}/preview", preview_page),
        ConsolePage(r"notices/{id:\d+}/send", send, method="POST"),
        ConsolePage(r"notices/{id:\d+}/discard", discard, method="POST"),
    )
