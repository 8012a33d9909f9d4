"""Distress in what a caregiver types: recognised by intent, answered warmly and alone, with the
right first contact; an open question stays where it was."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.app.dispatch import BotCore
from bot.distress import DistressFileError, DistressIntent, build_detector, detect
from bot.engine.spec import DIALOGS_DIR, load_yaml
from bot.features import ACTIONS
from bot.text.content import load_content
from bot.transport.terminal import plain
from tests.conversation import CoreUser
from tests.test_steunpunt import DEN_BOSCH, directory, taps_on_card  # noqa: F401 (fixture)
from tests.test_steunpunt import onboarded as onboarded_with_directory

CORPUS = yaml.safe_load((Path(__file__).parent / "data" / "distress_corpus.yaml").read_text())
POSITIVE = [(text, intent) for intent, texts in CORPUS["positive"].items() for text in texts]


def test_the_corpus_is_large_enough_to_mean_something() -> None:
    assert len(POSITIVE) >= 80 and len(CORPUS["negative"]) >= 40
    assert {intent for _, intent in POSITIVE} == {i.value for i in DistressIntent}


@pytest.mark.parametrize(("text", "intent"), POSITIVE)
def test_each_sentence_of_distress_is_recognised_with_its_intent(text: str, intent: str) -> None:
    assert detect(text) is DistressIntent(intent)


@pytest.mark.parametrize("text", CORPUS["negative"])
def test_ordinary_messages_do_not_alarm(text: str) -> None:
    assert detect(text) is None


def test_a_broken_pattern_stops_the_start_with_its_place() -> None:
    data = load_yaml(DIALOGS_DIR / "distress.yaml")
    data["intents"]["harm"]["patterns"].append("ik @nobody")
    with pytest.raises(DistressFileError, match=r"intents\.harm\.patterns\[\d+\].*@nobody"):
        build_detector(data)
    data = load_yaml(DIALOGS_DIR / "distress.yaml")
    data["intents"]["suicide"]["contacts"] = ["crisis_113", "crisis_113"]
    with pytest.raises(DistressFileError, match="repeated"):
        build_detector(data, ["crisis_113"])


def test_every_answer_names_each_contact_once_with_its_own_first() -> None:
    content = load_content(DIALOGS_DIR, ACTIONS)
    first = {
        DistressIntent.DANGER: "emergency_112",
        DistressIntent.SUICIDE: "crisis_113",
        DistressIntent.HARM: "veilig_thuis",
        DistressIntent.EXHAUSTION: "huisarts",
    }
    for intent, contact in first.items():
        rule = content.distress.rule(intent)
        assert rule.contacts[0] == contact
        assert len(set(rule.contacts)) == len(rule.contacts)
    assert "steunpunt" in content.distress.rule(DistressIntent.EXHAUSTION).contacts


async def onboarded(core: BotCore, user_id: int = 900, language: str = "Nederlands") -> CoreUser:
    user = CoreUser(core, user_id, language_code="nl" if language == "Nederlands" else "en")
    await user.says("/start")
    await user.taps(language)
    await user.taps("Ja, dat mag" if language == "Nederlands" else "Yes")
    return user


async def test_thoughts_of_suicide_get_113_first_and_their_own_words(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("ik zie het echt niet meer zitten")
    (answer,) = user.last.messages
    text = plain(answer.text)
    assert "zelfdoding" in text and "niet meer kunt" not in text
    assert text.index("0800-0113") < text.index("112") < text.index("huisarts")
    assert text.count("0800-0113") == 1


async def test_fear_of_harming_the_person_cared_for_leads_to_veilig_thuis(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("Ik ben bang dat ik haar iets aandoe")
    text = plain(user.last_text)
    assert text.index("0800-2000") < text.index("112")
    assert "geen aangifte" in text and "0800-0113" not in text


async def test_immediate_danger_puts_112_first(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("mijn man reageert niet meer!")
    text = plain(user.last_text)
    assert text.index("112") < text.index("0800-0113") < text.index("0800-2000")


async def test_the_crisis_answer_stands_alone_and_the_question_stays_open(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/zelftest")
    await user.taps("Soms")
    await user.says("ik kan het gewoon niet meer")
    assert "Vraag" not in user.last_text and "begrijp" not in user.last_text
    assert "huisarts" in user.last_text
    await user.says("/zelftest")
    assert "Vraag 2 van 10" in user.last_text  # nothing lost, nothing taken as an answer


async def test_english_distress_is_answered_in_english(core: BotCore) -> None:
    user = await onboarded(core, 901, "English")
    await user.says("I don't want to live anymore")
    text = plain(user.last_text)
    assert "0800-0113" in text and "Talk about it now" in text and "suicide" in text


async def test_exhaustion_without_a_saved_steunpunt_offers_to_find_it(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("Het wordt me allemaal te veel")
    assert user.buttons[0].data == "m:steunpunt"
    assert "huisartsenpost" in user.last_text


@pytest.mark.usefixtures("directory")
async def test_exhaustion_shows_my_own_steunpunt_instead_of_the_general_line(
    core: BotCore,
) -> None:
    user = await onboarded_with_directory(core)
    await user.says("/steunpunt")
    await user.says("5211 ab")
    await taps_on_card(user, "Bewaar als mijn steunpunt")
    await user.says("ik trek het niet meer")
    words, card = user.last.messages
    assert plain(card.text).startswith(DEN_BOSCH)
    assert "steunpunt mantelzorg voor jouw gemeente" not in plain(words.text)
