"""A caregiver plays the whole self-check through the real PTB stack and the fake Bot API.

Each test runs on SQLite and on PostgreSQL (the `database_url` fixture).
"""

from __future__ import annotations

import copy

from sqlalchemy import func, select

from bot.clock import FakeClock
from bot.db.models import Answer, Caregiver, DialogState, Result
from tests.conversation import TelegramUser
from tests.fakebotapi import FakeBotAPI
from tests.harness import BotHarness

ANSWERS_OVERLOADED = ["Ja, vaak"] * 8 + ["Nee, te weinig", "Het wordt te zwaar"]
ANSWERS_LIGHTEST = ["Nee"] * 8 + ["Ja, genoeg", "Ja, dat lukt"]


async def count(harness: BotHarness, model: type, user_id: int) -> int:
    assert harness.core is not None
    async with harness.core.db.transaction() as session:
        caregiver_id = select(Caregiver.id).where(Caregiver.telegram_user_id == user_id)
        return int(
            await session.scalar(
                select(func.count()).select_from(model).where(model.caregiver_id.in_(caregiver_id))
            )
            or 0
        )


async def onboard(user: TelegramUser) -> None:
    await user.says("/start")
    await user.taps("Nederlands")
    await user.taps("Ja, dat mag")


async def test_new_caregiver_is_welcomed_asked_language_and_consent(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    user = TelegramUser(fake, harness, 501)
    await user.says("/start")
    welcome, language = user.new_messages()
    assert not welcome["text"].lower().startswith("mantelzorger")
    assert "Zorg je voor iemand?" in welcome["text"]
    assert [b["text"] for row in language["reply_markup"]["inline_keyboard"] for b in row] == [
        "Nederlands",
        "English",
    ]
    await user.taps("Nederlands")
    assert "Mag ik je antwoorden bewaren?" in user.last_text
    await user.taps("Ja, dat mag")
    assert "Waar kan ik je mee helpen?" in user.last_text
    menu = [
        b["text"] for row in user.messages()[-1]["reply_markup"]["inline_keyboard"] for b in row
    ]
    assert "Zelftest: hoe zwaar is het zorgen?" in menu and "Ik wil met iemand praten" in menu
    # The pressed question shows the chosen answer and loses its buttons.
    edits = fake.calls_to("editMessageText")
    assert edits and "→ Ja, dat mag" in edits[-1].params["text"]


async def test_whole_selfcheck_gives_band_next_steps_and_human_contacts(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    user = TelegramUser(fake, harness, 502)
    await onboard(user)
    await user.says("/zelftest")
    assert "Vraag 1 van 10" in user.last_text
    for number, answer in enumerate(ANSWERS_OVERLOADED, start=1):
        assert f"Vraag {number} van 10" in user.last_text
        user.new_messages()
        await user.taps(answer)
    result, contacts = (m["text"] for m in user.new_messages())
    assert result.startswith("Je zelftest is klaar.")  # neutral first line for lock screens
    assert "Uitslag: overbelast" in result and "(19 van de 20 punten)" in result
    assert "Wat kun je doen?" in result
    assert "zelftest, geen diagnose" in result
    assert "Je huisarts" in contacts and "steunpunt mantelzorg" in contacts
    assert "0800-0113" in contacts  # the heaviest band always has a crisis line
    assert await count(harness, Answer, 502) == 10
    assert await count(harness, Result, 502) == 1
    assert await count(harness, DialogState, 502) == 0

    await user.says("/resultaten")
    assert "23 november 2026: overbelast (19 van 20)" in user.last_text


async def test_restart_in_the_middle_resumes_at_the_same_question(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    user = TelegramUser(fake, harness, 503)
    await onboard(user)
    await user.says("/zelftest")
    for answer in ["Nee", "Soms", "Ja, vaak", "Nee"]:
        await user.taps(answer)
    assert "Vraag 5 van 10" in user.last_text
    await harness.restart()  # a new Application and engine on the same database
    await user.says("/zelftest")
    assert "We gaan verder waar je was gebleven." in user.messages()[-2]["text"]
    assert "Vraag 5 van 10" in user.last_text
    for answer in ANSWERS_LIGHTEST[4:]:
        await user.taps(answer)
    assert "Uitslag: licht" in user.last_text and "(3 van de 20 punten)" in user.last_text
    assert await count(harness, Answer, 503) == 10


async def test_pressing_a_button_after_a_restart_continues_the_dialog(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    user = TelegramUser(fake, harness, 504)
    await onboard(user)
    await user.says("/zelftest")
    await user.taps("Soms")
    await harness.restart()
    await user.taps("Soms")  # the button of question 2, shown before the restart
    assert "Vraag 3 van 10" in user.last_text


async def test_bad_input_is_explained_and_the_current_question_repeated(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    user = TelegramUser(fake, harness, 505)
    await onboard(user)
    await user.says("/zelftest")
    # Its buttons go when it is answered; a stale copy (another device) can still be pressed.
    first_question = copy.deepcopy(user.messages()[-1])
    await user.taps("Soms")
    await user.taps("Ja, vaak")
    assert "Vraag 3 van 10" in user.last_text
    user.new_messages()
    for act in ("hallo, ik weet het niet", "x" * 4000):
        await user.says(act)
        explanation, question = user.new_messages()
        assert "Kies een antwoord met de knoppen" in explanation["text"]
        assert "Vraag 3 van 10" in question["text"]
    for kind in ("sticker", "photo", "voice"):
        await user.sends(kind)
        explanation, question = user.new_messages()
        assert "Kies een antwoord met de knoppen" in explanation["text"]
        assert "Vraag 3 van 10" in question["text"]
    # An old button (question 1) pressed again: explained, nothing changes.
    old = first_question["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    await user.presses(first_question["message_id"], old)
    explanation, question = user.new_messages()
    assert "eerdere vraag" in explanation["text"] and "Vraag 3 van 10" in question["text"]
    assert await count(harness, Answer, 505) == 2


async def test_back_changes_the_previous_answer_and_both_are_kept(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    user = TelegramUser(fake, harness, 506)
    await onboard(user)
    await user.says("/zelftest")
    await user.taps("Ja, vaak")
    await user.taps("Vorige")
    assert "Vraag 1 van 10" in user.last_text
    await user.taps("Nee")
    assert "Vraag 2 van 10" in user.last_text
    for answer in ANSWERS_LIGHTEST[1:]:
        await user.taps(answer)
    assert "(0 van de 20 punten)" in user.last_text
    assert await count(harness, Answer, 506) == 11  # the changed answer stays in the history


async def test_stop_pauses_and_a_button_of_the_finished_dialog_is_explained(
    fake: FakeBotAPI, harness: BotHarness, clock: FakeClock
) -> None:
    user = TelegramUser(fake, harness, 507)
    await onboard(user)
    await user.says("/zelftest")
    await user.taps("Soms")
    await user.taps("Stop")
    assert "Je antwoorden zijn bewaard" in user.last_text
    await user.says("ik ben er weer")  # no open question: the menu
    assert "Kies iets uit het menu" in user.last_text
    await user.says("/zelftest")
    assert "Vraag 2 van 10" in user.last_text
    for answer in ANSWERS_LIGHTEST[1:-1]:
        await user.taps(answer)
    finished = copy.deepcopy(user.messages()[-1])
    assert "Vraag 10 van 10" in finished["text"]
    await user.taps(ANSWERS_LIGHTEST[-1])
    data = finished["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    user.new_messages()
    await user.presses(finished["message_id"], data)
    assert "al klaar of gestopt" in user.last_text
    assert await count(harness, Answer, 507) == 10


async def test_without_consent_no_answers_are_stored(fake: FakeBotAPI, harness: BotHarness) -> None:
    user = TelegramUser(fake, harness, 508)
    await user.says("/start")
    await user.taps("Nederlands")
    await user.taps("Nee, liever niet")
    await user.says("/zelftest")
    assert "alleen als jij het goed vindt" in user.last_text
    await user.taps("Nee, liever niet")
    assert any("steunpunt mantelzorg" in (m.get("text") or "") for m in user.messages()[-2:])
    assert await count(harness, DialogState, 508) == 0
    assert await count(harness, Answer, 508) == 0


async def test_consent_given_from_the_selfcheck_starts_it(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    user = TelegramUser(fake, harness, 509)
    await user.says("/zelftest")
    await user.taps("Ja, dat mag")
    assert "Vraag 1 van 10" in user.last_text


async def test_a_redelivered_update_is_processed_once(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    user = TelegramUser(fake, harness, 510)
    await onboard(user)
    await user.says("/zelftest")
    before = len(user.messages())
    question = user.messages()[-1]
    first_button = question["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    update_id = fake.user_presses(510, question["message_id"], first_button)
    await harness.processed(update_id)
    after_first = len(user.messages())
    await harness.processed(fake.redeliver(update_id))
    assert len(user.messages()) == after_first > before
    assert await count(harness, Answer, 510) == 1


async def test_english_speaking_caregiver_gets_english(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    user = TelegramUser(fake, harness, 511, language_code="en-GB")
    await user.says("/start")
    assert "Do you care for someone?" in user.messages()[-2]["text"]
    await user.taps("English")
    await user.taps("Yes")
    await user.says("/zelftest")
    assert "Question 1 of 10" in user.last_text


async def test_an_overloaded_caregiver_who_cannot_go_on_gets_crisis_numbers_at_once(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    user = TelegramUser(fake, harness, 512)
    await onboard(user)
    await user.says("/zelftest")
    for answer in ["Ja, vaak"] * 8 + ["Nee, te weinig"]:
        await user.taps(answer)
    user.new_messages()
    await user.taps("Nee, ik kan niet meer")
    result, contacts = user.new_messages()
    assert "overbelast" in result["text"] and "niet meer volhoudt" in result["text"]
    assert contacts["text"].count("0800-0113") == 1 and "Luisterlijn" in contacts["text"]


async def test_a_caregiver_who_blocked_the_bot_is_marked_unreachable(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    user = TelegramUser(fake, harness, 513)
    fake.fail_next("sendMessage", 403, times=10)
    await user.says("/start")
    assert harness.core is not None
    async with harness.core.db.transaction() as session:
        caregiver = await session.scalar(select(Caregiver).where(Caregiver.telegram_user_id == 513))
        assert caregiver is not None and caregiver.unreachable_at is not None
