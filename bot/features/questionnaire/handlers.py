"""Runs the YAML dialogs for caregivers: start or resume, apply answers, store them, finish.

Also the scored-questionnaire result (score, band, next steps, humans to contact, the change since
last time) and `/resultaten`. Any dialog file with a `command` becomes a command and a menu entry.

"Alleen bekijken" (a dialog with `view_only`, for who has not consented): no run, no answers,
no result. The position lives in the caregiver's `dialog_state` row with `run_id` NULL, the
mark of a view-only pass; the row goes at the result and at "stop", and the retention sweep
removes one left halfway after a day (`PersonalData.transient`). One row like any dialog's keeps
the router, back, resume and double taps as they are, instead of a second way to hold a place.

Dialogs that prepare work (`keeps_answers: false`: a staff member's notice or family evening)
run here the same way, with their feature's hooks (`Registry.checks`, `fills`, `guards`): no
run and no answers are stored, only the place and the answers so far in `dialog_state` (so a
restart loses nothing; untouched for a day it goes, like a view-only pass); the end actions do
the work, and "stop" runs the dialog's `on_stop` action, the draft forgotten.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.app.dispatch import Context
from bot.app.registry import InputOwner, MenuEntry, PersonalData, Registry, suggested
from bot.app.router import close_step, current_step, open_step, place_with_step
from bot.db.models import Answer, DialogRun, DialogState, Result
from bot.db.places import Place, add_answers, read_place, remove_place, write_place
from bot.distress import DistressIntent, crisis_reply, own_steunpunt_card
from bot.engine.codec import ANY, ButtonCodec
from bot.engine.flow import (
    BACK,
    PAUSE,
    Event,
    Hooks,
    Outcome,
    State,
    advance,
    apply_word,
    fill,
    parse_button,
    question,
    start,
    typed_option,
)
from bot.engine.output import Button, OutMessage, Reply, command_button, rows
from bot.engine.spec import Band, Dialog
from bot.features.onboarding.handlers import OPTIONS, consent_question
from bot.text.content import Texts

RESULT_ACTION = "questionnaire.result"
# The open step of a running dialog; any kind of input reaches it (a sticker is answered too).
STEP_OWNER = "dialog"
STEP_EXPECTS = ("text", "location", "contact", "unsupported")
RESULTS_SHOWN = 10
# qv:<dialog id>: "Alleen bekijken, niets bewaren".
VIEW_BUTTONS = ButtonCodec("qv", {ANY: ()})


def _view_only(row: Place, dialog: Dialog) -> bool:
    return row.run_id is None and dialog.keeps_answers


def hooks(ctx: Context, dialog: Dialog) -> Hooks:
    """The hooks `dialog` names, bound to this update (language, core, time)."""
    registry = ctx.core.registry
    checks = {
        step.check: registry.checks[step.check](ctx)
        for step in dialog.steps.values()
        if step.check in registry.checks
    }
    values = registry.fills[dialog.fill](ctx) if dialog.fill else None
    shows = {
        step.show: registry.shows[step.show](ctx) for step in dialog.steps.values() if step.show
    }
    return Hooks(values, checks, shows)


async def open_dialog(
    ctx: Context,
    dialog: Dialog,
    view_only: bool = False,
    *,
    given: dict[str, str] | None = None,
    at: str | None = None,
    answers: dict[str, str] | None = None,
    fresh: bool = False,
) -> Reply:
    """Start `dialog`, or resume it at the same question with earlier answers kept; with
    `view_only` (no consent, a dialog that allows it) nothing is stored. `fresh` starts over
    (an earlier unfinished pass is forgotten), at step `at` if given, with the feature's facts
    `given` (`State.given`) and the `answers` so far (e.g. a draft asked again at one step)."""
    if dialog.requires_consent and not ctx.has_consent and not (view_only and dialog.view_only):
        return Reply().add(_consent_needed(ctx, dialog))
    # Without consent, a dialog that does not need it runs view-only too: nothing is stored.
    view_only = (view_only or not dialog.requires_consent) and not ctx.has_consent
    view_only = view_only and dialog.keeps_answers
    row = await read_place(ctx.session, ctx.caregiver.id, dialog.id)
    # Starting over, or a view-only pass after consent (a stored one without): the old place
    # is replaced below.
    if row is not None and (fresh or _view_only(row, dialog) != view_only):
        row = None
    if row is not None and row.dialog_version == dialog.version:
        state = State.from_json(dialog.id, dialog.version, row.data)
        state.paused = False
        row.data = state.to_json()
        row.updated_at = ctx.now
        await write_place(ctx.session, ctx.caregiver.id, row)
        await _hold_step(ctx, dialog)
        return Reply().add(
            OutMessage(ctx.texts.dialog_message(dialog, "resumed")),
            *question(dialog, state, ctx.texts, hooks(ctx, dialog)),
        )
    run_id = None
    if not view_only and dialog.keeps_answers:
        run = DialogRun(
            caregiver_id=ctx.caregiver.id,
            dialog_id=dialog.id,
            dialog_version=dialog.version,
            started_at=ctx.now,
        )
        ctx.session.add(run)
        await ctx.session.flush()
        run_id = run.id
    state = start(dialog, given, at)
    state.answers.update(answers or {})
    place = Place(dialog.id, dialog.version, run_id, state.to_json(), ctx.now)
    await write_place(ctx.session, ctx.caregiver.id, place)
    await _hold_step(ctx, dialog)
    reply = Reply()
    bound = hooks(ctx, dialog)
    if dialog.intro and not (view_only and dialog.view_only):
        reply.add(OutMessage(fill(dialog, state, dialog.intro, ctx.texts, bound)))
    if view_only:
        # A dialog offered "alleen bekijken" says it instead of its intro; one that needs no
        # consent says it after.
        reply.add(OutMessage(ctx.texts.dialog_message(dialog, "view_only_intro")))
    return reply.add(*question(dialog, state, ctx.texts, bound))


def _consent_needed(ctx: Context, dialog: Dialog) -> OutMessage:
    """The consent question before a dialog that stores answers; beside it "Alleen bekijken,
    niets bewaren" when the dialog allows that."""
    then = dialog.command or ""
    if not dialog.view_only:
        return consent_question(ctx, "consent_needed", then=then)
    text = f"{ctx.texts.get('consent_needed')}\n\n{ctx.texts.get('view_only_offer')}"
    view = Button(ctx.texts.get("view_only_button"), VIEW_BUTTONS.pack(dialog.id))
    return consent_question(ctx, then=then, text=text, extra=(view,))


