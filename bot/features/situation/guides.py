"""The situation guides as data: every `dialogs/*.yaml` file with a `situation:` block is a
guide, read and checked here (no Python change to add one); `fitting` decides which guide a
moment elsewhere in the bot suggests. Pure: no database, no Telegram.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.engine.spec import Checker, DialogError, load_yaml
from bot.text.content import Content

GUIDE_KEY = "situation"
# The feature's own file: shared texts and when the list of all guides is suggested.
FEATURE_FILE = "situation.yaml"
# The offer of the list of all guides, stored like a guide's key.
LIST = "list"
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,23}$")
# A moment is named "<feature or dialog id>.<what>" by the feature that reaches it.
_MOMENT_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_GUIDE_TEXTS = ("label", "button", "title", "summary")

Conditions = Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class Helper:
    """Someone who can help: a profession (or a national line), what they do, what to ask."""

    title: str
    text: str
    prompt: str
    phone: str = ""


@dataclass(frozen=True)
class Right:
    title: str
    text: str


@dataclass(frozen=True)
class Suggest:
    """Suggest the guide after `after` when the answers given then match `when`."""

    after: str
    when: Conditions


@dataclass(frozen=True)
class Guide:
    """One situation: the picker's `label`, the suggestion's `button`, the texts (Dutch source),
    and `links`: commands (zelftest, respijt, mijnavonden...) shown as buttons when they exist."""

    key: str
    order: int
    label: str
    button: str
    title: str
    summary: str
    next_steps: tuple[str, ...]
    helpers: tuple[Helper, ...]
    rights: tuple[Right, ...]
    links: tuple[str, ...]
    suggest: tuple[Suggest, ...]
    source: str


@dataclass(frozen=True)
class Guides:
    guides: tuple[Guide, ...]
    # When the list of all guides is suggested (no single guide fits the moment).
    list_suggest: tuple[Suggest, ...] = ()

    def get(self, key: str) -> Guide | None:
        return next((g for g in self.guides if g.key == key), None)

    def fitting(self, moment: str, answers: Mapping[str, str]) -> list[str]:
        """Keys of the guides that fit `moment` and `answers`, in their order; `LIST` last when
        the list of all guides is suggested at this moment."""
        keys = [g.key for g in self.guides if any(_fits(s, moment, answers) for s in g.suggest)]
        if any(_fits(s, moment, answers) for s in self.list_suggest):
            keys.append(LIST)
        return keys


def _fits(suggest: Suggest, moment: str, answers: Mapping[str, str]) -> bool:
    return suggest.after == moment and all(
        answers.get(question) in allowed for question, allowed in suggest.when.items()
    )


def _suggest(raw: Any, path: str, content: Content, problems: Checker) -> tuple[Suggest, ...]:
    """`suggest: [{after: respite.advice, when: {home: [care_home]}}]`; `when` names questions
    and answers of the dialog the moment belongs to (its first part), checked against it."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.fail(path, "expected a list of {after, when}")
        return ()
    found: list[Suggest] = []
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        after = item.get("after") if isinstance(item, dict) else None
        if not isinstance(after, str) or not _MOMENT_RE.match(after):
            problems.fail(f"{where}.after", "expected a moment like 'respite.advice'")
            continue
        when_raw = item.get("when") or {}
        dialog = content.dialogs.get(after.split(".", 1)[0])
        if not isinstance(when_raw, dict) or (when_raw and dialog is None):
            problems.fail(f"{where}.when", "expected answers of a dialog's questions")
            continue
        when: dict[str, frozenset[str]] = {}
        for question, values in when_raw.items():
            assert dialog is not None
            step = dialog.steps.get(question)
            known = {o.value for o in step.options} if step is not None else set()
            if not known:
                problems.fail(f"{where}.when.{question}", f"not a question of {dialog.source}")
                continue
            if not isinstance(values, list) or not values or not set(map(str, values)) <= known:
                problems.fail(f"{where}.when.{question}", f"expected answers from {sorted(known)}")
                continue
            when[question] = frozenset(map(str, values))
        found.append(Suggest(after, when))
    return tuple(found)


