"""Inspraak in the chat. Staff of a steunpunt: `/inspraak` lists their questions, writes a new one
(the question, then its choices, whether a comment may be added, a preview as caregivers get it)
and sends it as a notice with answer buttons through the notice delivery; closes it; shows the
result. Caregivers: a choice button answers (once), a comment may follow (the open step), and
"Wat gebeurt er met mijn antwoord?" explains.

What staff see is `results` (counts, k >= 10, only once the question is closed) and nothing else.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app.dispatch import Context
from bot.app.registry import InputOwner, MenuEntry, PersonalData, Registry
from bot.app.roles import Scope, scope_name, scopes_of, staff_menu
from bot.app.router import close_step, current_step, open_step
from bot.db.staff import StaffMember
from bot.engine.codec import ButtonCodec
from bot.engine.flow import Event
from bot.engine.output import Button, OutMessage, Reply, command_button, rows
from bot.features.broadcast import delivery
from bot.features.insight.tables import Cell, K, protect
from bot.features.inspraak.models import (
    InspraakAnswered,
    InspraakComment,
    InspraakQuestion,
    InspraakTally,
)
from bot.features.inspraak.scrub import scrub
from bot.text.content import Texts

COMMAND = "inspraak"
# Caregivers: ip:a:<question>:<option> answers, ip:why:<question>, ip:skip:<question> (no comment).
ANSWERS = ButtonCodec("ip", {"a": (int, int), "why": (int,), "skip": (int,)})
# Staff: iq:<action>:<question id> (new: a staff membership id).
STAFF = ButtonCodec(
    "iq", {a: (int,) for a in ("new", "send", "cmt", "edit", "stop", "close", "res")}
)
DRAFT_STEP, COMMENT_STEP = "inspraak.draft", "inspraak.comment"
OPEN_FOR = timedelta(days=14)
COMMENT_TTL = timedelta(hours=2)
QUESTION_LIMIT, OPTION_LIMIT, COMMENT_LIMIT = 200, 40, 500
MIN_OPTIONS, MAX_OPTIONS = 2, 6
LIST_LENGTH = 5
COMMENTS_SHOWN = 20


def is_open(question: InspraakQuestion, now: datetime) -> bool:
    return question.status == "open" and (question.closes_at is None or now < question.closes_at)


def is_closed(question: InspraakQuestion, now: datetime) -> bool:
    return question.status == "closed" or (
        question.status == "open" and question.closes_at is not None and now >= question.closes_at
    )


# ---------------------------------------------------------------- results (what staff see)


@dataclass(frozen=True)
class Results:
    """A question's outcome as staff may see it: the number of answers (None below `K`), the
    count per choice (hidden as in every table: below `K`, or to protect another), and the
    comments once at least `K` answered, alphabetically (no order of arrival). Nothing in it
    is per caregiver."""

    question: str
    options: tuple[tuple[str, Cell], ...]
    answers: Cell
    comments: tuple[str, ...]
    closed: bool


async def results(session: AsyncSession, question: InspraakQuestion, now: datetime) -> Results:
    """The result of `question`; per choice only once it is closed (while it is open, a count
    going up by one after someone said they answered would tell their choice)."""
    tallies = dict(
        (
            await session.execute(
                select(InspraakTally.option, InspraakTally.count).where(
                    InspraakTally.question_id == question.id
                )
            )
        ).all()
    )
    values: dict[object, int] = {i: int(tallies.get(i, 0)) for i in range(len(question.options))}
    values["total"] = sum(values.values())
    closed = is_closed(question, now)
    hidden = protect(values, [("total", list(range(len(question.options))))])
    total = values["total"]
    answers = Cell(None if "total" in hidden else total)
    options = tuple(
        (label, Cell(values[i] if closed and i not in hidden else None))
        for i, label in enumerate(question.options)
    )
    comments: tuple[str, ...] = ()
    if closed and total >= K:
        comments = tuple(
            sorted(
                await session.scalars(
                    select(InspraakComment.text).where(InspraakComment.question_id == question.id)
                ),
                key=str.casefold,
            )
        )
    return Results(question.question, options, answers, comments, closed)


def results_text(texts: Texts, found: Results) -> str:
    too_few = texts.get("insight_too_few")
    lines = [texts.get("inspraak_results_title", question=found.question)]
    answers = found.answers.count
    lines.append(
        texts.get("inspraak_results_answers", count=answers)
        if answers is not None
        else texts.get("inspraak_results_few_answers", k=K)
    )
    if not found.closed:
        lines.append(texts.get("inspraak_results_when_closed"))
    else:
        for label, cell in found.options:
            value = str(cell.count) if cell.count is not None else too_few
            lines.append(f"• {escape(label)}: {value}")
    if found.comments:
        lines += ["", texts.get("inspraak_results_comments")]
        lines += [f"– {escape(c)}" for c in found.comments[:COMMENTS_SHOWN]]
        if len(found.comments) > COMMENTS_SHOWN:
            lines.append(texts.get("inspraak_results_more", count=len(found.comments)))
    elif found.closed and answers is not None:
        lines.append(texts.get("inspraak_results_no_comments"))
    lines += ["", texts.get("insight_k_note", k=K)]
    return "\n".join(lines)


# ---------------------------------------------------------------- staff: list and write


async def steunpunt_scopes(ctx: Context) -> list[Scope]:
    return [s for s in await scopes_of(ctx) if s.steunpunt_key]


async def my_question(ctx: Context, question_id: int) -> InspraakQuestion | None:
    """The question, when it belongs to a steunpunt this staff member still holds."""
    question = await ctx.session.get(InspraakQuestion, question_id)
    keys = {s.steunpunt_key for s in await steunpunt_scopes(ctx)}
    if question is None or question.steunpunt_key not in keys:
        return None
    return question


async def my_draft(ctx: Context) -> InspraakQuestion | None:
    draft = (
        await ctx.session.scalars(
            select(InspraakQuestion)
            .where(
                InspraakQuestion.status == "draft",
                InspraakQuestion.sender_caregiver_id == ctx.caregiver.id,
            )
            .order_by(InspraakQuestion.id.desc())
            .limit(1)
        )
    ).first()
    return draft if draft is not None and await my_question(ctx, draft.id) else None


async def on_command(ctx: Context, event: Event) -> Reply:
    """`/inspraak`: my steunpunt's questions (status, answers), and a new one."""
    texts = ctx.texts
    scopes = await steunpunt_scopes(ctx)
    if not scopes:
        return Reply().add(staff_menu(ctx, texts.get("inspraak_only_steunpunt")))
    questions = list(
        await ctx.session.scalars(
            select(InspraakQuestion)
            .where(
                InspraakQuestion.status != "draft",
                InspraakQuestion.steunpunt_key.in_([s.steunpunt_key for s in scopes]),
            )
            .order_by(InspraakQuestion.id.desc())
            .limit(LIST_LENGTH)
        )
    )
    lines = [texts.get("inspraak_intro", k=K)]
    buttons = []
    for scope in scopes:
        name = await scope_name(ctx.session, scope.steunpunt_key, None)
        label = texts.get("inspraak_new_for", source=name) if len(scopes) > 1 else None
        buttons.append(
            Button(label or texts.get("inspraak_new"), STAFF.pack("new", scope.member_id))
        )
    for question in questions:
        found = await results(ctx.session, question, ctx.now)
        status = "closed" if found.closed else "open"
        answers = found.answers.count
        lines.append(
            texts.get(
                f"inspraak_list_{status}",
                question=question.question,
                answers=answers if answers is not None else texts.get("inspraak_fewer", k=K),
                date=texts.translator.format_date(
                    question.closed_at or question.closes_at or ctx.now
                ),
            )
        )
        short = question.question[:30] + ("…" if len(question.question) > 30 else "")
        show = texts.get("inspraak_show", question=short)
        buttons.append(Button(show, STAFF.pack("res", question.id)))
        if not found.closed:
            close = texts.get("inspraak_close", question=short)
            buttons.append(Button(close, STAFF.pack("close", question.id)))
    buttons.append(command_button(texts.get("button_menu"), "menu"))
    return Reply().add(OutMessage("\n\n".join(lines), rows(*buttons)))


