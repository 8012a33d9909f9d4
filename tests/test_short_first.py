"""Short first: no message over 120 words and no answer to one tap or command over 250 words,
measured over the dialogs in Dutch and English; no contact named twice in one answer."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

import pytest

from bot.app.dispatch import BotCore
from bot.distress import DistressIntent, crisis_text
from bot.engine.flow import render_question, start
from bot.engine.output import OutMessage, Reply
from bot.features import load
from bot.features.respite.handlers import DIALOG_ID, Respite, advise, load_catalogue
from bot.features.respite.models import RespiteAdvice
from bot.features.steunpunt.handlers import Finder
from bot.text.content import Content, Texts
from bot.text.i18n import SUPPORTED_LOCALES, get_translator
from bot.transport.terminal import plain
from tests.conversation import CoreUser

MESSAGE_WORDS, ANSWER_WORDS = 120, 250
CONTENT, REGISTRY = load()
# 113 is also the name of its line ("113 Zelfmoordpreventie: 113 of 0800-0113").
PHONE = re.compile(r"\b0\d{2,3}-\d{4,7}\b|\b112\b")


def words(text: str) -> int:
    return len(plain(text).split())


def check(answer: list[OutMessage], where: str) -> None:
    for message in answer:
        assert words(message.text) <= MESSAGE_WORDS, f"{where}: {words(message.text)} words"
    total = sum(words(m.text) for m in answer)
    assert total <= ANSWER_WORDS, f"{where}: {total} words in one answer"
    # A contact once: the labels of the contact list and each phone number.
    text = "\n".join(plain(m.text) for m in answer)
    for contact in CONTENT.contacts.values():
        bullet = "• " + plain(texts(locale_of(where)).tr(contact.label))
        assert text.count(bullet) <= 1, f"{where}: {contact.id} twice"
    numbers = PHONE.findall(text)
    assert len(numbers) == len(set(numbers)), f"{where}: a number twice: {numbers}"


def locale_of(where: str) -> str:
    return where.split(":", 1)[0]


def texts(locale: str) -> Texts:
    return Texts(CONTENT, get_translator(locale))


@dataclass
class _Ctx:
    """What rendering without a database reads of a Context."""

    texts: Texts
    content: Content


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_question_and_every_crisis_answer_is_short(locale: str) -> None:
    for dialog in CONTENT.dialogs.values():
        state = start(dialog)
        for step_id in dialog.questions:
            state.step = step_id
            check([render_question(dialog, state, texts(locale))], f"{locale}:{step_id}")
    for intent in DistressIntent:
        check([OutMessage(crisis_text(texts(locale), intent))], f"{locale}:{intent}")
    for key, source in CONTENT.messages.items():
        assert words(texts(locale).tr(source)) <= MESSAGE_WORDS, f"{locale}:{key}"


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_respite_summary_form_and_payment_is_short(locale: str) -> None:
    dialog = CONTENT.dialogs[DIALOG_ID]
    feature = Respite(load_catalogue_for(dialog), Finder(()))
    ctx: Any = _Ctx(texts(locale), CONTENT)
    questions = [q for q in dialog.questions if q != "safety"]
    values = [[o.value for o in dialog.steps[q].options] for q in questions]
    seen: set[tuple[str, ...]] = set()
    for combo in itertools.product(*values):
        answers = {"safety": "ok", **dict(zip(questions, combo, strict=True))}
        advice = RespiteAdvice(id=1, answers=answers)
        where = f"{locale}:{answers}"
        check([feature.summary_message(ctx, advice)], where)
        for advised in advise(answers, feature.catalogue):
            key = (advised.option.id, *advised.routes)
            if key in seen:
                continue
            seen.add(key)
            check([feature.option_message(ctx, advice, advised, [])], where)
            check([feature.funding_message(ctx, advice, advised)], where)


def load_catalogue_for(dialog: Any) -> Any:
    from bot.engine.spec import DIALOGS_DIR

    return load_catalogue(DIALOGS_DIR, dialog)


SELFCHECK_ANSWERS = {
    "light": ["Nee"] * 8 + ["Ja, genoeg", "Ja, dat lukt"],
    "moderate": ["Soms"] * 8 + ["Een beetje", "Ja, dat lukt"],
    "heavy": ["Ja, vaak"] * 6 + ["Nee"] * 2 + ["Ja, genoeg", "Ja, dat lukt"],
    "overloaded": ["Ja, vaak"] * 8 + ["Nee, te weinig", "Het wordt te zwaar"],
    "urgent": ["Nee"] * 8 + ["Ja, genoeg", "Nee, ik kan niet meer"],
    "overloaded_urgent": ["Ja, vaak"] * 8 + ["Nee, te weinig", "Nee, ik kan niet meer"],
}
ENGLISH = {
    "Nee": "No",
    "Soms": "Sometimes",
    "Ja, vaak": "Yes, often",
    "Ja, genoeg": "Yes, enough",
    "Een beetje": "A little",
    "Nee, te weinig": "No, too little",
    "Ja, dat lukt": "Yes, I can manage",
    "Het wordt te zwaar": "It's getting too much",
    "Nee, ik kan niet meer": "No, I can't go on",
}


def measured(reply: Reply | None, where: str) -> None:
    assert reply is not None
    check(reply.messages, where)


@pytest.mark.parametrize("case", sorted(SELFCHECK_ANSWERS))
async def test_every_self_check_result_is_short_in_both_languages(core: BotCore, case: str) -> None:
    for user_id, (locale, label, yes) in enumerate(
        [("nl", "Nederlands", "Ja, dat mag"), ("en", "English", "Yes")], start=700
    ):
        user = CoreUser(core, user_id, language_code=locale)
        await user.says("/start")
        await user.taps(label)
        await user.taps(yes)
        measured(await user.says("/zelftest"), f"{locale}:/zelftest")
        for answer in SELFCHECK_ANSWERS[case]:
            measured(await user.taps(answer if locale == "nl" else ENGLISH[answer]), locale)
        for command in ("hulp", "privacy", "resultaten", "respijt", "menu"):
            measured(await user.says(f"/{command}"), f"{locale}:/{command}")


TOPIC_WORDS = ("zwaar", "zorg", "respijt", "uitslag", "score", "heavy", "care", "respite", "result")


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("key", ["checkin_question", "followup_question"])
def test_the_first_two_lines_of_a_scheduled_question_reveal_no_topic(locale: str, key: str) -> None:
    dialog = CONTENT.dialogs[DIALOG_ID]
    text = texts(locale).dialog_message(dialog, key)
    # A lock screen shows the first lines that are not empty.
    lines = [line for line in plain(text).splitlines() if line.strip()][:2]
    assert len(lines) == 2
    for word in TOPIC_WORDS:
        assert word not in " ".join(lines).casefold(), f"{locale}:{key}: {lines}"
