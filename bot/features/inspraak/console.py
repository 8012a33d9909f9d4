"""Inspraak on the web console: my steunpunt's questions with their answers (counts only, k >= 10,
per choice once closed), a new question with the caregivers' preview (the chat's checks and the
same notice), and closing one; and the same pages for the operator, who asks the caregivers of
one municipality (`operator/inspraak`). Nothing here names or counts a single caregiver.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, select

from bot.app.registry import ConsolePage, Registry
from bot.app.roles import Scope, scope_name
from bot.console.request import ConsoleRequest, NotFound, Page, Redirect
from bot.db.directory import Municipality
from bot.db.staff import StaffMember
from bot.features.broadcast import delivery
from bot.features.insight.tables import K
from bot.features.inspraak import handlers as inspraak
from bot.features.inspraak.models import InspraakQuestion

TEMPLATES = Path(__file__).resolve().parent / "templates"
LISTED = 50
# The same question sent twice within this time by one person is the same press, twice.
AGAIN_WITHIN = timedelta(minutes=10)
STAFF_BASE, OPERATOR_BASE = "inspraak", "operator/inspraak"


# ---------------------------------------------------------------- shared by both sides


async def _list(req: ConsoleRequest, base: str, intro_key: str, mine: ColumnElement[bool]) -> Page:
    questions = await req.session.scalars(
        select(InspraakQuestion)
        .where(InspraakQuestion.status != "draft", mine)
        .order_by(InspraakQuestion.id.desc())
        .limit(LISTED)
    )
    rows = [
        {"question": q, "results": await inspraak.results(req.session, q, req.now)}
        for q in questions
    ]
    values = {"rows": rows, "k": K, "base": base, "intro_key": intro_key}
    return Page("inspraak_list.html", "console_inspraak_title", values)


async def _detail(req: ConsoleRequest, question: InspraakQuestion, base: str) -> Page:
    found = await inspraak.results(req.session, question, req.now)
    values = {"question": question, "results": found, "k": K, "base": base,
              "open": inspraak.is_open(question, req.now)}  # fmt: skip
    return Page("inspraak_question.html", "console_inspraak_question_title", values)


async def _close(req: ConsoleRequest, question: InspraakQuestion, base: str) -> Redirect:
    if not await inspraak.close_question(question, req.now):
        return Redirect(f"{base}/{question.id}")
    return Redirect(f"{base}/{question.id}", "console_notice_inspraak_closed")


def _form(
    req: ConsoleRequest,
    base: str,
    hidden: Iterable[tuple[str, str]],
    errors: list[str],
    status: int = 200,
    **more: Any,
) -> Page:
    values = {
        "base": base,
        "hidden": list(hidden),
        "source": "",
        "ask_municipality": False,
        "question": req.form.get("question", ""),
        "options": req.form.get("options", ""),
        "allow_comment": req.form.get("allow_comment", "yes" if not req.form else "") == "yes",
        "errors": errors,
        "question_limit": inspraak.QUESTION_LIMIT,
        "option_limit": inspraak.OPTION_LIMIT,
        "low": inspraak.MIN_OPTIONS,
        "high": inspraak.MAX_OPTIONS,
    } | more
    return Page("inspraak_new.html", "console_inspraak_new_title", values, status=status)


def _checked(req: ConsoleRequest) -> tuple[str, list[str], list[str]]:
    """The form's question and choices, checked with the chat's rules: (question, choices,
    what is wrong)."""
    texts = req.texts
    question, problem = inspraak.check_question(texts, req.form.get("question", ""))
    options, options_problem = inspraak.check_options(
        texts, req.form.get("options", "").replace("\r\n", "\n")
    )
    return question, options, [p for p in (problem, options_problem) if p]


async def _preview(
    req: ConsoleRequest, draft: InspraakQuestion, base: str, hidden: list[tuple[str, str]]
) -> Page:
    count = await delivery.audience_size(
        req.session, draft.steunpunt_key, list(draft.municipality_codes or [])
    )
    notice = delivery.notice_of(
        req.texts, draft.source_name, inspraak.question_html(draft), inspraak.notice_extra(draft)
    )
    values = {
        "base": base,
        "hidden": hidden,
        "draft": draft,
        "count": count,
        "k": K,
        "days": inspraak.OPEN_FOR.days,
        "message": notice.text,
        "buttons": [b.label for row in notice.buttons for b in row],
        "options": req.form.get("options", ""),
    }
    return Page("inspraak_preview.html", "console_inspraak_preview_title", values)


async def _send(
    req: ConsoleRequest, draft: InspraakQuestion, base: str, hidden: list[tuple[str, str]]
) -> Page | Redirect:
    """Send the checked draft once, however often the button is pressed: the same question by
    the same person to the same caregivers within `AGAIN_WITHIN` is the one already sent."""
    recent = await req.session.scalars(
        select(InspraakQuestion).where(
            InspraakQuestion.sender_caregiver_id == req.caregiver.id,
            InspraakQuestion.status != "draft",
            InspraakQuestion.question == draft.question,
            InspraakQuestion.created_at > req.now - AGAIN_WITHIN,
        )
    )
    same = (draft.steunpunt_key, draft.sender_operator_id, list(draft.municipality_codes))
    for sent in recent:
        if (sent.steunpunt_key, sent.sender_operator_id, list(sent.municipality_codes)) == same:
            return Redirect(f"{base}/{sent.id}")
    req.session.add(draft)
    await req.session.flush()
    opened = await inspraak.open_question(
        req.session, req.texts, draft, req.now, req.caregiver.chat_id, req.core.operators
    )
    if opened is None:
        await req.session.delete(draft)
        return await _preview(req, draft, base, hidden)
    _, sent_to = opened
    key = (
        "console_notice_inspraak_sending"
        if sent_to is not None
        else "console_notice_inspraak_morning"
    )
    return Redirect(f"{base}/{draft.id}", key)


# ---------------------------------------------------------------- steunpunt staff


async def _question(req: ConsoleRequest) -> InspraakQuestion:
    question = await req.session.get(InspraakQuestion, req.number())
    if question is None or question.status == "draft":
        raise NotFound
    req.steunpunt_scope(question.steunpunt_key)  # another steunpunt's question: 404
    return question


async def list_page(req: ConsoleRequest) -> Page:
    mine = InspraakQuestion.steunpunt_key.in_(req.steunpunt_keys)
    return await _list(req, STAFF_BASE, "console_inspraak_intro", mine)


async def detail_page(req: ConsoleRequest) -> Page:
    return await _detail(req, await _question(req), STAFF_BASE)


async def close(req: ConsoleRequest) -> Redirect:
    return await _close(req, await _question(req), STAFF_BASE)


def _scope(req: ConsoleRequest) -> Scope | None:
    raw = req.form.get("scope") or req.query.get("scope", "")
    steunpunten = [s for s in req.scopes if s.steunpunt_key]
    if raw:
        chosen = next((s for s in steunpunten if str(s.member_id) == raw), None)
        if chosen is None:
            raise NotFound
        return chosen
    return steunpunten[0] if len(steunpunten) == 1 else None


def _scope_fields(scope: Scope) -> list[tuple[str, str]]:
    return [("scope", str(scope.member_id))]


async def new_page(req: ConsoleRequest) -> Page:
    scope = _scope(req)
    if scope is None:
        choices = [
            {"id": s.member_id, "name": await scope_name(req.session, s.steunpunt_key, None)}
            for s in req.scopes
            if s.steunpunt_key
        ]
        return Page("inspraak_scope.html", "console_inspraak_new_title", {"choices": choices})
    source = await scope_name(req.session, scope.steunpunt_key, None)
    return _form(req, STAFF_BASE, _scope_fields(scope), [], source=source)


async def _draft(req: ConsoleRequest, scope: Scope) -> tuple[InspraakQuestion, list[str]]:
    """The form as an unsaved question of the steunpunt, checked with the chat's rules."""
    question, options, errors = _checked(req)
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
    return draft, errors