def _helpers(raw: Any, path: str, problems: Checker) -> tuple[Helper, ...]:
    if not isinstance(raw, list) or not raw:
        problems.fail(path, "expected a list of who can help (title, text, prompt)")
        return ()
    helpers = []
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        if not isinstance(item, dict):
            problems.fail(where, "expected a mapping with title, text and prompt")
            continue
        phone = item.get("phone", "")
        if not isinstance(phone, str) or (phone and not re.fullmatch(r"[0-9-]{3,12}", phone)):
            problems.fail(f"{where}.phone", "expected a number like '0800-5088'")
            phone = ""
        helpers.append(
            Helper(
                title=problems.text(item, "title", where),
                text=problems.text(item, "text", where),
                prompt=problems.text(item, "prompt", where),
                phone=phone,
            )
        )
    return tuple(helpers)


def _rights(raw: Any, path: str, problems: Checker) -> tuple[Right, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.fail(path, "expected a list of rights (title, text)")
        return ()
    rights = []
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        if not isinstance(item, dict):
            problems.fail(where, "expected a mapping with title and text")
            continue
        rights.append(
            Right(problems.text(item, "title", where), problems.text(item, "text", where))
        )
    return tuple(rights)


def parse_guide(data: Any, source: str, content: Content, links: set[str]) -> Guide:
    """One guide file's `situation:` block; raises DialogError naming every problem."""
    problems = Checker(source)
    path = GUIDE_KEY
    raw = data.get(GUIDE_KEY) if isinstance(data, dict) else None
    if not isinstance(raw, dict):
        raise DialogError(f"{source}: {path}: expected a mapping")
    key = raw.get("key")
    if not isinstance(key, str) or not _KEY_RE.match(key) or key == LIST:
        problems.fail(f"{path}.key", f"expected an id like 'dementia' (not {LIST!r})")
        key = ""
    order = raw.get("order", 100)
    if not isinstance(order, int) or isinstance(order, bool):
        problems.fail(f"{path}.order", "expected a whole number")
        order = 100
    texts = {name: problems.text(raw, name, path) for name in _GUIDE_TEXTS}
    steps = raw.get("next_steps") or []
    if not isinstance(steps, list) or not all(isinstance(s, str) and s.strip() for s in steps):
        problems.fail(f"{path}.next_steps", "expected a list of texts")
        steps = []
    guide_links = raw.get("links") or []
    unknown = [link for link in guide_links if link not in links]
    if not isinstance(guide_links, list) or unknown:
        problems.fail(f"{path}.links", f"unknown links {unknown} (known: {sorted(links)})")
        guide_links = []
    guide = Guide(
        key=key,
        order=order,
        next_steps=tuple(s.strip() for s in steps),
        helpers=_helpers(raw.get("helpers"), f"{path}.helpers", problems),
        rights=_rights(raw.get("rights"), f"{path}.rights", problems),
        links=tuple(guide_links),
        suggest=_suggest(raw.get("suggest"), f"{path}.suggest", content, problems),
        source=source,
        **texts,
    )
    if problems.problems:
        raise DialogError("\n".join(problems.problems))
    return guide


def load_guides(directory: Path, content: Content, links: set[str]) -> Guides:
    """Every guide file in `directory`, ordered; `links`: the link names the texts know."""
    problems: list[str] = []
    guides: list[Guide] = []
    for path in sorted(directory.glob("*.yaml")):
        data = load_yaml(path)
        if not isinstance(data, dict) or GUIDE_KEY not in data:
            continue
        try:
            guides.append(parse_guide(data, path.name, content, links))
        except DialogError as exc:
            problems.append(str(exc))
    keys = [g.key for g in guides]
    problems += [
        f"{GUIDE_KEY}.key {k!r} is used twice" for k in sorted(set(keys)) if keys.count(k) > 1
    ]
    own = directory / FEATURE_FILE
    list_raw = (load_yaml(own) or {}).get("list_suggest") if own.exists() else None
    list_problems = Checker(FEATURE_FILE)
    list_suggest = _suggest(list_raw, "list_suggest", content, list_problems)
    problems += list_problems.problems
    if problems:
        raise DialogError("\n".join(problems))
    return Guides(tuple(sorted(guides, key=lambda g: (g.order, g.key))), list_suggest)
