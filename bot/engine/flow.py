"""The dialog engine: `advance(dialog, state, event)` -> new state and what to say.

Pure: no database, no Telegram, no clock. The caller loads the state, stores what the outcome
records, and renders the replies. Button data carries the state's sequence number, so an old
button, a double tap or a forged press is recognised instead of silently changing an answer.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.engine.output import Button, OutMessage, Reply
from bot.engine.spec import Dialog, Option
from bot.text.content import Texts

EventKind = Literal["command", "text", "button", "location", "contact", "unsupported"]
BACK, PAUSE = "back", "stop"
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


def button_data(dialog: Dialog, state: State, token: str) -> str:
    return f"{PREFIX}:{dialog.id}:{state.seq}:{token}"


def parse_button(data: str) -> tuple[str, int, str] | None:
    """(dialog id, seq, token) of an engine button, or None when the data is not ours."""
    parts = data.split(":")
    if len(parts) != 4 or parts[0] != PREFIX or not parts[2].isdigit():
        return None
    return parts[1], int(parts[2]), parts[3]


def render_question(dialog: Dialog, state: State, texts: Texts) -> OutMessage:
    step = dialog.steps[state.step]
    lines = []
    if dialog.progress and step.id in dialog.questions:
        number = dialog.questions.index(step.id) + 1
        lines.append("<i>" + texts.get("progress", n=number, total=len(dialog.questions)) + "</i>")
    lines.append(texts.tr(step.text))
    buttons = [
        (Button(texts.tr(option.label), button_data(dialog, state, str(i))),)
        for i, option in enumerate(step.options)
    ]
    nav = []
    if state.history:
        nav.append(Button(texts.get("button_back"), button_data(dialog, state, BACK)))
    nav.append(Button(texts.get("button_pause"), button_data(dialog, state, PAUSE)))
    buttons.append(tuple(nav))
    return OutMessage("\n\n".join(lines), tuple(buttons))


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
    return None


def _choose(dialog: Dialog, state: State, index: int, texts: Texts) -> Outcome:
    step = dialog.steps[state.step]
    option: Option = step.options[index]
    state.answers[step.id] = option.value
    state.history.append(step.id)
    state.last_press = [state.seq, str(index)]
    state.seq += 1
    state.paused = False
    reply = Reply(pressed_label=texts.tr(option.label))
    outcome = Outcome(state, reply, [Recorded(step.id, option.value, option.score)])
    # Acute overload: the caller brings the human contacts at once (`bot.distress`), or the
    # end action acknowledges it when this was the last question.
    outcome.urgent = option.urgent
    target = dialog.next_step(step.id, option)
    assert target is not None, "validated: the last step is an end step"
    state.step = target
    if dialog.steps[target].type == "end":
        outcome.completed = True
    else:
        reply.add(render_question(dialog, state, texts))
    return outcome


def advance(dialog: Dialog, state: State, event: Event, texts: Texts) -> Outcome:
    """Apply one event to an open dialog."""
    if event.kind == "button":
        parsed = parse_button(event.text)
        if parsed is not None and parsed[0] == dialog.id:
            _, seq, token = parsed
            if seq == state.seq:
                return _apply_token(dialog, state, token, texts)
            if state.last_press == [seq, token]:
                # A double tap on the button just handled: answer once, say nothing new.
                return Outcome(state, Reply(toast=texts.get("already_received")))
        reply = Reply(toast=texts.get("stale_button_toast"))
        reply.add(OutMessage(texts.get("stale_button")), render_question(dialog, state, texts))
        return Outcome(state, reply)
    if event.kind == "text":
        token = typed_option(dialog, state, event.text, texts)
        if token is not None:
            outcome = _apply_token(dialog, state, str(token), texts)
            outcome.reply.pressed_label = None
            return outcome
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


def _apply_token(dialog: Dialog, state: State, token: str, texts: Texts) -> Outcome:
    step = dialog.steps[state.step]
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
        return _choose(dialog, state, int(token), texts)
    reply = Reply(toast=texts.get("stale_button_toast"))
    reply.add(OutMessage(texts.get("stale_button")), render_question(dialog, state, texts))
    return Outcome(state, reply)
