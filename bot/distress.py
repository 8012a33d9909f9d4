"""Recognising distress in what a caregiver types, and the crisis answer for it.

The patterns are data (`dialogs/distress.yaml`), written in a small token language so one line
covers spelling variants and extra words; `Detector.detect` is pure. `crisis_reply` builds the
answer that the router sends alone, before anything else.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.engine.output import OutMessage, Reply, command_button, rows

if TYPE_CHECKING:
    from bot.app.dispatch import Context
    from bot.text.content import Texts

DISTRESS_FILE = "distress.yaml"
# What a typed message is cut to before matching: enough for any sentence, bounded work.
MAX_CHARS = 2000
_CLAUSE_BREAK = re.compile(r"[.!?;:,\n]+")
_GAP = 3  # words a "~" or "..." token may skip


class DistressIntent(Enum):
    """What a message signals, in order of precedence (the first that matches wins).

    Pitfall: the order matters. "Ik ben bang dat ik mezelf iets aandoe" fits both harm and
    suicidal thoughts; the heavier intent (and its first contact) must win.
    """

    DANGER = "danger"
    SUICIDE = "suicide"
    HARM = "harm"
    EXHAUSTION = "exhaustion"


class DistressFileError(ValueError):
    """dialogs/distress.yaml is invalid; the message names the place and the problem."""


def normalise(text: str) -> list[str]:
    """The clauses of `text`, each lower case without accents, apostrophes or other marks."""
    decomposed = unicodedata.normalize("NFKD", text[:MAX_CHARS].casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = plain.replace("’", "").replace("'", "").replace("`", "")
    clauses = []
    for clause in _CLAUSE_BREAK.split(plain):
        words = "".join(c if c.isalnum() else " " for c in clause).split()
        if words:
            clauses.append(" ".join(words) + " ")
    return clauses


class _Compiler:
    """Turns token patterns into regular expressions over a normalised clause.

    Tokens, separated by spaces: `word`, `a|b` (either), `word*` (any ending), `multi_word`
    (an underscore is a space), `[a|b]` (optional), `@class` (a word class of the file),
    `~` (up to three filler words such as "echt", "gewoon"), `...` (up to three words) and `$`
    (the end of the clause, or one of the `tails` such as "hoor" or "anymore").
    """

    def __init__(self, classes: Mapping[str, Sequence[str]], where: str) -> None:
        self.classes = classes
        self.where = where
        self._class_cache: dict[str, str] = {}
        self._busy: set[str] = set()

    def fail(self, problem: str) -> DistressFileError:
        return DistressFileError(f"{DISTRESS_FILE}: {self.where}: {problem}")

    def word(self, alternative: str) -> str:
        if alternative.startswith("@"):
            return self.klass(alternative[1:])
        if not re.fullmatch(r"[a-z0-9_]+\*?", alternative):
            raise self.fail(f"{alternative!r} is not a word (lower case, no accents)")
        stem = re.escape(alternative.rstrip("*")).replace("_", " ")
        return stem + (r"[a-z0-9]*" if alternative.endswith("*") else "") + " "

    def klass(self, name: str) -> str:
        if name in self._class_cache:
            return self._class_cache[name]
        if name not in self.classes:
            raise self.fail(f"unknown word class @{name} (known: {', '.join(self.classes)})")
        if name in self._busy:
            raise self.fail(f"word class @{name} refers to itself")
        self._busy.add(name)
        compiled = "(?:" + "|".join(self.sequence(item) for item in self.classes[name]) + ")"
        self._busy.discard(name)
        self._class_cache[name] = compiled
        return compiled

    def token(self, token: str) -> str:
        if token == "~":
            return f"(?:{self.klass('fill')}){{0,{_GAP}}}"
        if token == "...":
            return f"(?:[a-z0-9]+ ){{0,{_GAP}}}"
        if token == "$":
            return f"(?:$|{self.klass('tails')})"
        optional = token.startswith("[") and token.endswith("]")
        body = token[1:-1] if optional else token
        if not body or any(not a for a in body.split("|")):
            raise self.fail(f"empty alternative in {token!r}")
        group = "(?:" + "|".join(self.word(a) for a in body.split("|")) + ")"
        return group + "?" if optional else group

    def sequence(self, pattern: str) -> str:
        tokens = pattern.split()
        if not tokens:
            raise self.fail("empty pattern")
        return "".join(self.token(t) for t in tokens)

    def pattern(self, pattern: str) -> re.Pattern[str]:
        return re.compile(r"(?<![a-z0-9])" + self.sequence(pattern))


@dataclass(frozen=True)
class IntentRule:
    """One intent: its patterns and the contacts of its answer, the first contact first."""

    intent: DistressIntent
    patterns: tuple[re.Pattern[str], ...]
    contacts: tuple[str, ...]
    own_steunpunt: bool = False


@dataclass(frozen=True)
class Detector:
    """Finds the heaviest distress intent in a typed message.

    Pitfall: a pattern only sees one clause (text between punctuation), so "$" can ask for
    "ik kan niet meer" to end there and not to go on as "ik kan niet meer inloggen".
    """

    rules: tuple[IntentRule, ...]

    def detect(self, text: str) -> DistressIntent | None:
        clauses = normalise(text)
        for rule in self.rules:
            for clause in clauses:
                if any(p.search(clause) for p in rule.patterns):
                    return rule.intent
        return None

    def rule(self, intent: DistressIntent) -> IntentRule:
        return next(r for r in self.rules if r.intent is intent)


def build_detector(data: Any, contacts: Sequence[str] = ()) -> Detector:
    """Validate the loaded distress file into a Detector; raise DistressFileError."""
    if not isinstance(data, dict):
        raise DistressFileError(f"{DISTRESS_FILE}: expected a mapping with classes and intents")
    classes = data.get("classes") or {}
    if not isinstance(classes, dict) or not all(
        isinstance(v, list) and v and all(isinstance(i, str) for i in v) for v in classes.values()
    ):
        raise DistressFileError(f"{DISTRESS_FILE}: classes: expected name -> list of words")
    for needed in ("fill", "tails"):
        if needed not in classes:
            raise DistressFileError(f"{DISTRESS_FILE}: classes.{needed}: missing")
    raw = data.get("intents")
    if not isinstance(raw, dict):
        raise DistressFileError(f"{DISTRESS_FILE}: intents: expected a mapping")
    missing = [i.value for i in DistressIntent if i.value not in raw]
    if missing:
        raise DistressFileError(f"{DISTRESS_FILE}: intents: missing {missing}")
    rules = []
    for intent in DistressIntent:
        item = raw[intent.value]
        where = f"intents.{intent.value}"
        if not isinstance(item, dict):
            raise DistressFileError(f"{DISTRESS_FILE}: {where}: expected a mapping")
        patterns = item.get("patterns")
        if not isinstance(patterns, list) or not patterns:
            raise DistressFileError(f"{DISTRESS_FILE}: {where}.patterns: expected a list")
        wanted = item.get("contacts") or []
        unknown = [c for c in wanted if contacts and c not in contacts]
        if unknown or len(set(wanted)) != len(wanted):
            raise DistressFileError(
                f"{DISTRESS_FILE}: {where}.contacts: unknown or repeated contacts {wanted}"
            )
        compiled = []
        for i, pattern in enumerate(patterns):
            if not isinstance(pattern, str):
                raise DistressFileError(f"{DISTRESS_FILE}: {where}.patterns[{i}]: not a text")
            compiled.append(_Compiler(classes, f"{where}.patterns[{i}]").pattern(pattern))
        rules.append(
            IntentRule(
                intent,
                tuple(compiled),
                tuple(wanted),
                own_steunpunt=item.get("own_steunpunt") is True,
            )
        )
    return Detector(tuple(rules))


@cache
def default_detector(directory: Path | None = None) -> Detector:
    from bot.engine.spec import DIALOGS_DIR, load_yaml

    return build_detector(load_yaml((directory or DIALOGS_DIR) / DISTRESS_FILE))


def detect(text: str) -> DistressIntent | None:
    """The distress intent of `text` by the shipped patterns (`dialogs/distress.yaml`)."""
    return default_detector().detect(text)


def crisis_text(texts: Texts, intent: DistressIntent, *, skip: Sequence[str] = ()) -> str:
    """The warm intro of `intent` and its contacts in order, each once (`skip`: shown apart)."""
    rule = texts.content.distress.rule(intent)
    lines = [texts.get(f"distress_{intent.value}_intro"), ""]
    lines += texts.contact_lines(c for c in rule.contacts if c not in skip)
    return "\n".join(lines)


async def own_steunpunt_card(ctx: Context) -> OutMessage | None:
    """The caregiver's saved steunpunt as a card (the features' help cards), or None."""
    for card in ctx.core.registry.help_cards:
        message = await card(ctx)
        if message is not None:
            return message
    return None


async def crisis_reply(ctx: Context, intent: DistressIntent) -> Reply:
    """The whole answer to a distress signal: the intent's text, and for exhaustion the
    caregiver's own steunpunt (its card when saved, otherwise a button to find it)."""
    texts = ctx.texts
    rule = ctx.content.distress.rule(intent)
    reply = Reply()
    buttons = [command_button(texts.get("button_menu"), "menu")]
    skip: list[str] = []
    if rule.own_steunpunt:
        card = await own_steunpunt_card(ctx)
        if card is not None:
            reply.add(card)
            skip.append("steunpunt")
        elif "steunpunt" in ctx.core.registry.commands:
            buttons.insert(0, command_button(texts.get("distress_find_steunpunt"), "steunpunt"))
    text = crisis_text(texts, intent, skip=skip)
    reply.messages.insert(0, OutMessage(text, rows(*buttons)))
    return reply