async def preview(req: ConsoleRequest) -> Page:
    scope = _scope(req)
    if scope is None:
        raise NotFound
    draft, errors = await _draft(req, scope)
    if errors:
        return _form(req, STAFF_BASE, _scope_fields(scope), errors, 422, source=draft.source_name)
    return await _preview(req, draft, STAFF_BASE, _scope_fields(scope))


async def send(req: ConsoleRequest) -> Page | Redirect:
    scope = _scope(req)
    if scope is None:
        raise NotFound
    draft, errors = await _draft(req, scope)
    if errors:
        return _form(req, STAFF_BASE, _scope_fields(scope), errors, 422, source=draft.source_name)
    return await _send(req, draft, STAFF_BASE, _scope_fields(scope))


# ---------------------------------------------------------------- the operator


async def find_municipality(req: ConsoleRequest, typed: str) -> Municipality | None:
    """The municipality by its CBS code ("GM0796") or a name the directory knows for it
    ("'s-Hertogenbosch", "Den Bosch"); None when there is not exactly one."""
    wanted = " ".join(typed.split()).casefold()
    if not wanted:
        return None
    found = [
        m
        for m in await req.session.scalars(select(Municipality))
        if wanted == m.code.casefold()
        or wanted in (n.casefold() for n in (m.name, *(m.variants or [])))
    ]
    return found[0] if len(found) == 1 else None