async def on_view_only(ctx: Context, event: Event) -> Reply:
    """ "Alleen bekijken, niets bewaren" pressed: the dialog without storing anything."""
    pressed = VIEW_BUTTONS.unpack(event.text)
    dialog = ctx.content.dialogs.get(pressed.action) if pressed is not None else None
    if dialog is None or not dialog.view_only:
        return ctx.stale_button()
    reply = await open_dialog(ctx, dialog, view_only=True)
    reply.pressed_label = ctx.texts.get("view_only_button")
    return reply


async def _hold_step(ctx: Context, dialog: Dialog) -> None:
    """This dialog is the one open step: what is typed next answers its question."""
    await open_step(ctx, STEP_OWNER, STEP_EXPECTS, detail=dialog.id)


async def asking(ctx: Context) -> Place | None:
    """The place in the dialog that holds the open step, if one does."""
    step = await current_step(ctx)
    if step is None or step.owner != STEP_OWNER or step.detail is None:
        return None
    return await read_place(ctx.session, ctx.caregiver.id, step.detail)


async def continue_dialog(ctx: Context, event: Event, row: Place | None = None) -> Reply | None:
    """An event for the dialog that asks (button, typed text, sticker...); None when no dialog
    asks any more."""
    row = row or await asking(ctx)
    if row is None:
        return None
    dialog = ctx.content.dialogs.get(row.dialog_id)
    if dialog is None or dialog.version != row.dialog_version:
        # The dialog file changed under an open dialog: its old questions no longer exist.
        await remove_place(ctx.session, ctx.caregiver.id, row.dialog_id)
        return ctx.stale_button()
    state = State.from_json(dialog.id, dialog.version, row.data)
    if not await _allowed(ctx, dialog, row, state):
        return None
    outcome = advance(dialog, state, event, ctx.texts, ctx.now, hooks(ctx, dialog))
    await _store(ctx, dialog, row, outcome)
    if outcome.urgent and not outcome.completed:
        # "Ik kan niet meer" as an answer: the humans to contact before the next question.
        crisis = await crisis_reply(ctx, DistressIntent.EXHAUSTION)
        outcome.reply.messages[0:0] = crisis.messages
    return outcome.reply


