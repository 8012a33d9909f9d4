"""The dialog engine: `advance(dialog, state, event)` -> new state and what to say.

Pure: no database, no Telegram; the time comes in (`now`, for date steps). The caller loads the
state, stores what the outcome records, and renders the replies. Button data carries the state's
sequence number, so an old button, a double tap or a forged press is recognised instead of
silently changing an answer. Typed steps validate what is typed and ask again, kindly, saying how.

What a feature adds comes in as `Hooks`, plain functions without a database: the `{values}` of
step texts it computes from the state (a summary of a draft) and its named checks of typed
answers (a date that is no night-time). Facts it looked up before the dialog started (a
location's name, how many families follow it) travel in `State.given`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from html import escape
from typing import Any, Literal

from bot.engine.codec import ANY, ButtonCodec
from bot.engine.output import Button, OutMessage, Reply
from bot.engine.spec import Dialog, Option, Step
from bot.text.content import Texts
from bot.text.dates import WhenError, local_date, parse_date, parse_datetime, parse_time
from bot.text.fields import CHECKS, FieldError

EventKind = Literal["command", "text", "button", "location", "contact", "unsupported"]
BACK, PAUSE, SKIP, DONE = "back", "stop", "skip", "done"
ATTACHMENTS = ("photo", "document")
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
    # Facts the feature gave at the start (ids, names, counts), for its hooks and step texts.
    given: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = {
            "step": self.step,
            "seq": self.seq,
            "answers": self.answers,
            "history": self.history,
            "last_press": self.last_press,
            "paused": self.paused,
        }
        if self.given:
            data["given"] = self.given
        return data

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
            given=dict(data.get("given", {})),
        )


# A feature's check of a typed answer: (value as parsed, state) -> value stored; raises FieldError.
Check = Callable[[str, State], str]


@dataclass(frozen=True)
class Hooks:
    """What the feature running a dialog adds (`Dialog.fill`, feature checks), already bound
    to the caregiver's language: `values(state)` gives `{name}` -> text (HTML, escaped by the
    feature) for the step texts; `checks` by the names the dialog file uses."""

    values: Callable[[State], Mapping[str, str]] | None = None
    checks: Mapping[str, Check] = field(default_factory=dict)
    # A step's `show`: messages before its question (the draft as its readers will see it).
    shows: Mapping[str, Callable[[State], list[OutMessage]]] = field(default_factory=dict)


NO_HOOKS = Hooks()


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
    # The end action to run when `completed`: the end step's, or the dialog's `on_stop`.
    action: str | None = None


def start(dialog: Dialog, given: Mapping[str, str] | None = None, at: str | None = None) -> State:
    """A new state at the first step (or at step `at`), with the feature's facts `given`."""
    step = at or dialog.start
    assert step in dialog.steps and dialog.steps[step].type != "end", step
    return State(dialog_id=dialog.id, version=dialog.version, step=step, given=dict(given or {}))


class _Filled(dict[str, str]):
    """Values of a step text; a name without a value yet (no answer) reads as nothing."""

    def __missing__(self, key: str) -> str:
        return ""


def shown_answer(dialog: Dialog, step_id: str, value: str, texts: Texts) -> str:
    """An answer as the caregiver reads it (HTML): a moment as "donderdag 24 december 2026 om
    15:00", a date in full, a choice as its label, a text escaped."""
    step = dialog.steps.get(step_id)
    if not value or step is None:
        return escape(value, quote=False)
    if step.type == "datetime":
        return escape(texts.translator.format_datetime(datetime.fromisoformat(value)))
    if step.type == "date":
        return escape(texts.translator.format_date(date.fromisoformat(value), "full"))
    if step.type == "choice":
        option = next((o for o in step.options if o.value == value), None)
        return texts.tr(option.label) if option is not None else escape(value)
    return escape(value, quote=False)


def _facts(state: State, hooks: Hooks) -> dict[str, str]:
    """What `if` conditions read: given facts, answers and the feature's values."""
    facts = {**state.given, **state.answers}
    if hooks.values is not None:
        facts.update(hooks.values(state))
    return facts


def step_options(step: Step, state: State) -> tuple[Option, ...]:
    """A step's buttons: its own, or (a "choices" step with `options_from`) the given ones."""
    if not step.options_from:
        return step.options
    given = json.loads(state.given.get(step.options_from) or "[]")
    return tuple(Option(value=str(value), label=str(label)) for value, label in given)