async def new_draft(ctx: Context, scope: Scope) -> InspraakQuestion:
    member = await ctx.session.get(StaffMember, scope.member_id)
    assert scope.steunpunt_key is not None
    draft = InspraakQuestion(
        status="draft", step="question", steunpunt_key=scope.steunpunt_key, municipality_codes=[],
        source_name=await scope_name(ctx.session, scope.steunpunt_key, None), question="",
        options=[], allow_comment=True, sender_member_id=scope.member_id,
        sender_caregiver_id=ctx.caregiver.id,
        sender_name=(member.display_name if member else "") or ctx.display_name,
        created_at=ctx.now,
    )  # fmt: skip
    ctx.session.add(draft)
    await ctx.session.flush()
    return draft


def draft_buttons(ctx: Context, draft: InspraakQuestion) -> tuple[tuple[Button, ...], ...]:
    return rows(Button(ctx.texts.get("inspraak_stop"), STAFF.pack("stop", draft.id)))


async def show_draft(ctx: Context, draft: InspraakQuestion) -> Reply:
    texts = ctx.texts
    if draft.step in ("question", "options"):
        await open_step(ctx, DRAFT_STEP, ("text",), timedelta(hours=24))
        key = "inspraak_ask_question" if draft.step == "question" else "inspraak_ask_options"
        return Reply().add(
            OutMessage(
                texts.get(key, source=draft.source_name, limit=OPTION_LIMIT),
                draft_buttons(ctx, draft),
                expects="text",
            )
        )
    await close_step(ctx, DRAFT_STEP)
    return await preview(ctx, draft)


