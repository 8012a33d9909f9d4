"""Staff notices on the web console: the list with status and counts, one notice with its
delivery chart, and composing (text, audience, the caregivers' preview, now or later) and
cancelling. The rows and rules are those of the chat's `/bericht`: a notice composed here is a
`Broadcast` like any other, delivered by the same deliverer (`bot.features.broadcast.delivery`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from html import escape
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


async def _notice(req: ConsoleRequest) -> Broadcast:
    """The notice of the path, when it is of one of the user's scopes; else `NotFound`,
    whether it exists or not."""
    broadcast = await req.session.get(Broadcast, req.number(), with_for_update=True)
    if broadcast is None:
        raise NotFound
    req.scope_of(broadcast.steunpunt_key, broadcast.location_id)
    return broadcast


async def list_page(req: ConsoleRequest) -> Page:
    broadcasts = list(
        await req.session.scalars(
            select(Broadcast)
            .where(_scopes_filter(req))
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


@dataclass
class Composed:
    """What the compose form says (also carried by the preview's hidden fields): nothing is
    stored until "Versturen"; then it becomes a notice row like one from the chat."""

    scope: Scope
    source: str
    text: str
    audience: str
    codes: list[str]
    errors: list[str]

    def notice(self) -> Broadcast:
        """The notice as it would be sent (unsaved: for the preview and the count)."""
        return Broadcast(
            steunpunt_key=self.scope.steunpunt_key,
            location_id=self.scope.location_id,
            source_name=self.source,
            text_html=escape(self.text, quote=False),  # typed text, shown as typed
            audience=self.audience,
            municipality_codes=self.codes,
        )


def _scope_choice(req: ConsoleRequest) -> Scope | None:
    """The membership the notice is written under: the one named by the form, if it is one of
    the user's (else `NotFound`), or the only one."""
    raw = req.form.get("scope") or req.query.get("scope", "")
    if raw:
        chosen = next((s for s in req.scopes if str(s.member_id) == raw), None)
        if chosen is None:
            raise NotFound
        return chosen
    return req.scopes[0] if len(req.scopes) == 1 else None


async def _read(req: ConsoleRequest, scope: Scope) -> Composed:
    """The form, checked with the chat composer's rules (its length limit, one municipality)."""
    texts = req.texts
    source = await scope_name(req.session, scope.steunpunt_key, scope.location_id)
    text = req.form.get("text", "").replace("\r\n", "\n").strip()
    limit = delivery.text_limit(req.core, source, False)
    errors = []
    if not text:
        errors.append(texts.get("console_compose_empty"))
    elif len(text) > limit:
        errors.append(texts.get("typed_text_long", length=len(text), max=limit))
    audience, codes = ("location" if scope.location_id is not None else "all"), []
    if scope.steunpunt_key is not None and req.form.get("audience") == "municipalities":
        counted = await delivery.municipality_counts(req.session, scope.steunpunt_key)
        served = {code for code, _, _ in counted}
        audience = "municipalities"
        codes = [c for c in req.form_lists.get("municipality", []) if c in served]
        if not codes:
            errors.append(texts.get("console_compose_choose_municipality"))
    return Composed(scope, source, text, audience, codes, errors)


async def _form_page(req: ConsoleRequest, composed: Composed, status: int = 200) -> Page:
    municipalities = []
    if composed.scope.steunpunt_key is not None:
        counted = await delivery.municipality_counts(req.session, composed.scope.steunpunt_key)
        municipalities = [
            {"code": code, "name": name, "count": count, "checked": code in composed.codes}
            for code, name, count in counted
        ]
    values = {
        "composed": composed,
        "limit": delivery.text_limit(req.core, composed.source, False),
        "municipalities": municipalities,
    }
    return Page("compose.html", "console_compose_title", values, status=status)


async def compose_page(req: ConsoleRequest) -> Page:
    scope = _scope_choice(req)
    if scope is None:
        choices = [
            {"id": s.member_id, "name": await scope_name(req.session, s.steunpunt_key,
                                                         s.location_id)}
            for s in req.scopes
        ]  # fmt: skip
        return Page("notice_scope.html", "console_compose_title", {"choices": choices})
    source = await scope_name(req.session, scope.steunpunt_key, scope.location_id)
    empty = Composed(scope, source, "", "all", [], [])
    return await _form_page(req, empty)


async def edit(req: ConsoleRequest) -> Page:
    """ "Aanpassen" on the preview: the form again, as it was filled in."""
    scope = _scope_choice(req)
    if scope is None:
        raise NotFound
    composed = await _read(req, scope)
    composed.errors = []
    return await _form_page(req, composed)


async def _preview(req: ConsoleRequest, composed: Composed, error: str = "") -> Page:
    notice = composed.notice()
    count = await delivery.count_audience(req.session, notice)
    label = plain(await delivery.audience_label(req.texts, req.session, notice))
    values = {
        "composed": composed,
        "count": count,
        "audience_label": label,
        "message": delivery.notice_message(req.texts, notice).text,
        "error": error,
        "later": req.form.get("later", ""),
        "send_when": req.form.get("when", "now"),
        # One "Versturen" makes one notice, however often it is pressed.
        "once": req.form.get("once") or secrets.token_urlsafe(16),
    }
    return Page("preview.html", "console_preview_title", values, status=422 if error else 200)


async def preview(req: ConsoleRequest) -> Page:
    scope = _scope_choice(req)
    if scope is None:
        raise NotFound
    composed = await _read(req, scope)
    if composed.errors:
        return await _form_page(req, composed, 422)
    return await _preview(req, composed)


async def send(req: ConsoleRequest) -> Page | Redirect:
    """ "Versturen": the notice row is made now (as the chat composer makes it) and starts, or
    waits for the chosen moment."""
    scope = _scope_choice(req)
    if scope is None:
        raise NotFound
    composed = await _read(req, scope)
    if composed.errors:
        return await _form_page(req, composed, 422)
    once = req.form.get("once", "")[:40]
    if once:
        sent = await req.session.scalar(
            select(Broadcast.id).where(
                Broadcast.sender_caregiver_id == req.caregiver.id,
                Broadcast.extra["console_once"].as_string() == once,
            )
        )
        if sent is not None:
            return Redirect(f"notices/{sent}")
    texts = req.texts
    unsaved = composed.notice()
    if await delivery.count_audience(req.session, unsaved) == 0:
        return await _preview(req, composed, texts.get("notice_nobody"))
    moment = None
    if req.form.get("when") == "later":
        moment = parse_form_datetime(req.form.get("later", ""))
        problem = "unclear" if moment is None else delivery.time_problem(moment, req.now)
        if problem is not None:
            key = "notice_time_quiet" if problem == "quiet" else f"console_time_{problem}"
            return await _preview(req, composed, texts.get(key))
    label = plain(await delivery.audience_label(texts, req.session, unsaved))
    notice = await delivery.new_notice(
        req.session, scope, req.now, text_html=unsaved.text_html, text_length=len(composed.text),
        audience=composed.audience, municipality_codes=composed.codes, audience_label=label,
        sender_caregiver_id=req.caregiver.id, sender_name=req.display_name,
        report_chat_id=req.caregiver.chat_id, extra={"console_once": once} if once else {},
    )  # fmt: skip
    if moment is not None:
        await delivery.schedule(req.session, notice, moment)
        return Redirect(f"notices/{notice.id}", "console_notice_scheduled")
    _, held_until = await delivery.send_now(req.session, notice, req.now)
    key = "console_notice_held" if held_until is not None else "console_notice_sending"
    return Redirect(f"notices/{notice.id}", key)


def register(registry: Registry) -> None:
    registry.console_templates.append(TEMPLATES)
    registry.add_console_page(
        ConsolePage("notices", list_page, nav_key="console_nav_notices", order=10),
        ConsolePage("notices/new", compose_page),
        ConsolePage("notices/new", edit, method="POST"),
        ConsolePage("notices/preview", preview, method="POST"),
        ConsolePage("notices/send", send, method="POST"),
        ConsolePage(r"notices/{id:\d+}", detail_page),
        ConsolePage(r"notices/{id:\d+}/cancel", cancel, method="POST"),
    )