def chosen(state: State, step: Step) -> list[str]:
    """The values picked so far at a "choices" step."""
    return [v for v in state.answers.get(step.id, "").split(",") if v]


def _visible(option: Option, facts: Mapping[str, str]) -> bool:
    return not option.when or bool(facts.get(option.when))


def fill(
    dialog: Dialog,
    state: State,
    source: str,
    texts: Texts,
    hooks: Hooks = NO_HOOKS,
    translate: bool = True,
) -> str:
    """A dialog text, translated (unless it is a typed answer), with its `{names}`: earlier
    answers, given facts (escaped) and the feature's values (HTML as the feature made it)."""
    text = texts.tr(source) if translate else source
    if "{" not in text:
        return text
    if not translate:
        # A shortcut's typed answer ("{address}"): the facts and answers as they are.
        return text.format_map(_Filled({**state.given, **state.answers}))
    values = _Filled({k: escape(v, quote=False) for k, v in state.given.items()})
    values.update({k: shown_answer(dialog, k, v, texts) for k, v in state.answers.items()})
    if hooks.values is not None:
        values.update(hooks.values(state))
    return text.format_map(values)


BUTTONS = ButtonCodec(PREFIX, {ANY: (int, str)})  # q:<dialog id>:<seq>:<token>


def button_data(dialog: Dialog, state: State, token: str) -> str:
    return BUTTONS.pack(dialog.id, state.seq, token)


def parse_button(data: str) -> tuple[str, int, str] | None:
    """(dialog id, seq, token) of an engine button, or None when the data is not ours."""
    pressed = BUTTONS.unpack(data)
    if pressed is None:
        return None
    return pressed.action, pressed.number(0), pressed.text(1)


def render_question(
    dialog: Dialog, state: State, texts: Texts, hooks: Hooks = NO_HOOKS
) -> OutMessage:
    step = dialog.steps[state.step]
    lines = []
    if dialog.progress and step.id in dialog.questions:
        number = dialog.questions.index(step.id) + 1
        lines.append("<i>" + texts.get("progress", n=number, total=len(dialog.questions)) + "</i>")
    lines.append(fill(dialog, state, step.text, texts, hooks))
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
    facts = _facts(state, hooks) if any(o.when for o in step.options) else {}
    buttons: list[tuple[Button, ...]] = [
        (
            Button(
                fill(dialog, state, option.label, texts, hooks), button_data(dialog, state, str(i))
            ),
        )
        for i, option in enumerate(step.options)
        if _visible(option, facts)
    ]
    if step.type == "choices":
        picked = chosen(state, step)
        for i, option in enumerate(step_options(step, state)):
            label = escape(option.label) if step.options_from else texts.tr(option.label)
            label = f"✓ {label}" if option.value in picked else label
            buttons.append((Button(label, button_data(dialog, state, str(i))),))
        buttons.append((Button(texts.tr(step.button), button_data(dialog, state, DONE)),))
    if step.optional:
        skip = _skip_label(dialog, state, texts, hooks)
        buttons.append((Button(skip, button_data(dialog, state, SKIP)),))
    nav: list[Button] = []
    if state.history:
        nav.append(Button(texts.get("button_back"), button_data(dialog, state, BACK)))
    nav.append(Button(stop_label(dialog, texts), button_data(dialog, state, PAUSE)))
    buttons.append(tuple(nav))
    return OutMessage("\n\n".join(lines), tuple(buttons), expects=expects)


def question(
    dialog: Dialog, state: State, texts: Texts, hooks: Hooks = NO_HOOKS
) -> list[OutMessage]:
    """The current step: what its `show` hook shows first (a preview), then its question."""
    step = dialog.steps[state.step]
    shown = hooks.shows[step.show](state) if step.show else []
    return [*shown, render_question(dialog, state, texts, hooks)]


def stop_label(dialog: Dialog, texts: Texts) -> str:
    """The stop button: the dialog's own label (`messages.button_pause`) or the general one."""
    return texts.dialog_message(dialog, "button_pause")


def _skip_label(dialog: Dialog, state: State, texts: Texts, hooks: Hooks) -> str:
    step = dialog.steps[state.step]
    return fill(dialog, state, step.skip, texts, hooks) if step.skip else texts.get("button_skip")


def _normalise(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if c.isalnum() or c.isspace()).split())