def notice_extra(draft: InspraakQuestion) -> dict[str, object]:
    """The answer buttons and the note of the question's notice (an unsaved draft, shown as a
    preview only, gets buttons of question 0, which answer nothing)."""
    number = draft.id or 0
    answers = [
        [(ANSWERS.pack("a", number, i), label, False)] for i, label in enumerate(draft.options)
    ]
    why = [(ANSWERS.pack("why", number), "inspraak_why_button", True)]
    return delivery.extras("inspraak_note", [*answers, why])


def question_html(draft: InspraakQuestion) -> str:
    """The notice's own text: the question as staff typed it (the note under it is translated
    for each caregiver; the question is not)."""
    return f"<b>{escape(draft.question)}</b>"


async def preview(ctx: Context, draft: InspraakQuestion) -> Reply:
    texts = ctx.texts
    count = await delivery.audience_size(
        ctx.session, draft.steunpunt_key, list(draft.municipality_codes or [])
    )
    notice = delivery.notice_of(texts, draft.source_name, question_html(draft), notice_extra(draft))
    comment = "inspraak_comment_on" if draft.allow_comment else "inspraak_comment_off"
    buttons = []
    if count >= K:
        send_label = texts.get("inspraak_send", count=count)
        buttons.append(Button(send_label, STAFF.pack("send", draft.id)))
    buttons += [
        Button(texts.get(comment), STAFF.pack("cmt", draft.id)),
        Button(texts.get("inspraak_edit"), STAFF.pack("edit", draft.id)),
        Button(texts.get("inspraak_stop"), STAFF.pack("stop", draft.id)),
    ]
    confirm = (
        texts.get("inspraak_confirm", count=count, days=OPEN_FOR.days)
        if count >= K
        else texts.get("inspraak_too_small", count=count, k=K)
    )
    return Reply().add(
        OutMessage(texts.get("inspraak_preview_intro")),
        OutMessage(notice.text),  # the answer buttons work only on the notice itself
        OutMessage(confirm, rows(*buttons)),
    )


def _plain_line(text: str) -> str:
    return " ".join(text.split())


