"""Respite advice through the real stack (PTB against the fake Bot API) for three contrasting
caregivers, the safety path, a restart in the middle, and the follow-up two weeks later."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import FakeClock
from bot.db.models import Caregiver
from bot.db.session import Database
from bot.features.respite.models import RespiteAdvice
from bot.features.steunpunt.directory import import_example_if_empty
from bot.jobs.scheduled import ScheduledMessage, deliver_due
from bot.transport.terminal import plain
from tests.conversation import TelegramUser
from tests.fakebotapi import FakeBotAPI
from tests.harness import BotHarness

DEN_BOSCH = "Steunpunt Mantelzorg Den Bosch (voorbeeld)"


@pytest.fixture
async def harness(
    fake: FakeBotAPI, database_url: str, clock: FakeClock
) -> AsyncIterator[BotHarness]:
    db = Database(database_url)
    await import_example_if_empty(db)
    await db.dispose()
    bot = BotHarness(fake, database_url, clock)
    await bot.start()
    yield bot
    await bot.stop()


async def onboard(user: TelegramUser) -> None:
    await user.says("/start")
    await user.taps("Nederlands")
    await user.taps("Ja, dat mag")


async def taps_on_card(user: TelegramUser, label: str) -> None:
    """Press a button on an earlier message (the card comes before the menu)."""
    for message in reversed(user.messages()):
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if label in button["text"]:
                    await user.presses(message["message_id"], button["callback_data"])
                    return
    raise AssertionError(f"no button {label!r}")


async def answers(user: TelegramUser, *labels: str) -> str:
    """Tap the labels in turn; the texts the bot sent after the last tap, as plain text."""
    for label in labels:
        user.new_messages()
        await user.taps(label)
    return "\n".join(plain(m.get("text") or "") for m in user.new_messages())


async def details(user: TelegramUser, *labels: str) -> str:
    """Tap buttons of earlier messages (the summary, a form) in turn; what the bot sent."""
    user.new_messages()
    for label in labels:
        await taps_on_card(user, label)
    return "\n".join(plain(m.get("text") or "") for m in user.new_messages())


async def advice_of(harness: BotHarness, user_id: int) -> RespiteAdvice:
    assert harness.core is not None
    async with harness.core.db.transaction() as session:
        return (
            await session.scalars(
                select(RespiteAdvice)
                .join(Caregiver, Caregiver.id == RespiteAdvice.caregiver_id)
                .where(Caregiver.telegram_user_id == user_id)
                .order_by(RespiteAdvice.id.desc())
            )
        ).first()


async def test_parent_of_a_child_with_a_disability_at_home_without_wlz(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    user = TelegramUser(fake, harness, 801)
    await onboard(user)
    await user.says("/steunpunt")
    await user.says("5211")
    await taps_on_card(user, "Bewaar als mijn steunpunt")
    await user.taps("Nee, in dezelfde gemeente")
    await user.says("/respijt")
    text = await answers(
        user, "Ja, dat lukt wel", "Een kind (tot 18 jaar)", "Een beperking", "Bij mij in huis",
        "Nee", "Een nacht, weekend of week", "Ja, dat is goed",
    )  # fmt: skip
    assert text.startswith("Je overzicht voor respijtzorg is klaar.")
    assert "Vakantie- en weekendprogramma's voor kinderen" in text
    assert "Logeeropvang of een logeerhuis" in text
    assert "Kortdurende opname" not in text
    assert "Jouw steunpunt mantelzorg" in text and DEN_BOSCH in text
    assert user.last_text == "Zal ik over twee weken vragen of het gelukt is?"
    stay = await details(user, "Meer over logeeropvang")
    # Local providers of the caregiver's municipality ('s-Hertogenbosch), marked as examples.
    assert "Logeerhuis De Voorbeeldlinde (voorbeeldgegevens)" in stay
    assert "Dagbesteding Het Voorbeeldhof" not in stay  # not an advised form
    paid = await details(user, "Hoe betaal ik het?")
    assert "Jeugdwet (gemeente): voor kinderen. De gemeente beslist." in paid
    assert "Wmo" not in paid and "Wlz, zorgplan" not in paid
    assert "Zij beslissen, niet ik." in paid
    kids = await details(user, "Terug naar mijn overzicht", "Meer over programma's")
    assert "Weekendclub Voorbeeld voor kinderen (voorbeeldgegevens)" in kids
    advice = await advice_of(harness, 801)
    assert advice.answers["person"] == "child"
    assert {"child_programmes", "short_stay"} <= set(advice.option_ids)


async def test_partner_of_someone_with_dementia_with_a_wlz_pgb(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    user = TelegramUser(fake, harness, 802)
    await onboard(user)
    await user.says("/respijt")
    text = await answers(
        user, "Ja, dat lukt wel", "Een oudere", "Dementie", "Bij mij in huis", "Ja, met een pgb",
        "Vaste dagdelen", "Liever niet",
    )  # fmt: skip
    assert "Dagopvang of dagbesteding" in text
    assert "Een vrijwilliger die even oppast" not in text  # volunteers not wanted
    assert "Kijk met wie je pgb beheert" in text
    # No saved steunpunt: the bot offers to find it first.
    assert "Ik weet nog niet welk steunpunt mantelzorg bij jou hoort." in text
    paid = await details(user, "Meer over dagopvang", "Hoe betaal ik het?")
    assert "Wlz, persoonsgebonden budget (pgb)" in paid and "Het zorgkantoor beslist." in paid
    assert "Algemene voorziening van de gemeente" in paid
    assert "Wmo (gemeente)" not in paid and "Jeugdwet" not in paid
    assert "(voorbeeldgegevens)" not in paid  # no municipality known, so no local providers
    await taps_on_card(user, "Nee, dank je")
    assert "Je kunt deze tips altijd opnieuw opvragen met /respijt." in user.last_text
    assert (await advice_of(harness, 802)).followup_due_at is None


async def test_daughter_of_an_older_person_in_a_care_home_wanting_a_holiday_together(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    user = TelegramUser(fake, harness, 803)
    await onboard(user)
    await user.says("/respijt")
    text = await answers(
        user, "Ja, dat lukt wel", "Een oudere", "Iets anders", "In een zorginstelling",
        "Ja, zorg via een zorgaanbieder", "Samen op vakantie, met zorg erbij", "Ja, dat is goed",
    )  # fmt: skip
    assert "Mogelijkheden die bij jouw antwoorden passen: 2." in text
    assert "Vakantie met zorg" in text and "Steun als je naaste in een zorginstelling" in text
    assert "Hulp uit je eigen omgeving" not in text and "Logeeropvang" not in text
    assert "zorgplan" not in text and "contactpersoon van de zorginstelling" in text
    support = await details(user, "Meer over steun bij een zorginstelling")
    assert "zorgleefplan" in support and "Alzheimer Café" in support
    paid = await details(user, "Terug naar", "Meer over vakantie met zorg", "Hoe betaal ik")
    assert "Aanvullende verzekering" in paid and "Wlz, zorgplan" not in paid


async def test_cannot_go_on_brings_crisis_numbers_and_people_at_once(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    user = TelegramUser(fake, harness, 804)
    await onboard(user)
    await user.says("/respijt")
    text = await answers(user, "Nee, ik kan echt niet meer")
    assert text.count("0800-0113") == 1 and "crisisopvang" in text
    assert "Je huisarts" in text and "Voor wie zorg je?" not in text
    assert "Als het weer wat rustiger is" in user.last_text


async def test_a_restart_in_the_middle_and_a_changed_answer(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    user = TelegramUser(fake, harness, 805)
    await onboard(user)
    await user.says("/respijt")
    await answers(user, "Ja, dat lukt wel", "Een volwassene", "Moeilijk gedrag, complexe zorg")
    await harness.restart()
    await user.taps("Vorige")  # a button shown before the restart
    assert "Wat past het best bij die persoon?" in user.last_text
    text = await answers(
        user, "Psychische problemen", "In een eigen huis", "Weet ik niet",
        "Een paar uur, thuis", "Ja, dat is goed",
    )  # fmt: skip
    assert "Gespecialiseerde respijtzorg" in text and "Een zorgverlener thuis" in text
    assert "Vraag eerst na of er een Wlz-indicatie is." in text
    assert "Wlz, zorgplan" not in text
    assert (await advice_of(harness, 805)).answers["condition"] == "mental"


async def test_the_follow_up_arrives_two_weeks_later_and_help_brings_people(
    fake: FakeBotAPI, harness: BotHarness, clock: FakeClock
) -> None:
    user = TelegramUser(fake, harness, 806)
    await onboard(user)
    await user.says("/respijt")
    await answers(
        user, "Ja, dat lukt wel", "Een volwassene", "Een beperking", "In een eigen huis", "Nee",
        "Snel vervanging in een noodgeval", "Liever niet", "Ja, vraag het me",
    )  # fmt: skip
    assert "Goed. Ik vraag het je op 7 december 2026." in user.last_text
    assert harness.core is not None and harness.app is not None
    sender = harness.app.bot_data["sender"]
    clock.advance(timedelta(days=13))
    assert (await deliver_due(harness.core, sender, "e2e")).sent == 0
    clock.advance(timedelta(days=1, hours=1))
    assert (await deliver_due(harness.core, sender, "e2e")).sent == 1
    assert user.last_text.startswith("Een vraag van twee weken geleden.")
    text = await answers(user, "Ik wil hulp")
    assert "Goed dat je het vraagt." in text and "Je huisarts" in text
    assert (await advice_of(harness, 806)).followup_answer == "help"
    async with harness.core.db.transaction() as session:
        statuses = list(await session.scalars(select(ScheduledMessage.status)))
    assert statuses == ["sent"]