def typed_option(
    dialog: Dialog, state: State, text: str, texts: Texts, hooks: Hooks = NO_HOOKS
) -> int | str | None:
    """A typed answer that is exactly a button label (e.g. "soms") counts as that button."""
    typed = _normalise(text)
    if not typed:
        return None
    step = dialog.steps[state.step]
    facts = _facts(state, hooks) if any(o.when for o in step.options) else {}
    for i, option in enumerate(step.options):
        if not _visible(option, facts):
            continue
        if typed == _normalise(fill(dialog, state, option.label, texts, hooks)):
            return i
    if state.history and typed == _normalise(texts.get("button_back")):
        return BACK
    if typed == _normalise(stop_label(dialog, texts)):
        return PAUSE
    skip = _skip_label(dialog, state, texts, hooks)
    if dialog.steps[state.step].optional and typed == _normalise(skip):
        return SKIP
    return None


def _choose(
    dialog: Dialog, state: State, index: int, texts: Texts, now: datetime | None, hooks: Hooks
) -> Outcome:
    step = dialog.steps[state.step]
    option: Option = step.options[index]
    label = fill(dialog, state, option.label, texts, hooks)
    if not step.typed:
        return _record(dialog, state, option.value, texts, option, str(index), label, hooks)
    # On a typed step a shortcut button stands for a typed answer.
    typed = fill(dialog, state, option.typed, texts, hooks, translate=False)
    try:
        value = _valid(step, typed, now, state, hooks)
    except FieldError as problem:
        return _ask_again(dialog, state, texts, problem.key, problem.values, hooks)
    return _record(dialog, state, value, texts, option, str(index), label, hooks)