async def on_draft_input(ctx: Context, event: Event) -> Reply | None:
    if event.kind != "text":
        return None
    draft = await my_draft(ctx)
    if draft is None or draft.step not in ("question", "options"):
        return None
    texts = ctx.texts
    stop = draft_buttons(ctx, draft)
    if draft.step == "question":
        question, problem = check_question(texts, event.text)
        if problem:
            return Reply().add(OutMessage(problem, stop, expects="text"))
        draft.question, draft.step = question, "options"
        return await show_draft(ctx, draft)
    options, problem = check_options(texts, event.text)
    if problem:
        return Reply().add(OutMessage(problem, stop, expects="text"))
    draft.options, draft.step = options, "confirm"
    return await show_draft(ctx, draft)


def check_question(texts: Texts, typed: str) -> tuple[str, str]:
    """(the question on one line, "") or ("", what is wrong): the chat and the console."""
    question = _plain_line(typed)
    if not question or len(question) > QUESTION_LIMIT:
        return "", texts.get("inspraak_question_too_long", limit=QUESTION_LIMIT)
    return question, ""


def check_options(texts: Texts, typed: str) -> tuple[list[str], str]:
    """(the choices, one a line, "") or ([], what is wrong)."""
    options = [_plain_line(line).lstrip("-•*· ").strip() for line in typed.splitlines()]
    options = [o for o in options if o]
    unique = len({o.casefold() for o in options}) == len(options)
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS or not unique:
        return [], texts.get("inspraak_options_count", low=MIN_OPTIONS, high=MAX_OPTIONS)
    if any(len(o) > OPTION_LIMIT for o in options):
        return [], texts.get("inspraak_option_too_long", limit=OPTION_LIMIT)
    return options, ""


async def on_draft_stop(ctx: Context, event: Event) -> Reply:
    draft = await my_draft(ctx)
    await close_step(ctx, DRAFT_STEP)
    if draft is not None:
        await ctx.session.delete(draft)
    return Reply().add(staff_menu(ctx, ctx.texts.get("inspraak_stopped")))


async def on_staff_button(ctx: Context, event: Event) -> Reply:
    pressed = STAFF.unpack(event.text)
    if pressed is None:
        return ctx.stale_button()
    action, number = pressed.action, pressed.number(0)
    texts = ctx.texts
    if action == "new":
        scope = next((s for s in await steunpunt_scopes(ctx) if s.member_id == number), None)
        if scope is None:
            return ctx.stale_button()
        old = await my_draft(ctx)
        if old is not None:
            await ctx.session.delete(old)
        reply = await show_draft(ctx, await new_draft(ctx, scope))
        reply.pressed_label = texts.get("inspraak_new")
        return reply
    question = await my_question(ctx, number)
    if question is None:
        return ctx.stale_button()
    if action == "res" and question.status != "draft":
        found = await results(ctx.session, question, ctx.now)
        return Reply().add(
            OutMessage(
                results_text(texts, found),
                rows(command_button(texts.get("inspraak_back"), COMMAND)),
            )
        )
    if action == "close" and await close_question(question, ctx.now):
        found = await results(ctx.session, question, ctx.now)
        return Reply(pressed_label=texts.get("inspraak_closed_label")).add(
            OutMessage(
                texts.get("inspraak_closed_now") + "\n\n" + results_text(texts, found),
                rows(command_button(texts.get("inspraak_back"), COMMAND)),
            )
        )
    if question.status != "draft" or question.sender_caregiver_id != ctx.caregiver.id:
        return ctx.stale_button()
    if action == "stop":
        return await on_draft_stop(ctx, event)
    if action == "edit":
        question.step = "question"
        return await show_draft(ctx, question)
    if action == "cmt" and question.step == "confirm":
        question.allow_comment = not question.allow_comment
        return await preview(ctx, question)
    if action == "send" and question.step == "confirm":
        return await send(ctx, question)
    return ctx.stale_button()


