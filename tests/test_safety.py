"""Safety in the conversation: typed signs of acute overload bring humans at once; /hulp knows
the caregiver's own steunpunt."""

from __future__ import annotations

import pytest

from bot.app.dispatch import BotCore
from bot.transport.terminal import plain
from tests.conversation import CoreUser
from tests.test_steunpunt import DEN_BOSCH, directory, taps_on_card  # noqa: F401 (fixture)
from tests.test_steunpunt import onboarded as onboarded_with_directory


async def onboarded(core: BotCore, user_id: int = 900) -> CoreUser:
    user = CoreUser(core, user_id)
    await user.says("/start")
    await user.taps("Nederlands")
    await user.taps("Ja, dat mag")
    return user


async def test_typing_i_cannot_go_on_in_the_selfcheck_brings_humans_and_keeps_the_question(
    core: BotCore,
) -> None:
    user = await onboarded(core)
    await user.says("/zelftest")
    question = user.buttons
    await user.says("Ik kán het niet meer...")
    (crisis,) = user.last.messages  # the crisis answer stands alone: no fallback, no re-ask
    first = plain(crisis.text)
    assert "huisarts" in first and "0800-0113" in first
    user.buttons = question  # still on the screen above the crisis answer
    await user.taps("Nee")  # the question waited where it was: nothing lost
    assert "Vraag 2 van 10" in user.last_text


async def test_typed_crisis_words_outside_any_dialog_bring_crisis_contacts(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("soms denk ik aan zelfmoord")
    assert "0800-0113" in plain(user.last.messages[0].text)
    user_en = CoreUser(core, 901, language_code="en")
    await user_en.says("I want to die")
    assert "0800-0113" in plain(user_en.last.messages[0].text)


async def test_ordinary_words_do_not_raise_an_alarm(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("ik kan niet meetellen hoe vaak")
    assert "0800-0113" not in user.last_text


async def test_the_crisis_answer_tapped_lifts_the_result_and_names_each_contact_once(
    core: BotCore,
) -> None:
    user = await onboarded(core)
    await user.says("/zelftest")
    for answer in ["Nee"] * 8 + ["Ja, genoeg"]:
        await user.taps(answer)
    await user.taps("Nee, ik kan niet meer")
    text = user.last_text
    assert "Uitslag: zwaar" in text and "niet meer volhoudt" in text
    assert "goed te doen" not in text
    for number in ("0800-0113", "088-0767000"):
        assert text.count(number) == 1
    assert text.count("• Je huisarts") == 1


@pytest.mark.usefixtures("directory")
async def test_help_shows_my_own_steunpunt_first(core: BotCore) -> None:
    user = await onboarded_with_directory(core)
    await user.says("/hulp")
    assert DEN_BOSCH not in user.last_text
    await user.says("/steunpunt")
    await user.says("5211 ab")
    await taps_on_card(user, "Bewaar als mijn steunpunt")
    await user.says("/hulp")
    own, general = user.last.messages
    assert plain(own.text).startswith(DEN_BOSCH)
    assert "Luisterlijn" in plain(general.text) and "0800-0113" in plain(general.text)