def _record(
    dialog: Dialog,
    state: State,
    value: str,
    texts: Texts,
    option: Option | None,
    token: str,
    pressed: str | None,
    hooks: Hooks = NO_HOOKS,
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
    while dialog.steps[target].when and not _facts(state, hooks).get(dialog.steps[target].when):
        # A step asked only when its value is there (`if`): passed over, nothing recorded.
        target = dialog.next_step(target, None)
        assert target is not None, "validated: the last step is an end step"
    state.step = target
    if dialog.steps[target].type == "end":
        outcome.completed, outcome.action = True, dialog.steps[target].action
    else:
        reply.add(*question(dialog, state, texts, hooks))
    return outcome


# A number, as people type it: "15", "15 uur", "ongeveer 15", "about 15 hours".
_NUMBER = re.compile(
    r"\s*(?:ongeveer|zo'n|circa|ca\.?|about|around|roughly)?\s*(-?\d{1,9})\s*[^\W\d_]*\.?\s*",
    re.IGNORECASE,
)


def _valid(
    step: Step,
    typed: str,
    now: datetime | None,
    state: State | None = None,
    hooks: Hooks = NO_HOOKS,
    html: str = "",
) -> str:
    """The answer `typed` gives to a typed step, as stored: the text as typed (trimmed; with a
    `formatted` step its HTML, `html` or the text escaped) or as its `check` returns it
    ("+31731234567"), a number ("12"), a date ("2026-12-24"), a time ("10:30") or a moment
    (ISO, UTC); raises `FieldError` with the reason. A feature's check (`feature.name`) gets
    that value last and may refuse it or change it."""
    value = _parsed(step, typed, now)
    if step.formatted:
        value = html.strip() or escape(value, quote=False)
    if step.check in hooks.checks:
        assert state is not None, "a feature's check reads the state"
        return hooks.checks[step.check](value, state)
    assert step.check == "" or step.check in CHECKS, f"check {step.check!r} not given"
    return value


def _parsed(step: Step, typed: str, now: datetime | None) -> str:
    text = typed.strip()
    if step.type == "text":
        if len(text) < max(step.min or 1, 1):
            raise FieldError("typed_text_short")
        if step.max is not None and len(text) > step.max:
            raise FieldError("typed_text_long", {"max": step.max, "length": len(text)})
        if step.check in CHECKS:
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


def reason_of(step: Step, key: str) -> str:
    """The reason a step's `errors` names for the engine's message `key`: "typed_datetime_past"
    -> "past", "typed_number" -> "number", a feature check's own key as it is."""
    for prefix in (f"typed_{step.type}_", "typed_"):
        if key.startswith(prefix):
            return key.removeprefix(prefix)
    return key


def _ask_again(
    dialog: Dialog,
    state: State,
    texts: Texts,
    key: str,
    values: dict[str, object],
    hooks: Hooks = NO_HOOKS,
) -> Outcome:
    step = dialog.steps[state.step]
    shown = {
        k: texts.translator.format_date(v, "full") if isinstance(v, date) else v
        for k, v in values.items()
    }
    own = step.errors.get(reason_of(step, key))
    if own is not None:
        problem = texts.tr(own).format_map(
            _Filled({k: escape(str(v), quote=False) for k, v in shown.items()})
        )
    else:
        problem = texts.tr(step.error) if step.error else texts.get(key, **shown)
    return Outcome(state, Reply().add(OutMessage(problem), *question(dialog, state, texts, hooks)))


def _typed(
    dialog: Dialog, state: State, event: Event, texts: Texts, now: datetime | None, hooks: Hooks
) -> Outcome:
    """What is typed or shared at a typed step."""
    step = dialog.steps[state.step]
    if event.kind == "location" and step.type == "location" and event.latitude is not None:
        value = f"{event.latitude:.5f},{event.longitude:.5f}"
        return _record(dialog, state, value, texts, None, "location", None, hooks)
    if event.kind == "contact" and step.type == "contact" and event.text:
        return _record(dialog, state, event.text, texts, None, "contact", None, hooks)
    attached = step.attach and event.kind == "unsupported" and event.text in ATTACHMENTS
    if attached and event.file_id:
        return _attached(dialog, state, event, texts, now, hooks)
    if event.kind != "text" or step.type in ("location", "contact"):
        return _ask_again(dialog, state, texts, f"typed_expect_{step.type}", {}, hooks)
    try:
        value = _valid(step, event.text, now, state, hooks, event.html)
    except FieldError as problem:
        return _ask_again(dialog, state, texts, problem.key, problem.values, hooks)
    return _record(dialog, state, value, texts, None, "typed", None, hooks)


def file_key(step_id: str) -> str:
    """The answer that holds the photo or document of an `attach` step ("photo:<file id>")."""
    return f"{step_id}_file"


def _attached(
    dialog: Dialog, state: State, event: Event, texts: Texts, now: datetime | None, hooks: Hooks
) -> Outcome:
    """A photo or document at a text step that takes one: its caption is the text; without
    one, the text given before stays, or the step asks for the text (the file kept)."""
    step = dialog.steps[state.step]
    key = file_key(step.id)
    before = state.answers.get(key)
    state.answers[key] = f"{event.text}:{event.file_id}"
    earlier = state.answers.get(step.id, "")
    if not event.args.strip() and not earlier:
        problem = step.errors.get("attach_text")
        message = texts.tr(problem) if problem else texts.get("typed_attach_text")
        return Outcome(
            state, Reply().add(OutMessage(message), *question(dialog, state, texts, hooks))
        )
    try:
        if event.args.strip():
            value = _valid(step, event.args, now, state, hooks, event.html)
        else:
            # The text given before, checked again with the file (a caption may be shorter).
            value = (
                hooks.checks[step.check](earlier, state) if step.check in hooks.checks else earlier
            )
    except FieldError as problem:
        if before is None:
            state.answers.pop(key)
        else:
            state.answers[key] = before
        return _ask_again(dialog, state, texts, problem.key, problem.values, hooks)
    return _record(dialog, state, value, texts, None, "typed", None, hooks)


def advance(
    dialog: Dialog,
    state: State,
    event: Event,
    texts: Texts,
    now: datetime | None = None,
    hooks: Hooks = NO_HOOKS,
) -> Outcome:
    """Apply one event to an open dialog (`now`: the time, needed by date steps; `hooks`: what
    the feature running it adds)."""
    if event.kind == "button":
        parsed = parse_button(event.text)
        if parsed is not None and parsed[0] == dialog.id:
            _, seq, token = parsed
            if seq == state.seq:
                return _apply_token(dialog, state, token, texts, now, hooks)
            if state.last_press == [seq, token]:
                # A double tap on the button just handled: answer once, say nothing new.
                return Outcome(state, Reply(toast=texts.get("already_received")))
        reply = Reply(toast=texts.get("stale_button_toast"))
        reply.add(OutMessage(texts.get("stale_button")), *question(dialog, state, texts, hooks))
        return Outcome(state, reply)
    if event.kind == "text":
        typed = typed_option(dialog, state, event.text, texts, hooks)
        if typed is not None:
            outcome = _apply_token(dialog, state, str(typed), texts, now, hooks)
            outcome.reply.pressed_label = None
            return outcome
    if dialog.steps[state.step].typed:
        return _typed(dialog, state, event, texts, now, hooks)
    reply = Reply().add(
        OutMessage(texts.get("expect_button")), *question(dialog, state, texts, hooks)
    )
    return Outcome(state, reply)


def apply_word(
    dialog: Dialog, state: State, word: str, texts: Texts, hooks: Hooks = NO_HOOKS
) -> Outcome:
    """A navigation word typed outside the buttons (`PAUSE` or `BACK`), as if its button was
    pressed; the pressed-label is dropped (no button was pressed)."""
    outcome = _apply_token(dialog, state, word, texts, None, hooks)
    outcome.reply.pressed_label = None
    return outcome


def _apply_token(
    dialog: Dialog,
    state: State,
    token: str,
    texts: Texts,
    now: datetime | None = None,
    hooks: Hooks = NO_HOOKS,
) -> Outcome:
    step = dialog.steps[state.step]
    if token == SKIP and step.optional:
        skip = _skip_label(dialog, state, texts, hooks)
        return _record(dialog, state, "", texts, None, token, skip, hooks)
    if token == PAUSE:
        state.paused = True
        state.last_press = [state.seq, token]
        state.seq += 1
        reply = Reply(pressed_label=stop_label(dialog, texts))
        if dialog.on_stop is not None:
            # Stopping forgets the answers: the dialog ends with its stop action.
            return Outcome(state, reply, completed=True, action=dialog.on_stop)
        reply.add(OutMessage(texts.dialog_message(dialog, "paused")))
        return Outcome(state, reply)
    if token == BACK:
        if not state.history:
            return Outcome(state, Reply().add(*question(dialog, state, texts, hooks)))
        state.last_press = [state.seq, token]
        state.seq += 1
        state.step = state.history.pop()
        state.paused = False
        reply = Reply(pressed_label=texts.get("button_back"))
        reply.add(*question(dialog, state, texts, hooks))
        return Outcome(state, reply)
    if step.type == "choices":
        return _pick(dialog, state, token, texts, hooks)
    facts = _facts(state, hooks) if any(o.when for o in step.options) else {}
    if token.isdigit() and int(token) < len(step.options):
        if _visible(step.options[int(token)], facts):
            return _choose(dialog, state, int(token), texts, now, hooks)
    reply = Reply(toast=texts.get("stale_button_toast"))
    reply.add(OutMessage(texts.get("stale_button")), *question(dialog, state, texts, hooks))
    return Outcome(state, reply)


def _pick(dialog: Dialog, state: State, token: str, texts: Texts, hooks: Hooks) -> Outcome:
    """A button of a "choices" step: one option on or off, or done (with enough chosen)."""
    step = dialog.steps[state.step]
    options = step_options(step, state)
    picked = chosen(state, step)
    if token == DONE:
        if len(picked) < (step.min or 0):
            problem = texts.tr(step.error) if step.error else texts.get("choices_too_few")
            return Outcome(state, Reply(toast=problem))
        return _record(
            dialog, state, ",".join(picked), texts, None, token, texts.tr(step.button), hooks
        )
    if not token.isdigit() or int(token) >= len(options):
        reply = Reply(toast=texts.get("stale_button_toast"))
        reply.add(OutMessage(texts.get("stale_button")), *question(dialog, state, texts, hooks))
        return Outcome(state, reply)
    option = options[int(token)]
    if option.value in picked:
        picked.remove(option.value)
    else:
        picked.append(option.value)
    state.answers[step.id] = ",".join(picked)
    state.last_press = [state.seq, token]
    state.seq += 1
    label = option.label if step.options_from else texts.tr(option.label)
    reply = Reply(pressed_label=label).add(*question(dialog, state, texts, hooks))
    return Outcome(state, reply)


def check_typed(step: Step, typed: str, now: datetime | None = None) -> str:
    """`typed` checked exactly as the typed step `step` checks it in a dialog (its bounds and
    its `check`), as it would be stored; raises `FieldError` with the reason. For forms outside
    the chat (the staff web console) that fill the same fields."""
    return _valid(step, typed, now)
