"""Periodic check-ins the caregiver controls: `/checkin` sets a rhythm, a short question arrives on
time (one scheduled row at a time), the answer gets a reply that follows the trend, and
`/resultaten` shows everything as a picture plus a short text.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from babel.dates import get_day_names
from sqlalchemy import delete, select

from bot.app.dispatch import Context
from bot.app.registry import InputOwner, MenuEntry, PersonalData, Registry, suggested
from bot.app.router import close_step, open_step
from bot.db.models import DialogRun, Result
from bot.distress import DistressIntent, crisis_reply
from bot.engine.codec import ButtonCodec
from bot.engine.flow import Event, State
from bot.engine.output import COMMANDS, Button, OutMessage, Reply, command_button, rows
from bot.engine.spec import DIALOGS_DIR, Dialog, load_yaml
from bot.features.checkin.chart import BandArea, ChartLabels, Point, render_chart, scaled
from bot.features.checkin.models import CheckinAnswer, CheckinSchedule
from bot.features.onboarding.handlers import consent_question
from bot.features.questionnaire import handlers as dialogs
from bot.jobs.scheduled import (
    Recurrence,
    ScheduledMessage,
    after_quiet_hours,
    at_local,
    local_date,
    next_occurrence,
    schedule,
)

KIND = "checkin"
COMMAND = "checkin"
# c:sc:<seq>:<score> | c:snz:<seq>:later|tomorrow | c:skip:<seq> | c:chg | c:stop; <seq> is the
# number of the check-in asked, so a button of an older one is recognised.
BUTTONS = ButtonCodec(
    "c",
    {
        "sc": (int, tuple(str(s) for s in range(11))),
        "snz": (int, ("later", "tomorrow")),
        "skip": (int,),
        "chg": (),
        "stop": (),
    },
)
CADENCES = ("weekly", "biweekly", "monthly")
# The set-up is a dialog file (dialogs/checkin_setup.yaml) ending in one of these actions.
SETUP_DIALOG = "checkin_setup"
SAVE_ACTION, PAUSE_ACTION, OFF_ACTION = "checkin.save", "checkin.pause", "checkin.off"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # the day step's values, Monday first
SCORES = range(11)
NOTE_MAX = 500
# The open step while the optional note after a check-in may be typed.
NOTE_STEP = "checkin.note"


@dataclass(frozen=True)
class Rules:
    """When a check-in counts as heavy, and the other tunable numbers (`checkin.yaml` settings)."""

    high_score: int = 7
    rise_by: int = 3
    rise_over: int = 3
    full_check_every_days: int = 91
    snooze_hours: int = 3
    note_window_hours: int = 12
    urgent_score: int = 10

    @classmethod
    def load(cls, directory: Path = DIALOGS_DIR) -> Rules:
        path = directory / "checkin.yaml"
        raw: dict[str, Any] = (load_yaml(path).get("settings") or {}) if path.exists() else {}
        names = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in raw.items() if k in names})


# ---------------------------------------------------------------- deciding (no database)


def rule_of(row: CheckinSchedule) -> Recurrence:
    return Recurrence(row.cadence, row.weekday, time(row.minute // 60, row.minute % 60))  # type: ignore[arg-type]


def is_heavy(score: int, earlier: list[int], rules: Rules) -> tuple[bool, bool]:
    """(high, rising): high now, or risen by `rise_by` over the lowest of the last check-ins."""
    recent = earlier[-rules.rise_over :]
    rising = bool(recent) and score - min(recent) >= rules.rise_by
    return score >= rules.high_score, rising


def trend_key(score: int, before: int | None) -> str:
    if before is None:
        return "first"
    if score == before:
        return "same"
    return "heavier" if score > before else "lighter"


def day_name(ctx: Context, weekday: int) -> str:
    return str(get_day_names("wide", locale=ctx.texts.translator.babel_locale)[weekday])


def when_text(ctx: Context, moment: datetime) -> str:
    return ctx.texts.translator.format_datetime(moment)


# ---------------------------------------------------------------- setup


async def on_checkin(ctx: Context, event: Event) -> Reply:
    if not ctx.has_consent:
        return Reply().add(consent_question(ctx, "checkin_needs_consent", then=COMMAND))
    current = await ctx.session.get(CheckinSchedule, ctx.caregiver.id)
    lines = [ctx.texts.get("checkin_intro")]
    if current is not None and current.cadence != "off":
        rule = rule_of(current)
        lines += [
            "",
            ctx.texts.get(
                "checkin_current",
                cadence=ctx.texts.get(f"cadence_text_{rule.cadence}"),
                day=day_name(ctx, rule.weekday),
                time=rule.at.strftime("%H:%M"),
            ),
        ]
        if current.paused_until is not None and current.paused_until >= local_date(ctx.now):
            until = ctx.texts.translator.format_date(current.paused_until, "full")
            lines.append(ctx.texts.get("checkin_paused_now", until=until))
    setup = await start_setup(ctx)
    return Reply().add(OutMessage("\n".join(lines)), *setup.messages)


async def start_setup(ctx: Context) -> Reply:
    """The set-up from its first question (an earlier, unfinished one starts over)."""
    return await dialogs.open_dialog(ctx, ctx.content.dialogs[SETUP_DIALOG], fresh=True)


def _menu_button(ctx: Context) -> tuple[tuple[Button, ...], ...]:
    return rows(command_button(ctx.texts.get("button_menu"), "menu"))


async def on_setup_saved(
    ctx: Context, dialog: Dialog, run: DialogRun, state: State
) -> list[OutMessage]:
    """End of the set-up: the rhythm chosen (any time of day, typed or a button)."""
    hour, minute = (int(part) for part in state.answers["at"].split(":"))
    weekday = DAYS.index(state.answers["day"])
    rule = Recurrence(state.answers["cadence"], weekday, time(hour, minute))  # type: ignore[arg-type]
    first = await save_schedule(ctx, rule)
    text = ctx.texts.get(
        "checkin_saved",
        cadence=ctx.texts.get(f"cadence_text_{rule.cadence}"),
        day=day_name(ctx, weekday),
        time=rule.at.strftime("%H:%M"),
        first=when_text(ctx, first),
    )
    return [OutMessage(text, _menu_button(ctx))]


async def on_setup_paused(
    ctx: Context, dialog: Dialog, run: DialogRun, state: State
) -> list[OutMessage]:
    """End of the set-up: no check-ins until a date (a hospital stay, a holiday), then the same
    rhythm again, without setting it up anew."""
    plan = await ctx.session.get(CheckinSchedule, ctx.caregiver.id)
    if plan is None or plan.cadence == "off":
        return [OutMessage(ctx.texts.get("checkin_pause_nothing"), _menu_button(ctx))]
    until = date.fromisoformat(state.answers["pause_until"])
    plan.paused_until, plan.updated_at = until, ctx.now
    rule = rule_of(plan)
    await _cancel_pending(ctx)
    first = next_occurrence(rule, at_local(until, time(0, 0)))
    payload = {"slot": local_date(first).isoformat(), "quiet_ok": rule.quiet_ok}
    schedule(ctx.session, ctx.caregiver.id, KIND, first, ctx.now, payload)
    text = ctx.texts.get(
        "checkin_paused",
        until=ctx.texts.translator.format_date(until, "full"),
        first=when_text(ctx, first),
    )
    return [OutMessage(text, _menu_button(ctx))]


async def on_setup_off(
    ctx: Context, dialog: Dialog, run: DialogRun, state: State
) -> list[OutMessage]:
    await stop_checkins(ctx)
    return [OutMessage(ctx.texts.get("checkin_stopped")), ctx.menu_message()]


async def _cancel_pending(ctx: Context) -> None:
    await ctx.session.execute(
        delete(ScheduledMessage).where(
            ScheduledMessage.caregiver_id == ctx.caregiver.id,
            ScheduledMessage.kind == KIND,
            ScheduledMessage.status == "pending",
        )
    )


async def save_schedule(ctx: Context, rule: Recurrence) -> datetime:
    """Store the rhythm and replace any pending check-in by the first one of the new rhythm."""
    row = await ctx.session.get(CheckinSchedule, ctx.caregiver.id)
    if row is None:
        row = CheckinSchedule(caregiver_id=ctx.caregiver.id, asked_seq=0, created_at=ctx.now)
        ctx.session.add(row)
    row.cadence, row.weekday = rule.cadence, rule.weekday
    row.minute = rule.at.hour * 60 + rule.at.minute
    row.paused_until, row.updated_at = None, ctx.now
    await _cancel_pending(ctx)
    first = next_occurrence(rule, ctx.now)
    payload = {"slot": local_date(first).isoformat(), "quiet_ok": rule.quiet_ok}
    schedule(ctx.session, ctx.caregiver.id, KIND, first, ctx.now, payload)
    return first


async def stop_checkins(ctx: Context) -> None:
    row = await ctx.session.get(CheckinSchedule, ctx.caregiver.id)
    if row is not None:
        row.cadence, row.awaiting, row.updated_at = "off", None, ctx.now
    await _cancel_pending(ctx)


# ---------------------------------------------------------------- the check-in itself


def question_message(ctx: Context, seq: int) -> OutMessage:
    scores = [Button(str(s), BUTTONS.pack("sc", seq, str(s))) for s in SCORES]
    texts = ctx.texts
    buttons = (
        tuple(scores[:6]),
        tuple(scores[6:]),
        (
            Button(texts.get("checkin_later"), BUTTONS.pack("snz", seq, "later")),
            Button(texts.get("checkin_tomorrow"), BUTTONS.pack("snz", seq, "tomorrow")),
        ),
        (
            Button(texts.get("checkin_change"), BUTTONS.pack("chg")),
            Button(texts.get("checkin_stop"), BUTTONS.pack("stop")),
        ),
    )
    # The first line is neutral: a lock-screen preview shows no scores or worries.
    return OutMessage(texts.get("checkin_question"), buttons)


async def send_checkin(ctx: Context, row: ScheduledMessage) -> OutMessage | None:
    """Scheduled handler: ask the question, and (for a regular slot) schedule the next one."""
    plan = await ctx.session.get(CheckinSchedule, ctx.caregiver.id)
    if plan is None or plan.cadence == "off" or not ctx.has_consent:
        return None
    if not row.payload.get("snoozed"):
        rule = rule_of(plan)
        slot = row.payload.get("slot")
        anchor = datetime.fromisoformat(slot).date() if slot else None
        # After `now`, not after the missed slot: downtime gives one late check-in, no backlog.
        upcoming = next_occurrence(rule, ctx.now, anchor)
        payload = {"slot": local_date(upcoming).isoformat(), "quiet_ok": rule.quiet_ok}
        schedule(ctx.session, ctx.caregiver.id, KIND, upcoming, ctx.now, payload)
    plan.asked_seq += 1
    plan.asked_at, plan.awaiting, plan.awaiting_until = ctx.now, "score", None
    plan.updated_at = ctx.now
    return question_message(ctx, plan.asked_seq)


async def _earlier_scores(ctx: Context, limit: int) -> list[CheckinAnswer]:
    found = await ctx.session.scalars(
        select(CheckinAnswer)
        .where(CheckinAnswer.caregiver_id == ctx.caregiver.id)
        .order_by(CheckinAnswer.answered_at.desc(), CheckinAnswer.id.desc())
        .limit(limit)
    )
    return list(reversed(found.all()))


async def _full_check_due(ctx: Context, plan: CheckinSchedule, rules: Rules) -> bool:
    last_result = await ctx.session.scalar(
        select(Result.completed_at)
        .where(Result.caregiver_id == ctx.caregiver.id)
        .order_by(Result.completed_at.desc())
        .limit(1)
    )
    moments = [m for m in (last_result, plan.full_check_offered_at) if m is not None]
    return not moments or ctx.now - max(moments) >= timedelta(days=rules.full_check_every_days)


def offer_buttons(ctx: Context) -> list[Button]:
    """Next steps that exist in this bot right now; never a button to a missing command."""
    commands = ctx.core.registry.commands
    texts = ctx.texts
    buttons = []
    for command, key in (
        ("zelftest", "button_selfcheck"),
        ("steunpunt", "button_steunpunt"),
        ("respijt", "button_respite"),
        ("hulp", "button_help"),
    ):
        if command in commands:
            buttons.append(command_button(texts.get(key), command))
    return buttons


async def answer_score(ctx: Context, seq: int, score: int, rules: Rules) -> Reply:
    plan = await ctx.session.get(CheckinSchedule, ctx.caregiver.id)
    texts = ctx.texts
    if plan is None or seq != plan.asked_seq or plan.awaiting != "score":
        if plan is not None and seq == plan.asked_seq and plan.awaiting == "note":
            return Reply(toast=texts.get("already_received"))
        return Reply(toast=texts.get("stale_button_toast")).add(
            OutMessage(texts.get("checkin_gone"))
        )
    earlier = await _earlier_scores(ctx, max(rules.rise_over, 1))
    answer = CheckinAnswer(
        caregiver_id=ctx.caregiver.id, score=score, asked_at=plan.asked_at, answered_at=ctx.now
    )
    ctx.session.add(answer)
    await ctx.session.flush()
    before = earlier[-1] if earlier else None
    high, rising = is_heavy(score, [a.score for a in earlier], rules)
    band = "high" if score >= rules.high_score else "mid" if score >= 4 else "low"
    lines = [texts.get(f"checkin_reply_{band}")]
    key = trend_key(score, before.score if before else None)
    if before is None:
        lines.append(texts.get("checkin_trend_first"))
    else:
        date = texts.translator.format_date(before.answered_at)
        lines.append(texts.get(f"checkin_trend_{key}", date=date, before=before.score))
    buttons: list[Button] = []
    if rising:
        lines += ["", texts.get("checkin_rise")]
    if high or rising:
        lines += [
            "",
            texts.get("checkin_offer"),
            f"• {texts.get('checkin_offer_selfcheck')}",
            f"• {texts.get('checkin_offer_help')}",
            f"• {texts.get('checkin_offer_respite')}",
        ]
        buttons = offer_buttons(ctx)
        if rising or key == "heavier":
            # Getting heavier: the situation guides, offered once (`registry.suggestions`).
            buttons += await suggested(ctx, "checkin.heavier")
    elif await _full_check_due(ctx, plan, rules):
        lines += ["", texts.get("checkin_full_check")]
        plan.full_check_offered_at = ctx.now
        buttons = [b for b in offer_buttons(ctx) if b.data == COMMANDS.pack("zelftest")]
    note_kind = "helped" if key == "lighter" or (before is None and band == "low") else "weighs"
    plan.awaiting, plan.note_answer_id = "note", answer.id
    plan.awaiting_until = ctx.now + timedelta(hours=rules.note_window_hours)
    await open_step(ctx, NOTE_STEP, ttl=timedelta(hours=rules.note_window_hours))
    answer.note_kind = note_kind
    plan.updated_at = ctx.now
    followup = OutMessage(
        texts.get(f"checkin_followup_{note_kind}"),
        rows(Button(texts.get("checkin_skip"), BUTTONS.pack("skip", seq))),
        expects="text",
    )
    reply = Reply(pressed_label=str(score))
    if score >= rules.urgent_score:
        # "Not to bear any more": the humans to contact come first, before anything else.
        reply.add(*(await crisis_reply(ctx, DistressIntent.EXHAUSTION)).messages)
    return reply.add(OutMessage("\n".join(lines), rows(*buttons)), followup)


async def snooze(ctx: Context, seq: int, until: str, rules: Rules) -> Reply:
    plan = await ctx.session.get(CheckinSchedule, ctx.caregiver.id)
    texts = ctx.texts
    if plan is None or plan.cadence == "off" or seq != plan.asked_seq or plan.awaiting != "score":
        return Reply(toast=texts.get("stale_button_toast")).add(
            OutMessage(texts.get("checkin_gone"))
        )
    rule = rule_of(plan)
    if until == "later":
        due, quiet_ok = after_quiet_hours(ctx.now + timedelta(hours=rules.snooze_hours)), False
        label = texts.get("checkin_later")
    else:
        due, quiet_ok = at_local(local_date(ctx.now) + timedelta(days=1), rule.at), rule.quiet_ok
        label = texts.get("checkin_tomorrow")
    schedule(
        ctx.session, ctx.caregiver.id, KIND, due, ctx.now, {"snoozed": True, "quiet_ok": quiet_ok}
    )
    plan.awaiting, plan.updated_at = None, ctx.now
    return Reply(pressed_label=label).add(
        OutMessage(texts.get("checkin_snoozed", when=when_text(ctx, due)))
    )


async def on_note(ctx: Context, event: Event) -> Reply | None:
    """Typed text while the follow-up is open becomes the note of the last check-in."""
    if event.kind != "text" or not ctx.has_consent:
        return None
    plan = await ctx.session.get(CheckinSchedule, ctx.caregiver.id)
    if plan is None or plan.awaiting != "note" or plan.awaiting_until is None:
        return None
    if plan.awaiting_until < ctx.now or plan.note_answer_id is None:
        return None
    answer = await ctx.session.get(CheckinAnswer, plan.note_answer_id)
    plan.awaiting, plan.awaiting_until, plan.updated_at = None, None, ctx.now
    await close_step(ctx, NOTE_STEP)
    if answer is None:
        return None
    answer.note = event.text.strip()[:NOTE_MAX]
    return Reply().add(
        OutMessage(
            ctx.texts.get("checkin_note_saved"),
            rows(command_button(ctx.texts.get("button_menu"), "menu")),
        )
    )


def make_button_handler(rules: Rules):
    async def on_button(ctx: Context, event: Event) -> Reply:
        """Buttons `c:...`: every choice travels in the data and is checked here."""
        pressed = BUTTONS.unpack(event.text)
        texts = ctx.texts
        if pressed is None:
            return ctx.stale_button()
        if not ctx.has_consent:
            return Reply().add(consent_question(ctx, "checkin_needs_consent", then=COMMAND))
        what = pressed.action
        if what == "chg":
            setup = await start_setup(ctx)
            return Reply(pressed_label=texts.get("checkin_change")).add(*setup.messages)
        if what == "stop":
            await stop_checkins(ctx)
            return Reply(pressed_label=texts.get("cadence_off")).add(
                OutMessage(texts.get("checkin_stopped")), ctx.menu_message()
            )
        seq = pressed.number(0)
        if what == "sc":
            return await answer_score(ctx, seq, int(pressed.text(1)), rules)
        if what == "snz":
            return await snooze(ctx, seq, pressed.text(1), rules)
        if what == "skip":
            plan = await ctx.session.get(CheckinSchedule, ctx.caregiver.id)
            if plan is None or plan.asked_seq != seq or plan.awaiting != "note":
                return Reply(toast=texts.get("already_received"))
            plan.awaiting, plan.awaiting_until, plan.updated_at = None, None, ctx.now
            await close_step(ctx, NOTE_STEP)
            return Reply(pressed_label=texts.get("checkin_skip")).add(
                OutMessage(
                    texts.get("checkin_skipped"),
                    rows(command_button(texts.get("button_menu"), "menu")),
                )
            )
        return ctx.stale_button()

    return on_button


# ---------------------------------------------------------------- /resultaten


def summary_lines(ctx: Context, answers: list[CheckinAnswer], results: list[Result]) -> list[str]:
    """Two lines saying what the picture shows, for those who cannot see it."""
    texts = ctx.texts
    date = texts.translator.format_date
    if answers:
        last = answers[-1]
        first = texts.get(
            "results_summary_checkins",
            count=len(answers),
            date=date(last.answered_at),
            score=last.score,
        )
    else:
        first = texts.get("results_summary_no_checkins")
    if results:
        latest = results[-1]
        dialog = ctx.content.dialogs.get(latest.dialog_id)
        band = next((b for b in dialog.bands if b.id == latest.band), None) if dialog else None
        second = texts.get(
            "results_summary_selfchecks",
            count=len(results),
            date=date(latest.completed_at),
            band=texts.tr(band.title) if band else latest.band,
        )
    else:
        second = texts.get("results_summary_no_selfchecks")
    return [first, second]


def chart_png(ctx: Context, answers: list[CheckinAnswer], results: list[Result]) -> bytes:
    texts = ctx.texts
    selfcheck = ctx.content.dialogs.get("selfcheck")
    bands = []
    if selfcheck is not None and selfcheck.max_score:
        top = selfcheck.max_score + 1  # a band "5-9" covers scores up to just below 10
        bands = [
            BandArea(scaled(b.min, top), scaled(b.max + 1, top), texts.tr(b.title))
            for b in selfcheck.bands
        ]
    return render_chart(
        [Point(a.answered_at, a.score) for a in answers],
        [Point(r.completed_at, scaled(r.score, r.max_score)) for r in results],
        bands,
        ChartLabels(
            texts.get("chart_axis"), texts.get("chart_checkins"), texts.get("chart_selfchecks")
        ),
        texts.locale,
    )


async def on_results(ctx: Context, event: Event) -> Reply:
    """`/resultaten` of the dialogs feature, with the check-ins and a picture of both."""
    if not ctx.has_consent:
        return await dialogs.on_results(ctx, event)
    answers = list(
        await ctx.session.scalars(
            select(CheckinAnswer)
            .where(CheckinAnswer.caregiver_id == ctx.caregiver.id)
            .order_by(CheckinAnswer.answered_at, CheckinAnswer.id)
        )
    )
    results = list(
        await ctx.session.scalars(
            select(Result)
            .where(Result.caregiver_id == ctx.caregiver.id)
            .order_by(Result.completed_at, Result.id)
        )
    )
    if not answers:
        listing = await dialogs.on_results(ctx, event)
        if not results:
            return listing
    else:
        lines = []
        if results:
            lines += [dialogs.results_text(ctx.texts, results, dict(ctx.content.dialogs)), ""]
        lines.append(ctx.texts.get("results_checkins_title"))
        for answer in answers[-dialogs.RESULTS_SHOWN :]:
            lines.append(
                ctx.texts.get(
                    "results_checkin_line",
                    score=answer.score,
                    date=ctx.texts.translator.format_date(answer.answered_at),
                )
            )
        menu = rows(command_button(ctx.texts.get("button_menu"), "menu"))
        listing = Reply().add(OutMessage("\n".join(lines), menu))
    # Rendering takes some tens of milliseconds of CPU: keep the event loop free meanwhile.
    png = await asyncio.to_thread(chart_png, ctx, answers, results)
    caption = "\n".join(
        [ctx.texts.get("results_chart_caption"), *summary_lines(ctx, answers, results)]
    )
    return Reply().add(OutMessage(caption, image=png), *listing.messages)


def register(registry: Registry, directory: Path = DIALOGS_DIR) -> None:
    rules = Rules.load(directory)
    registry.commands[COMMAND] = on_checkin
    registry.actions.update(
        {SAVE_ACTION: on_setup_saved, PAUSE_ACTION: on_setup_paused, OFF_ACTION: on_setup_off}
    )
    # /resultaten is this feature's: the self-check results (`dialogs.results_text`) beside the
    # check-ins, and a chart of both.
    registry.commands.update({"resultaten": on_results, "results": on_results})
    registry.menu.append(MenuEntry("resultaten", "menu_results", 20))
    registry.buttons[BUTTONS.prefix] = make_button_handler(rules)
    registry.menu.append(MenuEntry(COMMAND, "menu_checkin", 40))
    registry.scheduled[KIND] = send_checkin
    registry.inputs[NOTE_STEP] = InputOwner(on_note)
    registry.add_personal_data(
        PersonalData(CheckinSchedule, CheckinSchedule.caregiver_id, label="kept_checkin_schedule"),
        PersonalData(
            CheckinAnswer,
            CheckinAnswer.caregiver_id,
            label="kept_checkin_answer",
            timed=CheckinAnswer.answered_at,
        ),
    )
