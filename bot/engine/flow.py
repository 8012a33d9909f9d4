"""The dialog engine: `advance(dialog, state, event)` -> new state and what to say.

Pure: no database, no Telegram; the time comes in (`now`, for date steps). The caller loads the
state, stores what the outcome records, and renders the replies. Button data carries the state's
sequence number, so an old button, a double tap or a forged press is recognised instead of
silently changing an answer. Typed steps validate what is typed and ask again, kindly, saying how.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from bot.engine.codec import ANY, ButtonCodec
from bot.engine.output import Button, OutMessage, Reply
from bot.engine.spec import Dialog, Option, Step
from bot.text.content import Texts
from bot.text.dates import WhenError, local_date, parse_date, parse_datetime, parse_time
from bot.text.fields import CHECKS, FieldError

EventKind = Literal["command", "text", "button", "location", "contact", "unsupported"]
BACK, PAUSE, SKIP = "back", "stop", "skip"
# Callback data is limited to 64 bytes by Telegram; "q:<id 32>:<seq>:<token>" stays below.
PREFIX = "q"


@dataclass(frozen=True)
class Event:
    """One input from a caregiver, whatever the channel."""

    kind: EventKind
    text: str = ""
    args: str = ""
    latitude: float | None = None
    longitude: float | None = None
    # The message with its formatting as Telegram HTML (text or caption), when it had any.
    html: str = ""
    # A photo or document sent (kind "unsupported", text "photo"/"document"): Telegram's file id,
    # so staff can attach it to a notice without the bot downloading it.
    file_id: str = ""


@dataclass
class State:
    """Position in one dialog; stored as JSON in `dialog_state.data`."""

    dialog_id: str
    version: int
    step: str
    seq: int = 0
    answers: dict[str, str] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)
    last_press: list[Any] | None = None
    paused: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "seq": self.seq,
            "answers": self.answers,
            "history": self.history,
            "last_press": self.last_press,
            "paused": self.paused,
        }

    @classmethod
    def from_json(cls, dialog_id: str, version: int, data: dict[str, Any]) -> State:
        return cls(
            dialog_id=dialog_id,
            version=version,
            step=data["step"],
            seq=int(data.get("seq", 0)),
            answers=dict(data.get("answers", {})),
            history=list(data.get("history", [])),
            last_press=data.get("last_press"),
            paused=bool(data.get("paused", False)),
        )


@dataclass(frozen=True)
class Recorded:
    step: str
    value: str
    score: int | None


@dataclass
class Outcome:
    state: State
    reply: Reply
    recorded: list[Recorded] = field(default_factory=list)
    completed: bool = False
    urgent: bool = False


def start(dialog: Dialog) -> State:
    return State(dialog_id=dialog.id, version=dialog.version, step=dialog.start)


BUTTONS = ButtonCodec(PREFIX, {ANY: (int, str)})  # q:<dialog id>:<seq>:<token>


def button_data(dialog: Dialog, state: State, token: str) -> str:
    return BUTTONS.pack(dialog.id, state.seq, token)


def parse_button(data: str) -> tuple[str, int, str] | None:
    """(dialog id, seq, token) of an engine button, or None when the data is not ours."""
    pressed = BUTTONS.unpack(data)
    if pressed is None:
        return None
    return pressed.action, pressed.number(0), pressed.text(1)


def render_question(dialog: Dialog, state: State, texts: Texts) -> OutMessage:
    step = dialog.steps[state.step]
    lines = []
    if dialog.progress and step.id in dialog.questions:
        number = dialog.questions.index(step.id) + 1
        lines.append("<i>" + texts.get("progress", n=number, total=len(dialog.questions)) + "</i>")
    lines.append(texts.tr(step.text))
    expects = step.type if step.typed else ""
    if step.type in ("location", "contact"):
        # The share button sits under the input field (a reply keyboard): such a message has no
        # buttons of its own, so "terug" and "stop" are typed (the router knows them).
        lines.append(f"<i>{texts.get('typed_share_hint')}</i>")
        label = texts.tr(step.button)
        return OutMessage(
            "\n\n".join(lines),
            location_button=label if step.type == "location" else "",
            contact_button=label if step.type == "contact" else "",
            expects=expects,
        )
    buttons: list[tuple[Button, ...]] = [
        (Button(texts.tr(option.label), button_data(dialog, state, str(i))),)
        for i, option in enumerate(step.options)
    ]
    if step.optional:
        buttons.append((Button(texts.get("button_skip"), button_data(dialog, state, SKIP)),))
    nav: list[Button] = []
    if state.history:
        nav.append(Button(texts.get("button_back"), button_data(dialog, state, BACK)))
    nav.append(Button(texts.get("button_pause"), button_data(dialog, state, PAUSE)))
    buttons.append(tuple(nav))
    return OutMessage("\n\n".join(lines), tuple(buttons), expects=expects)


def _normalise(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if c.isalnum() or c.isspace()).split())


def typed_option(dialog: Dialog, state: State, text: str, texts: Texts) -> int | str | None:
    """A typed answer that is exactly a button label (e.g. "soms") counts as that button."""
    typed = _normalise(text)
    if not typed:
        return None
    for i, option in enumerate(dialog.steps[state.step].options):
        if typed == _normalise(texts.tr(option.label)):
            return i
    if state.history and typed == _normalise(texts.get("button_back")):
        return BACK
    if typed == _normalise(texts.get("button_pause")):
        return PAUSE
    if dialog.steps[state.step].optional and typed == _normalise(texts.get("button_skip")):
        return SKIP
    return None


def _choose(
    dialog: Dialog, state: State, index: int, texts: Texts, now: datetime | None = None
) -> Outcome:
    step = dialog.steps[state.step]
    option: Option = step.options[index]
    # On a typed step a shortcut button stands for a typed answer.
    value = _valid(step, option.typed, now) if step.typed else option.value
    return _record(dialog, state, value, texts, option, str(index), texts.tr(option.label))


def _record(
    dialog: Dialog,
    state: State,
    value: str,
    texts: Texts,
    option: Option | None,
    token: str,
    pressed: str | None,
) -> Outcome:
    """Store the answer of the current step and move to the next one; `pressed` is the label
    shown on the message of a pressed button (None when the answer was typed or shared)."""
    step = dialog.steps[state.step]
    state.answers[step.id] = value
    state.history.append(step.id)
    state.last_press = [state.seq, token]
    state.seq += 1
    state.paused = False
    reply = Reply(pressed_label=pressed)
    score = option.score if option is not None else None
    outcome = Outcome(state, reply, [Recorded(step.id, value, score)])
    # Acute overload: the caller brings the human contacts at once (`bot.distress`), or the
    # end action acknowledges it when this was the last question.
    outcome.urgent = option is not None and option.urgent
    target = dialog.next_step(step.id, option)
    assert target is not None, "validated: the last step is an end step"
    state.step = target
    if dialog.steps[target].type == "end":
        outcome.completed = True
    else:
        reply.add(render_question(dialog, state, texts))
    return outcome


# A number, as people type it: "15", "15 uur", "ongeveer 15", "about 15 hours".
_NUMBER = re.compile(
    r"\s*(?:ongeveer|zo'n|circa|ca\.?|about|around|roughly)?\s*(-?\d{1,9})\s*[^\W\d_]*\.?\s*",
    re.IGNORECASE,
)


def _valid(step: Step, typed: str, now: datetime | None) -> str:
    """The answer `typed` gives to a typed step, as stored: the text as typed (trimmed) or as
    its `check` returns it ("+31731234567"), a number ("12"), a date ("2026-12-24"), a time
    ("10:30") or a moment (ISO, UTC); raises `FieldError` with the reason."""
    text = typed.strip()
    if step.type == "text":
        if len(text) < max(step.min or 1, 1):
            raise FieldError("typed_text_short")
        if step.max is not None and len(text) > step.max:
            raise FieldError("typed_text_long", {"max": step.max, "length": len(text)})
        if step.check:
            return CHECKS[step.check](text)
        return text
    if step.type == "number":
        match = _NUMBER.fullmatch(text)
        if match is None:
            raise FieldError("typed_number")
        number = int(match.group(1))
        too_low = step.min is not None and number < step.min
        too_high = step.max is not None and number > step.max
        if (too_low or too_high) and step.min is not None and step.max is not None:
            raise FieldError("typed_number_range", {"min": step.min, "max": step.max})
        if too_low:
            raise FieldError("typed_number_min", {"min": step.min})
        if too_high:
            raise FieldError("typed_number_max", {"max": step.max})
        return str(number)
    if step.type == "time":
        try:
            return parse_time(text).strftime("%H:%M")
        except WhenError:
            raise FieldError("typed_time") from None
    assert now is not None, "date steps need the time: advance(..., now=...)"
    if step.type == "date":
        today = local_date(now)
        try:
            day = parse_date(text, today)
        except WhenError as error:
            raise FieldError(f"typed_date_{error.reason}", error.values) from None
        if step.min is not None and day < today + timedelta(days=step.min):
            raise FieldError("typed_date_early", {"first": today + timedelta(days=step.min)})
        if step.max is not None and day > today + timedelta(days=step.max):
            raise FieldError("typed_date_late", {"last": today + timedelta(days=step.max)})
        return day.isoformat()
    assert step.type == "datetime", step.type
    ahead = timedelta(days=step.max) if step.max is not None else None
    try:
        return parse_datetime(text, now, max_ahead=ahead).isoformat()
    except WhenError as error:
        raise FieldError(f"typed_datetime_{error.reason}", error.values) from None


def _ask_again(
    dialog: Dialog, state: State, texts: Texts, key: str, values: dict[str, object]
) -> Outcome:
    step = dialog.steps[state.step]
    shown = {
        k: texts.translator.format_date(v, "full") if isinstance(v, date) else v
        for k, v in values.items()
    }
    problem = texts.tr(step.error) if step.error else texts.get(key, **shown)
    return Outcome(state, Reply().add(OutMessage(problem), render_question(dialog, state, texts)))


def _typed(
    dialog: Dialog, state: State, event: Event, texts: Texts, now: datetime | None
) -> Outcome:
    """What is typed or shared at a typed step."""
    step = dialog.steps[state.step]
    if event.kind == "location" and step.type == "location" and event.latitude is not None:
        value = f"{event.latitude:.5f},{event.longitude:.5f}"
        return _record(dialog, state, value, texts, None, "location", None)
    if event.kind == "contact" and step.type == "contact" and event.text:
        return _record(dialog, state, event.text, texts, None, "contact", None)
    if event.kind != "text" or step.type in ("location", "contact"):
        return _ask_again(dialog, state, texts, f"typed_expect_{step.type}", {})
    try:
        value = _valid(step, event.text, now)
    except FieldError as problem:
        return _ask_again(dialog, state, texts, problem.key, problem.values)
    return _record(dialog, state, value, texts, None, "typed", None)


def advance(
    dialog: Dialog, state: State, event: Event, texts: Texts, now: datetime | None = None
) -> Outcome:
    """Apply one event to an open dialog (`now`: the time, needed by date steps)."""
    if event.kind == "button":
        parsed = parse_button(event.text)
        if parsed is not None and parsed[0] == dialog.id:
            _, seq, token = parsed
            if seq == state.seq:
                return _apply_token(dialog, state, token, texts, now)
            if state.last_press == [seq, token]:
                # A double tap on the button just handled: answer once, say nothing new.
                return Outcome(state, Reply(toast=texts.get("already_received")))
        reply = Reply(toast=texts.get("stale_button_toast"))
        reply.add(OutMessage(texts.get("stale_button")), render_question(dialog, state, texts))
        return Outcome(state, reply)
    if event.kind == "text":
        typed = typed_option(dialog, state, event.text, texts)
        if typed is not None:
            outcome = _apply_token(dialog, state, str(typed), texts, now)
            outcome.reply.pressed_label = None
            return outcome
    if dialog.steps[state.step].typed:
        return _typed(dialog, state, event, texts, now)
    reply = Reply().add(
        OutMessage(texts.get("expect_button")), render_question(dialog, state, texts)
    )
    return Outcome(state, reply)


def apply_word(dialog: Dialog, state: State, word: str, texts: Texts) -> Outcome:
    """A navigation word typed outside the buttons (`PAUSE` or `BACK`), as if its button was
    pressed; the pressed-label is dropped (no button was pressed)."""
    outcome = _apply_token(dialog, state, word, texts)
    outcome.reply.pressed_label = None
    return outcome


def _apply_token(
    dialog: Dialog, state: State, token: str, texts: Texts, now: datetime | None = None
) -> Outcome:
    step = dialog.steps[state.step]
    if token == SKIP and step.optional:
        return _record(dialog, state, "", texts, None, token, texts.get("button_skip"))
    if token == PAUSE:
        state.paused = True
        state.last_press = [state.seq, token]
        state.seq += 1
        reply = Reply(pressed_label=texts.get("button_pause"))
        reply.add(OutMessage(texts.dialog_message(dialog, "paused")))
        return Outcome(state, reply)
    if token == BACK:
        if not state.history:
            return Outcome(state, Reply().add(render_question(dialog, state, texts)))
        state.last_press = [state.seq, token]
        state.seq += 1
        state.step = state.history.pop()
        state.paused = False
        reply = Reply(pressed_label=texts.get("button_back"))
        reply.add(render_question(dialog, state, texts))
        return Outcome(state, reply)
    if token.isdigit() and int(token) < len(step.options):
        return _choose(dialog, state, int(token), texts, now)
    reply = Reply(toast=texts.get("stale_button_toast"))
    reply.add(OutMessage(texts.get("stale_button")), render_question(dialog, state, texts))
    return Outcome(state, reply)


def check_typed(step: Step, typed: str, now: datetime | None = None) -> str:
    """`typed` checked exactly as the typed step `step` checks it in a dialog (its bounds and
    its `check`), as it would be stored; raises `FieldError` with the reason. For forms outside
    the chat (the staff web console) that fill the same fields."""
    return _valid(step, typed, now)
