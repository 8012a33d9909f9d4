"""The warm handover through the real stack (PTB, the one sender, the fake Bot API), on SQLite and
PostgreSQL: a heavy self-check leads to a request sharing what the caregiver chose; staff are
notified, pick it up, write twice and get two answers, close it, and the caregiver sees the
outcome. Then the reminder after two working days across Christmas and a weekend (moved clock),
withdrawing, a steunpunt without staff in the bot, and forged buttons of other staff."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from bot.clock import FakeClock
from bot.db.directory import CaregiverSteunpunt
from bot.db.models import Caregiver
from bot.engine.output import Button
from bot.features.handover.handlers import ReminderJob
from bot.features.handover.models import HandoverMessage, HandoverRequest
from bot.features.handover.staff import BUTTONS as STAFF_BUTTONS
from bot.features.steunpunt.directory import import_example_if_empty
from bot.jobs.scheduled import deliver_due
from bot.transport.terminal import plain
from tests.conversation import TelegramUser, after_preview, find_button, invitation
from tests.fakebotapi import FakeBotAPI
from tests.harness import BotHarness
from tests.test_handover import CHRISTMAS_EVE, DEN_BOSCH_NAME, VUGHT
from tests.test_previews import assert_neutral
from tests.test_short_first import SELFCHECK_ANSWERS


async def tick(harness: BotHarness) -> None:
    assert harness.core is not None and harness.app is not None
    await deliver_due(harness.core, harness.app.bot_data["sender"], "e2e-worker")


async def onboard(user: TelegramUser) -> None:
    await user.says("/start")
    await user.taps("Nederlands")
    await user.taps("Ja, dat mag")


async def staff_member(fake: FakeBotAPI, harness: BotHarness, user_id: int, name: str,
                       key: str = "voorbeeld-den-bosch") -> TelegramUser:  # fmt: skip
    assert harness.core is not None
    staff = TelegramUser(fake, harness, user_id, first_name=name)
    await onboard(staff)
    await staff.says(f"/start {await invitation(harness.core, steunpunt_key=key)}")
    assert "medewerker" in staff.last_text
    return staff


def fresh(user: TelegramUser) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in user.new_messages()]


async def tap_anywhere(user: TelegramUser, label: str) -> None:
    """Press a button on the latest bot message that has it (a card above a question)."""
    for message in reversed(user.messages()):
        keyboard = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        buttons = [Button(b["text"], b.get("callback_data", "")) for row in keyboard for b in row]
        try:
            button = find_button([b for b in buttons if b.data], label)
        except AssertionError:
            continue
        await user.presses(message["message_id"], button.data)
        return
    raise AssertionError(f"no message with a button {label!r}")


async def shares_contact(fake: FakeBotAPI, harness: BotHarness, user: TelegramUser,
                         phone: str) -> None:  # fmt: skip
    await harness.processed(fake.user_sends_contact(user.user_id, phone))


async def test_heavy_result_to_request_picked_up_two_messages_each_way_and_closed(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    assert harness.core is not None
    await import_example_if_empty(harness.core.db)
    sanne = await staff_member(fake, harness, 8101, "Sanne Jansen")
    # Saved her steunpunt earlier (the finder's own tests walk that); a caregiver sends at most
    # FLOOD_LIMIT updates a minute, and this walk needs 29.
    anna = await seeded_caregiver(harness, 8102, "voorbeeld-den-bosch", "Anna de Vries")
    await anna.says("/zelftest")
    for answer in SELFCHECK_ANSWERS["heavy"]:
        await anna.taps(answer)
    fresh(anna)
    await tap_anywhere(anna, "Laat mijn steunpunt contact opnemen")
    await anna.taps("Ja, vraag het")
    assert "Zelftest van" in anna.last_text
    fresh(anna)
    await anna.taps("Ja, dat mag")  # the self-check: yes
    await anna.taps("Ja, ik typ een kort bericht")
    await anna.says("Ik wil graag praten over een logeeropvang.")
    await anna.taps("Bel me")
    assert anna.messages()[-1]["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    await shares_contact(fake, harness, anna, "+31612345678")
    await anna.taps("'s Middags")
    await anna.taps("Woensdag")
    summary = "\n".join(fresh(anna))
    assert "Dit ziet" in summary and "Contact: bel +31612345678." in summary
    assert "Zelftest van" in summary and "logeeropvang" in summary
    await anna.taps("Ja, geef het door")
    assert anna.last_text.startswith(f"Ik heb het doorgegeven aan {DEN_BOSCH_NAME}.")

    fresh(sanne)
    await tick(harness)
    (notice,) = fresh(sanne)
    assert notice.startswith("Nieuw verzoek om contact\n")
    assert_neutral(notice, "new request")
    await sanne.taps("Bekijk het verzoek")
    card = sanne.last_text
    assert "Van: Anna" in card and "Vries" not in card
    assert "Zelftest van" in card and "logeeropvang" in card and "+31612345678" in card
    await sanne.taps("Ik pak dit op")
    fresh(anna)
    await tick(harness)
    (picked,) = fresh(anna)
    assert_neutral(picked, "picked up")
    assert "Sanne van Steunpunt Mantelzorg Den Bosch (voorbeeld)" in after_preview(picked)
    assert "Jansen" not in picked

    for text in ("Hallo Anna, ik bel je woensdag.", "Schikt twee uur?"):
        await sanne.taps("Stuur een bericht")
        await sanne.says(text)
    await tick(harness)
    got = fresh(anna)
    assert [after_preview(m).splitlines()[-1] for m in got] == [
        "Hallo Anna, ik bel je woensdag.",
        "Schikt twee uur?",
    ]
    assert all("Bericht van Sanne (" in plain(m) for m in got)
    for text in ("Woensdag is goed.", "Twee uur past."):
        await tap_anywhere(anna, "Antwoord geven")
        await anna.says(text)
        assert anna.last_text.startswith("Verstuurd aan Sanne.")
    fresh(sanne)
    await tick(harness)
    answers = fresh(sanne)
    assert [m.splitlines()[-1] for m in answers] == ["Woensdag is goed.", "Twee uur past."]
    assert all(m.startswith("Nieuw bericht bij een verzoek om contact\n") for m in answers)

    await sanne.says("/verzoeken")
    await sanne.taps("Opgepakt #")
    await sanne.taps("Afsluiten")
    await sanne.taps("Er is contact geweest")
    fresh(anna)
    await tick(harness)
    (closed,) = fresh(anna)
    assert "heeft je verzoek afgesloten: er is contact geweest." in closed
    await anna.says("/mijnverzoeken")
    assert "afgesloten: er is contact geweest" in anna.last_text
    async with harness.core.db.transaction() as session:
        stored = list(await session.scalars(select(HandoverMessage)))
    assert [m.from_staff for m in stored] == [True, True, False, False]


async def seeded_caregiver(
    harness: BotHarness, user_id: int, key: str, name: str = "Bert"
) -> TelegramUser:
    """A caregiver who saved `key` as their steunpunt earlier."""
    assert harness.core is not None
    user = TelegramUser(harness.fake, harness, user_id, first_name=name)
    await onboard(user)
    async with harness.core.db.transaction() as session:
        caregiver = await session.scalar(
            select(Caregiver).where(Caregiver.telegram_user_id == user_id)
        )
        assert caregiver is not None
        session.add(CaregiverSteunpunt(caregiver_id=caregiver.id, steunpunt_key=key, flow={},
                                       updated_at=harness.clock.now()))  # fmt: skip
    return user


async def quick_request(user: TelegramUser) -> None:
    await user.says("/contact")
    await user.taps("Ja, vraag het")
    await user.taps("Nee, dat hoeft niet")
    await user.taps("Met een bericht via deze bot")
    await user.taps("Maakt niet uit")
    await user.taps("Elke werkdag is goed")
    await user.taps("Ja, geef het door")


async def test_reminder_after_two_working_days_over_christmas_then_withdrawn(
    fake: FakeBotAPI, harness: BotHarness, clock: FakeClock
) -> None:
    assert harness.core is not None
    clock.set(CHRISTMAS_EVE)
    await import_example_if_empty(harness.core.db)
    sanne = await staff_member(fake, harness, 8201, "Sanne")
    bert = await seeded_caregiver(harness, 8202, "voorbeeld-den-bosch")
    await quick_request(bert)
    await tick(harness)
    fresh(sanne)
    job = ReminderJob(harness.core)

    async def at(moment: datetime) -> list[str]:
        clock.set(moment)
        await job.run()
        await tick(harness)
        return fresh(sanne)

    # Friday and Saturday are Christmas, Sunday is Sunday, Monday is the first working day.
    for day in (25, 26, 27, 28):
        assert await at(datetime(2026, 12, day, 14, 0, tzinfo=UTC)) == []
    (reminder,) = await at(datetime(2026, 12, 29, 9, 5, tzinfo=UTC))
    assert reminder.startswith("Herinnering: een verzoek om contact wacht\n")
    assert_neutral(reminder, "reminder")
    assert await at(datetime(2026, 12, 29, 15, 0, tzinfo=UTC)) == []  # once that day

    await bert.says("/mijnverzoeken")
    assert "doorgegeven, nog niet opgepakt" in bert.last_text
    await bert.taps("Intrekken")
    await bert.taps("Ja, intrekken")
    assert bert.last_text.startswith("Ingetrokken.")
    (withdrawn,) = await at(datetime(2026, 12, 29, 15, 5, tzinfo=UTC))
    assert withdrawn.startswith("Een verzoek om contact is ingetrokken")
    assert await at(datetime(2026, 12, 30, 9, 5, tzinfo=UTC)) == []  # no more reminders


async def test_a_steunpunt_without_staff_and_forged_buttons_of_other_staff(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    assert harness.core is not None
    await import_example_if_empty(harness.core.db)
    lonely = await seeded_caregiver(harness, 8301, VUGHT)
    await lonely.says("/contact")
    said = "\n".join(fresh(lonely))
    assert "Mantelzorgpunt Vught en Boxtel (voorbeeld) werkt nog niet met deze bot." in said
    assert "Telefoon:" in said

    sanne = await staff_member(fake, harness, 8302, "Sanne")
    other = await staff_member(fake, harness, 8303, "Olga", key=VUGHT)
    bert = await seeded_caregiver(harness, 8304, "voorbeeld-den-bosch")
    await bert.says("/contact")
    await bert.taps("Ja, vraag het")
    await bert.taps("Ja, ik typ een kort bericht")
    await bert.says("Alleen voor Den Bosch bedoeld.")
    await bert.taps("Bel me")
    fresh(bert)
    # Someone else's contact card is not his to pass on: asked again; then his own number.
    await harness.processed(fake.user_sends_contact(bert.user_id, "+31687654321", of_user=999))
    assert "Tik op de knop onder het invoerveld om je nummer te delen." in fresh(bert)[0]
    await shares_contact(fake, harness, bert, "+31611112222")
    await bert.taps("Maakt niet uit")
    await bert.taps("Elke werkdag is goed")
    await bert.taps("Ja, geef het door")
    async with harness.core.db.transaction() as session:
        request = await session.scalar(select(HandoverRequest))
    assert request is not None
    await tick(harness)
    fresh(other)
    message_id = other.messages()[-1]["message_id"]
    for data in (STAFF_BUTTONS.pack("view", request.id), STAFF_BUTTONS.pack("pick", request.id),
                 STAFF_BUTTONS.pack("out", request.id, "contact")):  # fmt: skip
        await other.presses(message_id, data)
    seen = fresh(other)
    assert not any("Alleen voor Den Bosch" in text for text in seen)
    answered: list[dict[str, Any]] = [c.params for c in fake.calls_to("answerCallbackQuery")]
    assert answered and all(p.get("text") for p in answered[-3:])  # the finished-button toast
    async with harness.core.db.transaction() as session:
        request = await session.scalar(select(HandoverRequest))
    assert request is not None and request.status == "sent"
    await sanne.taps("Bekijk het verzoek")
    assert "Alleen voor Den Bosch bedoeld." in sanne.last_text
    assert "+31611112222" in sanne.last_text and "+31687654321" not in sanne.last_text
