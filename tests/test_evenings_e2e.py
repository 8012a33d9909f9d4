"""Family evenings through the real stack: PTB and the one sender against the fake Bot API.

Staff become staff by their invitation link, get the location's QR code (decoded back to the
deep link), create an evening in Telegram; two family members who subscribed by that deep link get
the invitation, answer, fetch the calendar file; the evening moves and is later cancelled; the
reminders arrive once, at the new date only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from icalendar import Calendar

from bot.clock import FakeClock
from bot.features.staff.handlers import add_location
from bot.jobs.scheduled import deliver_due
from tests.conversation import TelegramUser, after_preview, invitation
from tests.fakebotapi import FakeBotAPI
from tests.harness import BotHarness
from tests.test_checkin import local
from tests.test_evenings import decode_qr

LINK = "https://t.me/mantelzorg_test_bot?start=loc_de-linde"


async def tick(harness: BotHarness) -> None:
    assert harness.core is not None and harness.app is not None
    await deliver_due(harness.core, harness.app.bot_data["sender"], "e2e-worker")


async def onboard(user: TelegramUser, first: str = "/start") -> None:
    await user.says(first)
    await user.taps("Nederlands")
    await user.taps("Ja, dat mag")


def texts_since(user: TelegramUser) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in user.new_messages()]


def said(user: TelegramUser) -> str:
    """Everything the bot sent the user since the last look."""
    return "\n".join(texts_since(user))


def uploaded(fake: FakeBotAPI, method: str, chat_id: int) -> tuple[bytes, dict[str, Any]]:
    call = [c for c in fake.calls_to(method) if c.params.get("chat_id") == chat_id][-1]
    return next(iter(call.files.values())).content, call.params


async def test_staff_invite_families_by_qr_link_who_answer_and_get_each_reminder_once(
    fake: FakeBotAPI, harness: BotHarness, clock: FakeClock
) -> None:
    assert harness.core is not None
    async with harness.core.db.transaction() as session:
        await add_location(session, clock.now(), "de-linde", "De Linde",
                           "Lindelaan 1, Voorbeeldstad", "Zorggroep Voorbeeld",
                           example=True)  # fmt: skip
    staff = TelegramUser(fake, harness, 7001, first_name="Sanne")
    await onboard(staff)
    await staff.says(f"/start {await invitation(harness.core, location_key='de-linde')}")
    assert "medewerker" in staff.last_text

    # The poster: the QR code in Telegram decodes to the deep link families open.
    await staff.says("/avond_qr")
    png, params = uploaded(fake, "sendPhoto", staff.user_id)
    assert decode_qr(png) == LINK and LINK in params["caption"]

    anna = TelegramUser(fake, harness, 7002, first_name="Anna")
    bert = TelegramUser(fake, harness, 7003, first_name="Bert")
    for family in (anna, bert):  # brand-new users who scanned the poster
        await family.says("/start loc_de-linde")
        assert "Wil je uitnodigingen van De Linde" in family.last_text
        assert "voorbeeldgegevens" in family.last_text
        await family.taps("Ja, graag")
        assert "Je krijgt nu uitnodigingen van De Linde" in "\n".join(texts_since(family))

    await staff.says("/avond_nieuw")
    await staff.says("Familieavond over dementie")
    await staff.says("za 12 december 19:30")
    await staff.taps("Ja, klopt")
    await staff.says("de grote zaal")
    await staff.taps("Geen uitleg")
    await staff.says("30")
    assert "De uitnodiging gaat naar 2 familieleden van De Linde" in staff.last_text
    await staff.taps("Versturen")
    assert "Verstuurd. 2 familieleden" in said(staff)

    await tick(harness)
    for family in (anna, bert):
        (invite,) = texts_since(family)
        assert after_preview(invite).startswith(
            "Uitnodiging: Familieavond over dementie – De Linde"
        )
        assert "zaterdag 12 december 2026 om 19:30" in invite and "de grote zaal" in invite
    await anna.taps("Ik kom")
    await anna.taps("2")
    assert "Je komt met 2 personen" in anna.last_text
    await anna.taps("Zet in mijn agenda")
    ics, params = uploaded(fake, "sendDocument", anna.user_id)
    assert params["caption"].startswith("Open dit bestand")
    (event,) = Calendar.from_ical(ics).walk("VEVENT")
    assert event.decoded("dtstart") == local(2026, 12, 12, 19, 30)
    assert str(event["summary"]) == "Familieavond over dementie"

    # Staff move the evening a week; both families are told, the reminders follow.
    await staff.says("/avonden")
    assert "Ja: 1 (2 personen) · Misschien: 0 · Nee: 0 · Plaatsen: 30" in staff.last_text
    await staff.taps("Familieavond over dementie")
    assert "• Anna (2)" in staff.last_text and "Bert" not in staff.last_text
    await staff.taps("Datum en tijd wijzigen")
    await staff.says("19-12 19:30")
    await staff.taps("Ja, klopt")
    assert "Gewijzigd. 2 familieleden krijgen bericht" in said(staff)
    texts_since(anna), texts_since(bert)
    await tick(harness)
    for family in (anna, bert):
        (notice,) = texts_since(family)
        assert after_preview(notice).startswith("Gewijzigd: Familieavond over dementie")
        assert "zaterdag 19 december 2026 om 19:30" in notice

    async def reminders_at(moment: datetime) -> dict[int, int]:
        clock.set(moment)
        await tick(harness)
        await tick(harness)  # a second tick at the same moment sends nothing more
        return {
            f.user_id: sum(after_preview(t).startswith("Herinnering") for t in texts_since(f))
            for f in (anna, bert)
        }

    assert await reminders_at(local(2026, 12, 5, 18, 45)) == {anna.user_id: 0, bert.user_id: 0}
    assert await reminders_at(local(2026, 12, 11, 18, 45)) == {anna.user_id: 0, bert.user_id: 0}
    assert await reminders_at(local(2026, 12, 12, 18, 45)) == {anna.user_id: 1, bert.user_id: 1}
    assert "Je antwoord: ik kom, met 2 personen." in anna.last_text
    await bert.taps("Ik kom niet")
    assert "Jammer dat je niet kunt" in bert.last_text
    assert await reminders_at(local(2026, 12, 18, 18, 45)) == {anna.user_id: 1, bert.user_id: 0}

    # Cancelled the day before: Anna is told, Bert (not coming) is not bothered.
    await staff.says("/avonden")
    await staff.taps("Familieavond over dementie")
    assert "• Anna (2)" in staff.last_text and "• Bert" in staff.last_text
    await staff.taps("Avond afzeggen")
    await staff.taps("Ja, afzeggen")
    assert "is afgezegd. 1 familielid krijgt bericht" in said(staff)
    await tick(harness)
    (cancelled,) = texts_since(anna)
    assert after_preview(cancelled).startswith("Gaat niet door: Familieavond over dementie")
    assert "Staat de avond in je agenda? Haal hem er dan uit." in cancelled
    assert texts_since(bert) == []
    await anna.says("/mijnavonden")
    assert "Er zijn nu geen avonden gepland" in anna.last_text