def _operator_question_of(req: ConsoleRequest) -> ColumnElement[bool]:
    return InspraakQuestion.sender_operator_id == req.console_session.telegram_user_id


async def _operator_question(req: ConsoleRequest) -> InspraakQuestion:
    """One of this operator's questions; another's (a steunpunt's, another operator's): 404."""
    question = await req.session.get(InspraakQuestion, req.number())
    if (
        question is None
        or question.status == "draft"
        or question.sender_operator_id != req.console_session.telegram_user_id
    ):
        raise NotFound
    return question


async def operator_list(req: ConsoleRequest) -> Page:
    intro = "console_operator_inspraak_intro"
    return await _list(req, OPERATOR_BASE, intro, _operator_question_of(req))


async def operator_detail(req: ConsoleRequest) -> Page:
    return await _detail(req, await _operator_question(req), OPERATOR_BASE)


async def operator_close(req: ConsoleRequest) -> Redirect:
    return await _close(req, await _operator_question(req), OPERATOR_BASE)


def _operator_form(req: ConsoleRequest, errors: list[str], status: int = 200) -> Page:
    typed = req.form.get("municipality", req.query.get("municipality", ""))
    return _form(req, OPERATOR_BASE, [], errors, status, ask_municipality=True,
                 municipality=typed)  # fmt: skip


async def operator_new(req: ConsoleRequest) -> Page:
    return _operator_form(req, [])


async def _operator_draft(req: ConsoleRequest) -> tuple[InspraakQuestion, list[str]]:
    """The form as an unsaved question of the operator to one municipality, checked with the
    chat's rules."""
    question, options, errors = _checked(req)
    place = await find_municipality(req, req.form.get("municipality", ""))
    if place is None:
        errors.insert(0, req.texts.get("console_operator_inspraak_unknown_municipality"))
    draft = InspraakQuestion(
        status="draft", step="confirm", steunpunt_key=None,
        municipality_codes=[place.code] if place else [],
        source_name=req.texts.get("inspraak_operator_source",
                                  municipality=place.name if place else ""),
        question=question, options=options,
        allow_comment=req.form.get("allow_comment") == "yes", sender_member_id=None,
        sender_operator_id=req.console_session.telegram_user_id,
        sender_caregiver_id=req.caregiver.id, sender_name=req.display_name, created_at=req.now,
    )  # fmt: skip
    return draft, errors


def _municipality_field(draft: InspraakQuestion) -> list[tuple[str, str]]:
    return [("municipality", code) for code in draft.municipality_codes]


async def operator_preview(req: ConsoleRequest) -> Page:
    draft, errors = await _operator_draft(req)
    if errors:
        return _operator_form(req, errors, 422)
    return await _preview(req, draft, OPERATOR_BASE, _municipality_field(draft))


async def operator_send(req: ConsoleRequest) -> Page | Redirect:
    draft, errors = await _operator_draft(req)
    if errors:
        return _operator_form(req, errors, 422)
    return await _send(req, draft, OPERATOR_BASE, _municipality_field(draft))


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
        ConsolePage("operator/inspraak", operator_list, role="operator",
                    nav_key="console_nav_operator_inspraak", order=95),
        ConsolePage("operator/inspraak/new", operator_new, role="operator"),
        ConsolePage("operator/inspraak/preview", operator_preview, role="operator",
                    method="POST"),
        ConsolePage("operator/inspraak/send", operator_send, role="operator", method="POST"),
        ConsolePage(r"operator/inspraak/{id:\d+}", operator_detail, role="operator"),
        ConsolePage(r"operator/inspraak/{id:\d+}/close", operator_close, role="operator",
                    method="POST"),
    )  # fmt: skip
