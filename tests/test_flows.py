"""Caregiver flows on the channel-agnostic core (fast), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.app.dispatch import BotCore
from bot.clock import FakeClock
from bot.db.models import Answer, Caregiver, DialogRun, DialogState, Result
from bot.transport.terminal import plain
from tests.conversation import CoreUser


async def rows(core: BotCore, model: type) -> int:
    async with core.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def onboarded(core: BotCore, user_id: int = 1000) -> CoreUser:
    user = CoreUser(core, user_id)
    await user.says("/start")
    await user.taps("Nederlands")
    await user.taps("Ja, dat mag")
    return user


async def complete_selfcheck(user: CoreUser, answer: str) -> None:
    await user.says("/zelftest")
    for _ in range(10):
        labels = [b.label for b in user.buttons]
        await user.taps(answer if answer in labels else labels[0])


async def test_a_days_pause_resumes_at_the_same_question(core: BotCore, clock: FakeClock) -> None:
    user = await onboarded(core)
    await user.says("/zelftest")
    await user.taps("Soms")
    await user.taps("Soms")
    clock.advance(timedelta(days=1, hours=3))
    await user.says("/zelftest")
    assert "We gaan verder waar je was gebleven." in user.last_text
    assert "Vraag 3 van 10" in user.last_text


async def test_results_show_dates_in_dutch_and_the_direction_of_change(
    core: BotCore, clock: FakeClock
) -> None:
    user = await onboarded(core)
    await complete_selfcheck(user, "Nee")
    clock.advance(timedelta(days=40))
    await complete_selfcheck(user, "Ja, vaak")
    assert "Sinds je vorige zelftest (23 november 2026) is het zwaarder geworden." in user.last_text
    clock.advance(timedelta(days=30))
    await complete_selfcheck(user, "Ja, vaak")
    assert "ongeveer gelijk gebleven" in user.last_text
    await user.says("/resultaten")
    chart, listing = user.last.messages  # the picture first (see tests/test_checkin.py), then text
    assert chart.image is not None
    lines = plain(listing.text).splitlines()
    assert lines[1].startswith("23 november 2026: licht")
    assert lines[2].startswith("2 januari 2027: ") and lines[2].endswith("↑ zwaarder")
    assert lines[3].startswith("1 februari 2027: ") and lines[3].endswith("→ gelijk")


async def test_results_without_any_selfcheck_offer_to_start_one(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/resultaten")
    assert "nog geen zelftest" in user.last_text
    await user.taps("Zelftest doen")
    assert "Vraag 1 van 10" in user.last_text


async def test_withdrawing_consent_erases_answers_and_results(core: BotCore) -> None:
    user = await onboarded(core)
    await complete_selfcheck(user, "Soms")
    await user.says("/zelftest")
    await user.taps("Nee")  # an open dialog too
    await user.says("/privacy")
    assert "Je gaf toestemming op 23 november 2026" in user.last_text
    await user.taps("Toestemming intrekken")
    await user.taps("Ja, wis mijn antwoorden en uitslagen")
    assert "gewist" in user.last_text
    for model in (Answer, Result, DialogRun, DialogState):
        assert await rows(core, model) == 0, model.__name__
    await user.says("/resultaten")
    assert "geen toestemming" in user.last_text


async def test_language_can_be_changed_later(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/taal")
    await user.taps("English")
    assert "English" in user.last_text
    await user.says("/menu")
    assert "What can I help you with?" in user.last_text
    async with core.db.transaction() as session:
        assert (await session.scalar(select(Caregiver.locale))) == "en"


async def test_unknown_commands_and_stray_text_lead_to_the_menu(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/bestaatniet")
    assert "Die opdracht ken ik niet" in user.last_text
    await user.says("🙂")
    assert "Kies iets uit het menu" in user.last_text
    await user.sends("sticker")
    assert "Kies iets uit het menu" in user.last_text
    await user.presses_data("zz:unknown")
    assert "al klaar of gestopt" in user.last_text


async def test_help_lists_humans_with_real_crisis_numbers(core: BotCore) -> None:
    user = CoreUser(core, 77)
    await user.says("/hulp")
    text = user.last_text
    for expected in ("steunpunt mantelzorg", "huisarts", "113", "0800-0113", "112"):
        assert expected in text


async def test_menu_buttons_work_like_commands(core: BotCore) -> None:
    user = await onboarded(core)
    await user.taps("Zelftest")
    assert "Vraag 1 van 10" in user.last_text
    await user.says("/menu")
    await user.taps("Ik wil met iemand praten")
    assert "0800-0113" in user.last_text


async def test_returning_caregiver_is_welcomed_back_with_the_menu(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/start")
    assert "Fijn dat je er weer bent." in user.last_text


async def test_two_caregivers_do_not_see_each_others_dialogs(core: BotCore) -> None:
    anna, bert = await onboarded(core, 1), await onboarded(core, 2)
    await anna.says("/zelftest")
    await anna.taps("Ja, vaak")
    await bert.says("/zelftest")
    assert "Vraag 1 van 10" in bert.last_text
    # Bert pressing Anna's button data does nothing to Anna's answers.
    await bert.presses_data(anna.buttons[0].data)
    async with core.db.transaction() as session:
        counts = dict(
            (
                await session.execute(
                    select(Answer.caregiver_id, func.count()).group_by(Answer.caregiver_id)
                )
            ).all()
        )
    assert list(counts.values()) == [1]  # only Anna's own answer