async def send(ctx: Context, draft: InspraakQuestion) -> Reply:
    texts = ctx.texts
    opened = await open_question(ctx.session, texts, draft, ctx.now, ctx.caregiver.chat_id)
    if opened is None:
        return await preview(ctx, draft)
    count, sent_to = opened
    assert draft.closes_at is not None
    closes = texts.translator.format_date(draft.closes_at)
    key = "inspraak_sent" if sent_to is not None else "inspraak_sent_morning"
    return Reply(pressed_label=texts.get("inspraak_send", count=count)).add(
        staff_menu(ctx, texts.get(key, count=sent_to or count, date=closes))
    )


async def open_question(
    session: AsyncSession,
    texts: Texts,
    draft: InspraakQuestion,
    now: datetime,
    report_chat_id: int | None,
    operators: Collection[int] = (),
) -> tuple[int, int | None] | None:
    """Send `draft` as a notice of its steunpunt, or of the operator to its municipality (at
    08:00 when it is night) and open it for answers; (audience, recipients or None while it
    waits), or None when fewer than `K` would get it (no result could ever be shown). The chat
    and the console pages (staff's and the operator's) all send this way; `operators` as in
    `delivery.start` (an operator's question is sent only while they are one)."""
    count = await delivery.audience_size(
        session, draft.steunpunt_key, list(draft.municipality_codes or [])
    )
    if count < K:
        return None
    for option in range(len(draft.options)):
        session.add(InspraakTally(question_id=draft.id, option=option, count=0))
    assert draft.sender_caregiver_id is not None
    scope: Scope | None = None
    if draft.steunpunt_key is not None:
        assert draft.sender_member_id is not None
        scope = Scope(draft.sender_member_id, draft.steunpunt_key, None)
    else:
        assert draft.sender_operator_id is not None and draft.municipality_codes
    notice = await delivery.new_notice(
        session, scope, now,
        text_html=question_html(draft), text_length=len(draft.question),
        audience="municipalities" if draft.municipality_codes else "all",
        municipality_codes=list(draft.municipality_codes or []),
        audience_label=texts.get("inspraak_audience_label", question=draft.question)[:400],
        sender_caregiver_id=draft.sender_caregiver_id, sender_name=draft.sender_name,
        report_chat_id=report_chat_id, extra=notice_extra(draft),
        operator_id=draft.sender_operator_id, source_name=draft.source_name,
    )  # fmt: skip
    sent_to, held_until = await delivery.send_now(session, notice, now, operators)
    start = held_until or now
    draft.status, draft.step, draft.broadcast_id = "open", "done", notice.id
    draft.sent_at, draft.closes_at = start, start + OPEN_FOR
    return count, sent_to


async def close_question(question: InspraakQuestion, now: datetime) -> bool:
    """Close an open question (no more answers; the result per choice may be shown)."""
    if not is_open(question, now):
        return False
    question.status, question.closed_at = "closed", now
    return True


# ---------------------------------------------------------------- caregivers: answering


async def on_answer_button(ctx: Context, event: Event) -> Reply:
    pressed = ANSWERS.unpack(event.text)
    if pressed is None:
        return ctx.stale_button()
    question = await ctx.session.get(InspraakQuestion, pressed.number(0))
    if (
        question is None
        or question.broadcast_id is None
        or not await delivery.was_sent_to(ctx.session, question.broadcast_id, ctx.caregiver.id)
    ):
        return ctx.stale_button()
    texts = ctx.texts
    menu = rows(command_button(texts.get("button_menu"), "menu"))
    if pressed.action == "why":
        return Reply(pressed_label=texts.get("inspraak_why_button")).add(
            OutMessage(texts.get("inspraak_why", source=question.source_name, k=K), menu)
        )
    if pressed.action == "skip":
        await close_step(ctx, COMMENT_STEP)
        return Reply(pressed_label=texts.get("inspraak_no_comment")).add(
            ctx.menu_message("inspraak_thanks_done")
        )
    option = pressed.number(1)
    if not 0 <= option < len(question.options):
        return ctx.stale_button()
    if not is_open(question, ctx.now):
        return Reply().add(OutMessage(texts.get("inspraak_closed"), menu))
    if not ctx.has_consent:
        return Reply().add(OutMessage(texts.get("inspraak_needs_consent"), menu))
    if await ctx.session.get(InspraakAnswered, (question.id, ctx.caregiver.id)) is not None:
        return Reply().add(OutMessage(texts.get("inspraak_already"), menu))
    # Who answered, and apart from it the count of the choice: nothing links the two.
    ctx.session.add(
        InspraakAnswered(question_id=question.id, caregiver_id=ctx.caregiver.id,
                         answered_at=ctx.now, commented=False)
    )  # fmt: skip
    await ctx.session.execute(
        update(InspraakTally)
        .where(InspraakTally.question_id == question.id, InspraakTally.option == option)
        .values(count=InspraakTally.count + 1)
    )
    label = question.options[option]
    thanks = texts.get("inspraak_thanks", choice=label)
    reply = Reply(pressed_label=escape(label))
    if not question.allow_comment:
        return reply.add(OutMessage(thanks, menu))
    await open_step(ctx, COMMENT_STEP, ("text",), COMMENT_TTL, detail=str(question.id))
    skip = Button(texts.get("inspraak_no_comment"), ANSWERS.pack("skip", question.id))
    return reply.add(
        OutMessage(f"{thanks}\n\n{texts.get('inspraak_ask_comment')}", rows(skip), expects="text")
    )


