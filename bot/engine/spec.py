"""Dialog definitions: load `dialogs/*.yaml`, validate them, and give typed, immutable objects.

A broken dialog file stops the start with the file, the path inside it and what is wrong. Texts
stay Dutch source strings here; they are translated when rendered.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from bot.text.fields import CHECKS

DIALOGS_DIR = Path(__file__).resolve().parent.parent.parent / "dialogs"
_ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
# A hook a feature provides (a check, the values of step texts, a guard): "feature.name".
HOOK_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
# Steps that take what the caregiver types (or shares), validated, with back and stop.
TYPED_STEPS = ("text", "number", "date", "time", "datetime", "location", "contact")
# "choices": pick one or more of several buttons, then the step's `button` ("Klaar").
STEP_TYPES = ("choice", "choices", "end", *TYPED_STEPS)
TEXT_MAX = 500


class DialogError(Exception):
    """A dialog file is invalid; the message names file, path and problem."""


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    score: int | None = None
    next: str | None = None
    urgent: bool = False
    # On a typed step: the typed answer this button stands for ("19:30" for "Avond (19:30)").
    typed: str = ""
    # Shown only when this value is not empty (an answer, a given fact or a filled value).
    when: str = ""


@dataclass(frozen=True)
class Step:
    """One step of a dialog: a choice between buttons, an end (an action), or a typed step that
    takes text, a number, a date, a time, a date and time, a location or a contact.

    Typed steps: `min`/`max` bound a number, the length of a text (default at most 500) or a
    date in days from today; `optional` adds a skip button (the answer is then ""; `skip` is
    its label when the YAML gives `optional` a text); `options` are shortcut buttons, each
    standing for a typed answer (`typed`); `error` replaces the general re-ask when the input
    does not fit, `errors` does so per reason (`past`, `too_far`, `weekday_mismatch`, `number`,
    `range`, ... : the engine's message key without `typed_<type>_`).

    A text step may name a `check` from `bot.text.fields.CHECKS` (`phone_nl`, `https_url`,
    `email`): after the length bounds, the check turns the text into the value stored
    ("073-1234567" -> "+31731234567") or asks again with its own message ("Dat is geen
    Nederlands telefoonnummer..."). Any typed step may name a feature's check instead
    (`feature.name`, `Registry.checks`): it gets the parsed value ("2026-12-24T14:00:00+00:00")
    and the state, and returns the value or raises `FieldError`.

    Texts, labels and shortcut answers may hold `{name}`: an earlier answer (shown as its step
    type reads: a date as "donderdag 24 december 2026"), a value the feature gave at the start
    (`State.given`) or one its `fill` computes; every name must be a step id or be declared in
    the dialog's `values`."""

    id: str
    type: str
    text: str = ""
    options: tuple[Option, ...] = ()
    next: str | None = None
    action: str | None = None
    min: int | None = None
    max: int | None = None
    optional: bool = False
    error: str = ""
    button: str = ""  # location and contact steps: the label of the share button
    check: str = ""  # a check in bot.text.fields.CHECKS (text steps) or a feature's check
    errors: Mapping[str, str] = field(default_factory=dict)
    skip: str = ""  # the skip button's label, when not the general one
    # Asked only when this value is not empty (an answer, a given fact or a filled value);
    # otherwise the dialog goes on to the step after it.
    when: str = ""
    # A feature's hook (`Registry.shows`): messages shown before the question (a preview).
    show: str = ""
    # Text steps: keep the formatting typed (Telegram HTML, `Event.html`); take one photo or
    # document whose caption is the text (the file is the answer `<step id>_file`).
    formatted: bool = False
    attach: bool = False
    # A "choices" step: its buttons are the given fact of this name (a JSON list of
    # [value, label]) instead of `options`.
    options_from: str = ""

    @property
    def typed(self) -> bool:
        return self.type in TYPED_STEPS

    def options_texts(self) -> list[str]:
        return [text for o in self.options for text in (o.label, o.typed)]


@dataclass(frozen=True)
class Band:
    id: str
    min: int
    max: int
    title: str
    meaning: str
    next_steps: tuple[str, ...]
    contacts: tuple[str, ...]


@dataclass(frozen=True)
class Dialog:
    id: str
    version: int
    source: str
    command: str | None
    title: str
    intro: str
    requires_consent: bool
    progress: bool
    steps: Mapping[str, Step]
    order: tuple[str, ...]
    messages: Mapping[str, str]
    bands: tuple[Band, ...] = ()
    menu_label: str | None = None
    menu_order: int = 100
    extra: Mapping[str, Any] = field(default_factory=dict)
    # Who has not consented may still go through it "alleen bekijken": nothing is stored.
    view_only: bool = False
    # False for a dialog that prepares work (a staff member's notice or evening): its answers
    # are no caregiver's answers (no run, no `Answer` rows); its end actions store what counts.
    keeps_answers: bool = True
    # The action run when "stop" ends the dialog, its answers forgotten (instead of pausing
    # with the answers kept, to resume later).
    on_stop: str | None = None
    # A feature's hook (`Registry.guards`) asked before every input: may this person still go
    # on (e.g. still staff of the location)? When not, the dialog is closed, nothing done. It
    # may take the facts it gave again (`State.given`: how many a notice reaches now).
    guard: str | None = None
    # A feature's hook (`Registry.fills`) giving the `{values}` of step texts it computes.
    fill: str | None = None
    # Names step texts may use besides step ids: given at the start or computed by `fill`.
    values: tuple[str, ...] = ()

    @property
    def start(self) -> str:
        return self.order[0]

    @property
    def questions(self) -> tuple[str, ...]:
        return tuple(s for s in self.order if self.steps[s].type == "choice")

    @property
    def max_score(self) -> int:
        return sum(
            max((o.score or 0 for o in self.steps[s].options), default=0) for s in self.questions
        )

    def band_for(self, score: int) -> Band:
        for band in self.bands:
            if band.min <= score <= band.max:
                return band
        raise ValueError(f"{self.id}: no band for score {score}")

    def next_step(self, step_id: str, option: Option | None) -> str | None:
        """The step after `step_id`: the option's `next`, the step's `next`, or the next one."""
        if option is not None and option.next:
            return option.next
        step = self.steps[step_id]
        if step.next:
            return step.next
        index = self.order.index(step_id)
        return self.order[index + 1] if index + 1 < len(self.order) else None


class Checker:
    """Collects problems with their location (`source: path: problem`), so one run reports all
    of them; for dialog files and the other content files."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def fail(self, path: str, problem: str) -> None:
        self.problems.append(f"{self.source}: {path or '<top>'}: {problem}")

    def text(self, node: Mapping[str, Any], key: str, path: str, required: bool = True) -> str:
        value = node.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{path}.{key}".lstrip("."), "expected a non-empty text")
            return ""
        return value.strip()

    def ident(self, node: Mapping[str, Any], key: str, path: str) -> str:
        value = node.get(key)
        if not isinstance(value, str) or not _ID_RE.match(value):
            self.fail(f"{path}.{key}".lstrip("."), f"expected an id like 'sleep_2', got {value!r}")
            return f"<bad:{path}>"
        return value


def _options(
    raw: Any, path: str, answer_sets: Mapping[str, Any], check: Checker
) -> tuple[Option, ...]:
    if isinstance(raw, str):
        if raw not in answer_sets:
            check.fail(path, f"unknown answer set {raw!r} (known: {', '.join(answer_sets)})")
            return ()
        raw, path = answer_sets[raw], f"answer_sets.{raw}"
    if not isinstance(raw, list) or not raw:
        check.fail(path, "expected a list of options or the name of an answer set")
        return ()
    options: list[Option] = []
    for i, item in enumerate(raw):
        p = f"{path}[{i}]"
        if not isinstance(item, dict):
            check.fail(p, "expected a mapping with value and label")
            continue
        score = item.get("score")
        if score is not None and (
            not isinstance(score, int) or isinstance(score, bool) or score < 0
        ):
            check.fail(f"{p}.score", f"expected a whole number >= 0, got {score!r}")
            score = None
        urgent = item.get("urgent", False)
        if not isinstance(urgent, bool):
            check.fail(f"{p}.urgent", "expected true or false")
            urgent = False
        typed = item.get("typed", "")
        if not isinstance(typed, str):
            check.fail(f"{p}.typed", "expected a text")
            typed = ""
        when = item.get("if", "")
        if not isinstance(when, str):
            check.fail(f"{p}.if", "expected the name of a value")
            when = ""
        options.append(
            Option(
                value=check.ident(item, "value", p),
                label=check.text(item, "label", p),
                score=score,
                next=item.get("next"),
                urgent=urgent,
                typed=typed.strip(),
                when=when,
            )
        )
    values = [o.value for o in options]
    if len(set(values)) != len(values):
        check.fail(path, "option values must be unique")
    return tuple(options)


def _bound(raw: Mapping[str, Any], key: str, path: str, check: Checker) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        check.fail(f"{path}.{key}", f"expected a whole number, got {value!r}")
        return None
    return value


def _typed_step(
    raw: Mapping[str, Any],
    step_id: str,
    step_type: str,
    path: str,
    answer_sets: Mapping[str, Any],
    check: Checker,
) -> Step:
    low, high = _bound(raw, "min", path, check), _bound(raw, "max", path, check)
    if low is not None and high is not None and low > high:
        check.fail(path, f"min {low} is above max {high}")
    if step_type == "text" and high is None:
        high = TEXT_MAX
    options = (
        _options(raw["options"], f"{path}.options", answer_sets, check)
        if raw.get("options") is not None
        else ()
    )
    for i, option in enumerate(options):
        if step_type in ("location", "contact"):
            check.fail(f"{path}.options[{i}]", f"a {step_type} step has no shortcut buttons")
        elif not option.typed:
            check.fail(f"{path}.options[{i}].typed", "expected the typed answer this button means")
    optional: Any = raw.get("optional", False)
    skip = ""
    if isinstance(optional, str) and optional.strip():
        skip, optional = optional.strip(), True
    if not isinstance(optional, bool):
        check.fail(f"{path}.optional", "expected true or false, or the skip button's label")
        optional = False
    button = check.text(raw, "button", path, required=step_type in ("location", "contact"))
    value_check = raw.get("check", "")
    if not isinstance(value_check, str):
        check.fail(f"{path}.check", "expected the name of a check")
        value_check = ""
    elif HOOK_RE.match(value_check):
        if step_type in ("location", "contact"):
            check.fail(f"{path}.check", f"a {step_type} step has no check")
    elif value_check and step_type != "text":
        check.fail(f"{path}.check", "only a text step has a check of bot.text.fields")
    elif value_check not in ("", *CHECKS):
        check.fail(
            f"{path}.check",
            f"unknown check {value_check!r} (known: {', '.join(CHECKS)}, or feature.name)",
        )
    errors = raw.get("errors") or {}
    if not isinstance(errors, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in errors.items()
    ):
        check.fail(f"{path}.errors", "expected a mapping of reason -> text")
        errors = {}
    return Step(
        id=step_id,
        type=step_type,
        text=check.text(raw, "text", path),
        options=options,
        next=raw.get("next"),
        min=low,
        max=high,
        optional=optional,
        error=check.text(raw, "error", path, required=False),
        button=button,
        check=value_check,
        errors={k: v.strip() for k, v in errors.items()},
        skip=skip,
    )


def _choices_step(
    raw: Mapping[str, Any], step_id: str, path: str, answer_sets: Mapping[str, Any], check: Checker
) -> Step:
    options_from = raw.get("options_from", "")
    if not isinstance(options_from, str):
        check.fail(f"{path}.options_from", "expected the name of a given fact")
        options_from = ""
    options = (
        () if options_from else _options(raw.get("options"), f"{path}.options", answer_sets, check)
    )
    low = _bound(raw, "min", path, check)
    return Step(
        id=step_id,
        type="choices",
        text=check.text(raw, "text", path),
        options=options,
        next=raw.get("next"),
        min=1 if low is None else low,
        button=check.text(raw, "button", path),
        error=check.text(raw, "error", path, required=False),
        options_from=options_from,
    )


def _common(step: Step, raw: Mapping[str, Any], path: str, check: Checker) -> Step:
    """What any asking step may have: `if` (asked only then), `show` (a preview first), and
    on text steps `formatted` and `attach`."""
    if step.type == "end":
        return step
    when, show = raw.get("if", ""), raw.get("show", "")
    if not isinstance(when, str):
        check.fail(f"{path}.if", "expected the name of a value")
        when = ""
    if not isinstance(show, str) or (show and not HOOK_RE.match(show)):
        check.fail(
            f"{path}.show", f"expected a feature's hook like 'broadcast.preview', got {show!r}"
        )
        show = ""
    flags = []
    for key in ("formatted", "attach"):
        flag = raw.get(key, False)
        if not isinstance(flag, bool) or (flag and step.type != "text"):
            check.fail(f"{path}.{key}", "only a text step has it, true or false")
            flag = False
        flags.append(flag)
    return replace(step, when=when, show=show, formatted=flags[0], attach=flags[1])


def parse_dialog(data: Any, source: str, actions: Iterable[str], contacts: Iterable[str]) -> Dialog:
    """Validate one loaded YAML document into a Dialog; raise DialogError with all problems."""
    check = Checker(source)
    if not isinstance(data, dict):
        raise DialogError(f"{source}: <top>: expected a mapping with id, version and steps")
    known_actions, known_contacts = set(actions), set(contacts)
    dialog_id = check.ident(data, "id", "")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        check.fail("version", f"expected a whole number >= 1, got {version!r}")
        version = 1
    answer_sets = data.get("answer_sets") or {}
    if not isinstance(answer_sets, dict):
        check.fail("answer_sets", "expected a mapping of name -> options")
        answer_sets = {}
    raw_steps = data.get("steps")
    steps: dict[str, Step] = {}
    order: list[str] = []
    if not isinstance(raw_steps, list) or not raw_steps:
        check.fail("steps", "expected a non-empty list of steps")
        raw_steps = []
    for i, raw in enumerate(raw_steps):
        path = f"steps[{i}]"
        if not isinstance(raw, dict):
            check.fail(path, "expected a mapping")
            continue
        step_id = check.ident(raw, "id", path)
        step_type = raw.get("type", "choice")
        if step_type not in STEP_TYPES:
            check.fail(
                f"{path}.type", f"expected one of {', '.join(STEP_TYPES)}, got {step_type!r}"
            )
            continue
        if step_id in steps:
            check.fail(f"{path}.id", f"duplicate step id {step_id!r}")
            continue
        if step_type == "choice":
            step = Step(
                id=step_id,
                type="choice",
                text=check.text(raw, "text", path),
                options=_options(raw.get("options"), f"{path}.options", answer_sets, check),
                next=raw.get("next"),
            )
        elif step_type == "choices":
            step = _choices_step(raw, step_id, path, answer_sets, check)
        elif step_type in TYPED_STEPS:
            step = _typed_step(raw, step_id, step_type, path, answer_sets, check)
        else:
            action = raw.get("action")
            if action not in known_actions:
                check.fail(
                    f"{path}.action",
                    f"unknown action {action!r} (known: {', '.join(sorted(known_actions))})",
                )
            step = Step(id=step_id, type="end", action=action)
        step = _common(step, raw, path, check)
        steps[step_id] = step
        order.append(step_id)
    # Every jump must land on a step of this dialog, and the dialog must be able to end.
    for i, step_id in enumerate(order):
        step = steps[step_id]
        targets = [step.next] + [o.next for o in step.options]
        for target in targets:
            if target is not None and target not in steps:
                check.fail(f"steps[{i}]", f"'next' points to unknown step {target!r}")
    if order and steps[order[-1]].type != "end":
        check.fail(f"steps[{len(order) - 1}]", "the last step must be of type 'end'")
    values = data.get("values") or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        check.fail("values", "expected a list of names")
        values = []
    hooks = {}
    for key in ("guard", "fill"):
        hook = data.get(key)
        if hook is not None and not (isinstance(hook, str) and HOOK_RE.match(hook)):
            check.fail(key, f"expected a feature's hook like 'evenings.draft', got {hook!r}")
            hook = None
        hooks[key] = hook
    on_stop = data.get("on_stop")
    if on_stop is not None and on_stop not in known_actions:
        check.fail("on_stop", f"unknown action {on_stop!r}")
    _check_placeholders(steps, order, set(values), check)
    intro = data.get("intro")
    if isinstance(intro, str):
        for name in sorted(placeholders(intro) - set(steps) - set(values)):
            check.fail("intro", f"{{{name}}} is no step and not in the dialog's 'values'")

    messages = data.get("messages") or {}
    if not isinstance(messages, dict) or not all(isinstance(v, str) for v in messages.values()):
        check.fail("messages", "expected a mapping of name -> text")
        messages = {}

    dialog = Dialog(
        id=dialog_id,
        version=version,
        source=source,
        command=data.get("command"),
        title=check.text(data, "title", ""),
        intro=check.text(data, "intro", "", required=False),
        requires_consent=bool(data.get("requires_consent", True)),
        view_only=bool(data.get("view_only", False)),
        keeps_answers=bool(data.get("keeps_answers", True)),
        on_stop=on_stop,
        guard=hooks["guard"],
        fill=hooks["fill"],
        values=tuple(values),
        progress=bool(data.get("progress", False)),
        steps=steps,
        order=tuple(order),
        messages=messages,
        menu_label=(data.get("menu") or {}).get("label"),
        menu_order=int((data.get("menu") or {}).get("order", 100)),
        extra={k: v for k, v in data.items() if k not in _KNOWN_KEYS},
    )
    bands = _bands(data.get("scoring"), dialog, known_contacts, check)
    if check.problems:
        raise DialogError("\n".join(check.problems))
    return Dialog(**{**dialog.__dict__, "bands": bands})


_KNOWN_KEYS = {
    "id", "version", "command", "title", "intro", "requires_consent", "view_only", "progress",
    "steps", "answer_sets", "messages", "menu", "scoring", "keeps_answers", "on_stop", "guard",
    "fill", "values",
}  # fmt: skip


def placeholders(text: str) -> set[str]:
    """The `{names}` a text fills in ("Dat is {starts_at}." -> {"starts_at"})."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}
    except ValueError:
        return {"<unbalanced braces>"}


def _check_placeholders(
    steps: Mapping[str, Step], order: list[str], values: set[str], check: Checker
) -> None:
    """Every `{name}` in a step's texts, and every name its `if`s and `options_from` read, is
    a step of the dialog or a declared value."""
    known = set(steps) | values
    for i, step_id in enumerate(order):
        step = steps[step_id]
        texts = [step.text, step.error, step.skip, *step.options_texts()]
        for text in texts:
            for name in sorted(placeholders(text) - known):
                check.fail(f"steps[{i}]", f"{{{name}}} is no step and not in the dialog's 'values'")
        conditions = [step.when, step.options_from, *(o.when for o in step.options)]
        for name in sorted({c for c in conditions if c} - known):
            check.fail(f"steps[{i}]", f"{name!r} is no step and not in the dialog's 'values'")


def _bands(raw: Any, dialog: Dialog, contacts: set[str], check: Checker) -> tuple[Band, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict) or not isinstance(raw.get("bands"), list) or not raw["bands"]:
        check.fail("scoring", "expected 'bands': a list of score ranges")
        return ()
    bands: list[Band] = []
    for i, item in enumerate(raw["bands"]):
        path = f"scoring.bands[{i}]"
        if not isinstance(item, dict):
            check.fail(path, "expected a mapping")
            continue
        lo, hi = item.get("min"), item.get("max")
        if not isinstance(lo, int) or not isinstance(hi, int) or lo > hi:
            check.fail(path, f"expected whole numbers min <= max, got {lo!r}..{hi!r}")
            continue
        steps_raw = item.get("next_steps") or []
        if not isinstance(steps_raw, list) or not all(isinstance(s, str) for s in steps_raw):
            check.fail(f"{path}.next_steps", "expected a list of texts")
            steps_raw = []
        band_contacts = item.get("contacts") or []
        for c in band_contacts:
            if c not in contacts:
                check.fail(f"{path}.contacts", f"unknown contact {c!r} (see dialogs/contacts.yaml)")
        bands.append(
            Band(
                id=check.ident(item, "id", path),
                min=lo,
                max=hi,
                title=check.text(item, "title", path),
                meaning=check.text(item, "meaning", path),
                next_steps=tuple(s.strip() for s in steps_raw),
                contacts=tuple(band_contacts),
            )
        )
    # Bands must cover every possible score exactly once, so every result has a meaning.
    expected = 0
    for band in sorted(bands, key=lambda b: b.min):
        if band.min != expected:
            check.fail(
                "scoring.bands", f"scores {expected}..{band.min - 1} have no band (or overlap)"
            )
        expected = band.max + 1
    if bands and expected != dialog.max_score + 1:
        check.fail(
            "scoring.bands", f"bands end at {expected - 1}, the maximum score is {dialog.max_score}"
        )
    if bands and not max(bands, key=lambda b: b.max).contacts:
        check.fail("scoring.bands", "the heaviest band must name a human to contact ('contacts')")
    return tuple(bands)


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> Any:
    try:
        # libyaml's loader when PyYAML has it: the same safe subset, about ten times faster.
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "<top>"
        raise DialogError(
            f"{path.name}: {where}: not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from exc