async def _allowed(ctx: Context, dialog: Dialog, row: Place, state: State) -> bool:
    """The dialog's guard, if it has one: when it says no (e.g. no longer staff), the dialog
    is closed and nothing is done."""
    if dialog.guard is None or await ctx.core.registry.guards[dialog.guard](ctx, state):
        return True
    await close_step(ctx, STEP_OWNER)
    await remove_place(ctx.session, ctx.caregiver.id, row.dialog_id)
    return False


async def _store(ctx: Context, dialog: Dialog, row: Place, outcome: Outcome) -> None:
    view_only = _view_only(row, dialog)
    kept = outcome.recorded if dialog.keeps_answers and not view_only else []
    answers = [
        {
            "run_id": row.run_id,
            "caregiver_id": ctx.caregiver.id,
            "dialog_id": dialog.id,
            "question_id": recorded.step,
            "value": recorded.value,
            "score": recorded.score,
            "answered_at": ctx.now,
        }
        for recorded in kept
    ]
    if not outcome.completed and not (outcome.state.paused and view_only):
        # The usual press: the answer and the next place, together.
        row.data = outcome.state.to_json()
        row.updated_at = ctx.now
        await write_place(ctx.session, ctx.caregiver.id, row, answers)
        if outcome.state.paused:
            await close_step(ctx, STEP_OWNER)
        else:
            await _hold_step(ctx, dialog)
        return
    await add_answers(ctx.session, answers)
    if not outcome.completed:
        # Nothing is kept, not even the place: a view-only pass ends at "stop".
        await close_step(ctx, STEP_OWNER)
        await remove_place(ctx.session, ctx.caregiver.id, row.dialog_id)
        stopped = ctx.texts.dialog_message(dialog, "view_only_stopped")
        outcome.reply.messages[:] = [OutMessage(stopped)]
        outcome.reply.add(ctx.menu_message())
        return
    await close_step(ctx, STEP_OWNER)
    run = await ctx.session.get(DialogRun, row.run_id) if row.run_id is not None else None
    if run is not None and outcome.action != dialog.on_stop:
        run.completed_at = ctx.now
    await remove_place(ctx.session, ctx.caregiver.id, row.dialog_id)
    action = ctx.core.registry.actions[outcome.action or ""]
    outcome.reply.add(*await action(ctx, dialog, run, outcome.state))


async def on_step_word(ctx: Context, event: Event) -> Reply:
    """ "stop" or "terug" typed while a dialog asks: the same as its Stoppen / Vorige button."""
    row = await asking(ctx)
    dialog = ctx.content.dialogs.get(row.dialog_id) if row is not None else None
    if row is None or dialog is None:
        await close_step(ctx, STEP_OWNER)
        return Reply().add(ctx.menu_message())
    state = State.from_json(dialog.id, dialog.version, row.data)
    if not await _allowed(ctx, dialog, row, state):
        return Reply().add(ctx.menu_message())
    word = PAUSE if event.text == "stop" else BACK
    outcome = apply_word(dialog, state, word, ctx.texts, hooks(ctx, dialog))
    await _store(ctx, dialog, row, outcome)
    return outcome.reply


async def is_own_answer(ctx: Context, event: Event) -> bool:
    """Typed text that is exactly an answer of the open question (its button label)."""
    row = await asking(ctx)
    dialog = ctx.content.dialogs.get(row.dialog_id) if row is not None else None
    if row is None or dialog is None or dialog.version != row.dialog_version:
        return False
    state = State.from_json(dialog.id, dialog.version, row.data)
    return typed_option(dialog, state, event.text, ctx.texts, hooks(ctx, dialog)) is not None


async def on_dialog_button(ctx: Context, event: Event) -> Reply:
    parsed = parse_button(event.text)
    row = await place_with_step(ctx, parsed[0]) if parsed is not None else None
    reply = await continue_dialog(ctx, event, row) if row is not None else None
    # None: a button of a finished dialog (or forged): nothing is asked there any more.
    return reply or ctx.stale_button()