async def on_comment(ctx: Context, event: Event) -> Reply | None:
    step = await current_step(ctx)
    if event.kind != "text" or step is None or not (step.detail or "").isdigit():
        return None
    question_id = int(step.detail or 0)
    answered = await ctx.session.get(InspraakAnswered, (question_id, ctx.caregiver.id))
    question = await ctx.session.get(InspraakQuestion, question_id)
    if answered is None or answered.commented or question is None:
        await close_step(ctx, COMMENT_STEP)
        return None
    texts = ctx.texts
    typed = event.text.strip()
    if len(typed) > COMMENT_LIMIT:
        skip = Button(texts.get("inspraak_no_comment"), ANSWERS.pack("skip", question_id))
        return Reply().add(
            OutMessage(
                texts.get("inspraak_comment_too_long", length=len(typed), limit=COMMENT_LIMIT),
                rows(skip),
                expects="text",
            )
        )
    if not is_open(question, ctx.now):
        await close_step(ctx, COMMENT_STEP)
        return Reply().add(ctx.menu_message("inspraak_closed"))
    kept = scrub(typed)
    ctx.session.add(InspraakComment(id=uuid.uuid4().hex, question_id=question_id, text=kept))
    answered.commented = True
    await close_step(ctx, COMMENT_STEP)
    return Reply().add(
        OutMessage(texts.get("inspraak_comment_kept", comment=kept)),
        ctx.menu_message("inspraak_thanks_done"),
    )


async def on_comment_stop(ctx: Context, event: Event) -> Reply:
    await close_step(ctx, COMMENT_STEP)
    return Reply().add(ctx.menu_message("inspraak_thanks_done"))


def register(registry: Registry) -> None:
    registry.staff_commands[COMMAND] = on_command
    registry.staff_buttons[STAFF.prefix] = on_staff_button
    registry.staff_menu.append(MenuEntry(COMMAND, "inspraak_menu", 12))
    registry.buttons[ANSWERS.prefix] = on_answer_button
    registry.inputs[DRAFT_STEP] = InputOwner(on_draft_input, stop=on_draft_stop)
    registry.inputs[COMMENT_STEP] = InputOwner(
        on_comment, stop=on_comment_stop, back=on_comment_stop
    )
    registry.add_personal_data(
        PersonalData(
            InspraakQuestion,
            InspraakQuestion.sender_caregiver_id,
            label="kept_inspraak_asked",
            outlives_caregiver=True,
        ),
        # Kept when consent is withdrawn: it holds no answer, and without it the same person
        # could answer again and be counted twice. Erased with /vergeetmij and by retention.
        PersonalData(
            InspraakAnswered,
            InspraakAnswered.caregiver_id,
            label="kept_inspraak_answered",
            timed=InspraakAnswered.answered_at,
            kept_without_consent=True,
        ),
    )
