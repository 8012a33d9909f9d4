"""Inspraak on the web console: my steunpunt's questions with their answers (counts only, k >= 10,
per choice once closed), a new question with the caregivers' preview (the chat's checks and the
same notice), and closing one. Nothing here names or counts a single caregiver.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot.app.registry import ConsolePage, Registry
from bot.app.roles import Scope, scope_name
from bot.console.request import ConsoleRequest, NotFound, Page, Redirect
from bot.db.staff import StaffMember
from bot.features.broadcast import delivery
from bot.features.insight.tables import K
from bot.features.inspraak import handlers as inspraak
from bot.features.inspraak.models import InspraakQuestion

TEMPLATES = Path(__file__).resolve().parent / "templates"
LISTED = 50
# The same question sent twice within this time by one person is the same press, twice.
AGAIN_WITHIN = timedelta(minutes=10)


async def _question(req: ConsoleRequest) -> InspraakQuestion:
    question = await req.session.get(InspraakQuestion, req.number())
    if question is None or question.status == "draft":
        raise NotFound
    req.steunpunt_scope(question.steunpunt_key)  # another steunpunt's question: 404
    return question


async def list_page(req: ConsoleRequest) -> Page:
    questions = await req.session.scalars(
        select(InspraakQuestion)
        .where(
            InspraakQuestion.status != "draft",
            InspraakQuestion.steunpunt_key.in_(req.steunpunt_keys),
        )
        .order_by(InspraakQuestion.id.desc())
        .limit(LISTED)
    )
    rows = [
        {"question": q, "results": await inspraak.results(req.session, q, req.now)}
        for q in questions
    ]
    return Page("inspraak_list.html", "console_inspraak_title", {"rows": rows, "k": K})


async def detail_page(req: ConsoleRequest) -> Page:
    question = await _question(req)
    found = await inspraak.results(req.session, question, req.now)
    values = {"question": question, "results": found, "k": K,
              "open": inspraak.is_open(question, req.now)}  # fmt: skip
    return Page("inspraak_question.html", "console_inspraak_question_title", values)


async def close(req: ConsoleRequest) -> Redirect:
    question = await _question(req)
    if not await inspraak.close_question(question, req.now):
        return Redirect(f"inspraak/{question.id}")
    return Redirect(f"inspraak/{question.id}", "console_notice_inspraak_closed")


def _scope(req: ConsoleRequest) -> Scope | None:
    raw = req.form.get("scope") or req.query.get("scope", "")
    steunpunten = [s for s in req.scopes if s.steunpunt_key]
    if raw:
        chosen = next((s for s in steunpunten if str(s.member_id) == raw), None)
        if chosen is None:
            raise NotFound
        return chosen
    return steunpunten[0] if len(steunpunten) == 1 else None


async def _form(req: ConsoleRequest, scope: Scope, errors: list[str], status: int = 200) -> Page:
    values = {
        "scope": scope,
        "source": await scope_name(req.session, scope.steunpunt_key, None),
        "question": req.form.get("question", ""),
        "options": req.form.get("options", ""),
        "allow_comment": req.form.get("allow_comment", "yes" if not req.form else "") == "yes",
        "errors": errors,
        "question_limit": inspraak.QUESTION_LIMIT,
        "option_limit": inspraak.OPTION_LIMIT,
        "low": inspraak.MIN_OPTIONS,
        "high": inspraak.MAX_OPTIONS,
    }
    return Page("inspraak_new.html", "console_inspraak_new_title", values, status=status)


async def new_page(req: ConsoleRequest) -> Page:
    scope = _scope(req)
    if scope is None:
        choices = [
            {"id": s.member_id, "name": await scope_name(req.session, s.steunpunt_key, None)}
            for s in req.scopes
            if s.steunpunt_key
        ]
        return Page("inspraak_scope.html", "console_inspraak_new_title", {"choices": choices})
    return await _form(req, scope, [])


async def _draft(req: ConsoleRequest, scope: Scope) -> tuple[InspraakQuestion, list[str]]:
    """The form as an unsaved question, checked with the chat's rules."""
    texts = req.texts
    question, problem = inspraak.check_question(texts, req.form.get("question", ""))
    options, options_problem = inspraak.check_options(
        texts, req.form.get("options", "").replace("\r\n", "\n")
    )
    member = await req.session.get(StaffMember, scope.member_id)
    assert scope.steunpunt_key is not None
    draft = InspraakQuestion(
        status="draft", step="confirm", steunpunt_key=scope.steunpunt_key, municipality_codes=[],
        source_name=await scope_name(req.session, scope.steunpunt_key, None), question=question,
        options=options, allow_comment=req.form.get("allow_comment") == "yes",
        sender_member_id=scope.member_id, sender_caregiver_id=req.caregiver.id,
        sender_name=req.display_name or (member.display_name if member else ""),
        created_at=req.now,
    )  # fmt: skip
    return draft, [p for p in (problem, options_problem) if p]


async def preview(req: ConsoleRequest) -> Page:
    scope = _scope(req)
    if scope is None:
        raise NotFound
    draft, errors = await _draft(req, scope)
    if errors:
        return await _form(req, scope, errors, 422)
    count = await delivery.audience_size(req.session, draft.steunpunt_key, [])
    notice = delivery.notice_of(
        req.texts, draft.source_name, inspraak.question_html(draft), inspraak.notice_extra(draft)
    )
    values = {
        "scope": scope,
        "draft": draft,
        "count": count,
        "k": K,
        "days": inspraak.OPEN_FOR.days,
        "message": notice.text,
        "buttons": [b.label for row in notice.buttons for b in row],
        "options": req.form.get("options", ""),
    }
    return Page("inspraak_preview.html", "console_inspraak_preview_title", values)


async def send(req: ConsoleRequest) -> Page | Redirect:
    scope = _scope(req)
    if scope is None:
        raise NotFound
    draft, errors = await _draft(req, scope)
    if errors:
        return await _form(req, scope, errors, 422)
    again = await req.session.scalar(
        select(InspraakQuestion.id).where(
            InspraakQuestion.sender_caregiver_id == req.caregiver.id,
            InspraakQuestion.status != "draft",
            InspraakQuestion.question == draft.question,
            InspraakQuestion.created_at > req.now - AGAIN_WITHIN,
        )
    )
    if again is not None:
        return Redirect(f"inspraak/{again}")
    req.session.add(draft)
    await req.session.flush()
    opened = await inspraak.open_question(
        req.session, req.texts, draft, req.now, req.caregiver.chat_id
    )
    if opened is None:
        await req.session.delete(draft)
        return await preview(req)
    _, sent_to = opened
    key = (
        "console_notice_inspraak_sending"
        if sent_to is not None
        else "console_notice_inspraak_morning"
    )
    return Redirect(f"inspraak/{draft.id}", key)


def register(registry: Registry) -> None:
    registry.console_templates.append(TEMPLATES)
    registry.add_console_page(
        ConsolePage("inspraak", list_page, role="steunpunt", nav_key="console_nav_inspraak",
                    order=41),
        ConsolePage("inspraak/new", new_page, role="steunpunt"),
        ConsolePage("inspraak/preview", preview, role="steunpunt", method="POST"),
        ConsolePage("inspraak/send", send, role="steunpunt", method="POST"),
        ConsolePage(r"inspraak/{id:\d+}", detail_page, role="steunpunt"),
        ConsolePage(r"inspraak/{id:\d+}/close", close, role="steunpunt", method="POST"),
    )  # fmt: skip