def _score(dialog: Dialog, state: State) -> tuple[int, bool]:
    total, urgent = 0, False
    for step_id, value in state.answers.items():
        for option in dialog.steps[step_id].options:
            if option.value == value:
                total += option.score or 0
                urgent = urgent or option.urgent
    return total, urgent


def _trend_key(previous: Result, score: int, max_score: int) -> str:
    before = previous.score / previous.max_score if previous.max_score else 0.0
    now = score / max_score if max_score else 0.0
    if abs(now - before) < 0.05:
        return "same"
    return "heavier" if now > before else "lighter"


def lifted_band(dialog: Dialog, score: int, urgent: bool) -> Band:
    """The band of `score`; an urgent answer ("ik kan niet meer") makes it at least the
    second-heaviest, so a result never sounds lighter than what the caregiver just said."""
    band = dialog.band_for(score)
    if urgent and len(dialog.bands) >= 2:
        floor = sorted(dialog.bands, key=lambda b: b.min)[-2]
        if band.min < floor.min:
            return floor
    return band


def _heavy(dialog: Dialog, band: Band) -> bool:
    ordered = sorted(dialog.bands, key=lambda b: b.min)
    return ordered.index(band) >= len(ordered) // 2


async def questionnaire_result(
    ctx: Context, dialog: Dialog, run: DialogRun | None, state: State
) -> list[OutMessage]:
    """Score the answers, store the Result, and explain it with next steps and humans to contact.

    A heavy result shows the caregiver's own steunpunt (its card, or a button to find it); an
    urgent answer lifts the band (`lifted_band`) and brings the contacts of acute exhaustion.
    Each contact is named once. Without a run (view only) nothing is stored or compared, and the
    result says so and offers consent.
    """
    texts = ctx.texts
    score, urgent = _score(dialog, state)
    band = lifted_band(dialog, score, urgent)
    previous = None
    if run is not None:
        previous = (
            await ctx.session.execute(
                select(Result)
                .where(Result.caregiver_id == ctx.caregiver.id, Result.dialog_id == dialog.id)
                .order_by(Result.completed_at.desc(), Result.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
    if run is not None and ctx.has_consent:
        ctx.session.add(
            Result(
                run_id=run.id,
                caregiver_id=ctx.caregiver.id,
                dialog_id=dialog.id,
                score=score,
                max_score=dialog.max_score,
                band=band.id,
                flags={"urgent": urgent},
                completed_at=ctx.now,
            )
        )
    # The first line stays neutral: a notification preview must not show the outcome.
    lines = [
        texts.dialog_message(dialog, "result_intro"),
        "",
        texts.get("result_score", band=texts.tr(band.title), score=score, max=dialog.max_score),
    ]
    if urgent:
        lines.append(texts.dialog_message(dialog, "result_urgent", band=texts.tr(band.title)))
    lines.append(texts.tr(band.meaning))
    if previous is not None:
        key = _trend_key(previous, score, dialog.max_score)
        lines += [
            "",
            texts.get(f"trend_{key}", date=texts.translator.format_date(previous.completed_at)),
        ]
    if band.next_steps:
        lines += [
            "",
            texts.get("result_next_steps"),
            *(f"• {texts.tr(s)}" for s in band.next_steps),
        ]
    disclaimer = texts.get("result_disclaimer" if run is not None else "view_only_result")
    lines += ["", f"<i>{disclaimer}</i>"]
    messages = [OutMessage("\n".join(lines))]
    contacts = list(band.contacts)
    if urgent:
        contacts += ctx.content.distress.rule(DistressIntent.EXHAUSTION).contacts
    contacts = list(dict.fromkeys(contacts))
    heavy = _heavy(dialog, band)
    find_steunpunt = False
    if heavy:
        card = await own_steunpunt_card(ctx)
        if card is not None:
            messages.append(card)
            contacts = [c for c in contacts if c != "steunpunt"]
        else:
            find_steunpunt = "steunpunt" in ctx.core.registry.commands
    buttons = [command_button(texts.get("button_menu"), "menu")]
    if run is None and not ctx.has_consent:
        buttons.insert(0, Button(texts.get("privacy_give"), OPTIONS.pack("consent", "yes")))
    if find_steunpunt:
        buttons.insert(0, command_button(texts.get("distress_find_steunpunt"), "steunpunt"))
    if previous is None and ctx.has_consent and "checkin" in ctx.core.registry.commands:
        # After the first self-check: offer to ask again regularly (the check-ins feature).
        buttons.insert(0, command_button(texts.get("checkin_offer_button"), "checkin"))
    if heavy and "respijt" in ctx.core.registry.commands:
        # A heavy result: letting someone take over the care for a while is the next step.
        buttons.insert(0, command_button(texts.get("button_respite"), "respijt"))
    if heavy:
        # A guide that fits the answers (e.g. work), offered once (`registry.suggestions`).
        buttons[-1:-1] = await suggested(ctx, f"{dialog.id}.heavy", state.answers)
    if contacts:
        text = "\n".join([texts.get("result_contacts"), *texts.contact_lines(contacts)])
        messages.append(OutMessage(text, rows(*buttons)))
    else:
        last = messages[-1]
        messages[-1] = OutMessage(last.text, (*last.buttons, *rows(*buttons)))
    return messages


def results_text(texts: Texts, results: list[Result], dialogs: dict[str, Dialog]) -> str:
    lines = [texts.get("results_title")]
    ordered = sorted(results, key=lambda r: (r.completed_at, r.id))
    for index, result in enumerate(ordered):
        dialog = dialogs.get(result.dialog_id)
        band = next((b for b in dialog.bands if b.id == result.band), None) if dialog else None
        line = texts.get(
            "results_line",
            date=texts.translator.format_date(result.completed_at),
            band=texts.tr(band.title) if band else result.band,
            score=result.score,
            max=result.max_score,
        )
        earlier = [r for r in ordered[:index] if r.dialog_id == result.dialog_id]
        if earlier:
            key = _trend_key(earlier[-1], result.score, result.max_score)
            arrow = {"heavier": "↑", "lighter": "↓", "same": "→"}[key]
            line += f" {arrow} {texts.get(f'arrow_{key}')}"
        lines.append(line)
    return "\n".join(lines[:1] + lines[1:][-RESULTS_SHOWN:])


async def on_results(ctx: Context, event: Event) -> Reply:
    start_button = rows(command_button(ctx.texts.get("start_selfcheck"), "zelftest"))
    if not ctx.has_consent:
        return Reply().add(OutMessage(ctx.texts.get("results_no_consent"), start_button))
    results = list(
        (
            await ctx.session.execute(select(Result).where(Result.caregiver_id == ctx.caregiver.id))
        ).scalars()
    )
    if not results:
        return Reply().add(OutMessage(ctx.texts.get("results_none"), start_button))
    text = results_text(ctx.texts, results, dict(ctx.content.dialogs))
    return Reply().add(OutMessage(text, rows(command_button(ctx.texts.get("button_menu"), "menu"))))


def register(registry: Registry, dialogs: dict[str, Dialog]) -> None:
    registry.actions[RESULT_ACTION] = questionnaire_result
    # The engine's tables: every dialog's position, runs, answers and results.
    registry.add_personal_data(
        PersonalData(
            DialogState,
            DialogState.caregiver_id,
            label="kept_dialog_state",
            # A view-only pass left halfway: only a place, removed after a day.
            transient=DialogState.run_id.is_(None),
            transient_since=DialogState.updated_at,
        ),
        PersonalData(
            DialogRun, DialogRun.caregiver_id, label="kept_dialog_run", timed=DialogRun.started_at
        ),
        PersonalData(Answer, Answer.caregiver_id, label="kept_answer", timed=Answer.answered_at),
        PersonalData(Result, Result.caregiver_id, label="kept_result", timed=Result.completed_at),
    )
    registry.buttons["q"] = on_dialog_button
    registry.buttons[VIEW_BUTTONS.prefix] = on_view_only
    registry.inputs[STEP_OWNER] = InputOwner(
        continue_dialog, stop=on_step_word, back=on_step_word, own_answer=is_own_answer
    )
    for dialog in dialogs.values():
        if dialog.command:
            registry.commands[dialog.command] = _opener(dialog.id)
            if dialog.menu_label:
                registry.menu.append(
                    MenuEntry(dialog.command, None, dialog.menu_order, label=dialog.menu_label)
                )


def _opener(dialog_id: str):
    async def open_(ctx: Context, event: Event) -> Reply:
        return await open_dialog(ctx, ctx.content.dialogs[dialog_id])

    return open_
