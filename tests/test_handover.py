"""The warm handover in conversation: a caregiver asks their steunpunt to get in touch and chooses
what it may see; staff of that steunpunt pick it up, write, and close it; the reminders on
Dutch working days; forged buttons of other staff, revoked staff and caregivers; privacy."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from bot.app.dispatch import BotCore
from bot.clock import FakeClock
from bot.db.directory import CaregiverSteunpunt
from bot.db.models import Answer, Caregiver
from bot.db.staff import StaffMember
from bot.engine.flow import Event
from bot.features.handover import requests
from bot.features.handover.handlers import BUTTONS, ReminderJob
from bot.features.handover.models import (
    HandoverAudit,
    HandoverDemand,
    HandoverMessage,
    HandoverRequest,
)
from bot.features.handover.staff import BUTTONS as STAFF_BUTTONS
from bot.features.handover.workdays import add_working_days, after_working_days, is_working_day
from bot.features.privacy.retention import sweep
from bot.features.steunpunt.directory import import_example_if_empty
from bot.jobs.scheduled import ScheduledMessage, prepare_due
from bot.transport.terminal import plain
from tests.conftest import core_for, settings_for
from tests.conversation import CoreUser, onboarded, staff_user
from tests.test_previews import assert_neutral
from tests.test_short_first import SELFCHECK_ANSWERS, check
from tests.test_staff import operator

DEN_BOSCH, VUGHT = "voorbeeld-den-bosch", "voorbeeld-vught-boxtel"
DEN_BOSCH_NAME = "Steunpunt Mantelzorg Den Bosch (voorbeeld)"
# Thursday 24 December 2026, 10:00 in Amsterdam: Christmas (Friday and Saturday) and the weekend
# follow, so two working days later is Tuesday 29 December.
CHRISTMAS_EVE = datetime(2026, 12, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
async def lite(sqlite_url: str, clock: FakeClock) -> AsyncIterator[BotCore]:
    bot_core = core_for(settings_for(sqlite_url), clock)
    await import_example_if_empty(bot_core.db)
    yield bot_core
    await bot_core.db.dispose()


async def save_steunpunt(core: BotCore, user: CoreUser, key: str = DEN_BOSCH) -> None:
    now = core.clock.now()
    async with core.db.transaction() as session:
        caregiver = await session.scalar(
            select(Caregiver).where(Caregiver.telegram_user_id == user.user_id)
        )
        assert caregiver is not None
        session.add(
            CaregiverSteunpunt(
                caregiver_id=caregiver.id, steunpunt_key=key, flow={}, updated_at=now
            )
        )


async def caregiver(core: BotCore, user_id: int, name: str = "Anna de Vries") -> CoreUser:
    user = await onboarded(core, user_id, display_name=name)
    await save_steunpunt(core, user)
    return user


async def heavy_self_check(user: CoreUser) -> None:
    await user.says("/zelftest")
    for answer in SELFCHECK_ANSWERS["heavy"]:
        await user.taps(answer)


async def ask(
    user: CoreUser, shares: tuple[str, ...] = (), note: str = "", phone: str = ""
) -> None:
    """Walk /contact: yes to the sources named in `shares` (in their order), no to the others;
    a note when given; by phone when given; mornings, any working day; then send."""
    await user.says("/contact")
    await user.taps("Ja, vraag het")
    while "dit zien?" in user.last_text:
        wanted = any(word in user.last_text for word in shares)
        await user.taps("Ja, dat mag" if wanted else "Nee")
    if note:
        await user.taps("Ja, ik typ een kort bericht")
        await user.says(note)
    else:
        await user.taps("Nee, dat hoeft niet")
    if phone:
        await user.taps("Bel me")
        await user.send(Event("contact", phone))
    else:
        await user.taps("Met een bericht via deze bot")
    await user.taps("'s Ochtends")
    await user.taps("Elke werkdag is goed")
    assert "Dit ziet" in user.last_text, user.last_text
    await user.taps("Ja, geef het door")


async def deliver(core: BotCore) -> dict[int, list[str]]:
    """One tick's messages by Telegram user id (what the one sender would send)."""
    outgoing, _ = await prepare_due(core, "test-worker")
    async with core.db.transaction() as session:
        await session.execute(
            update(ScheduledMessage)
            .where(ScheduledMessage.id.in_([row_id for row_id, _, _ in outgoing]))
            .values(status="sent")
        )
    found: dict[int, list[str]] = {}
    for _, chat_id, message in outgoing:
        found.setdefault(chat_id, []).append(message.text)
        # The buttons under a pushed message, as the user sees them.
        found.setdefault(-chat_id, []).extend(b.data for row in message.buttons for b in row)
    return found


async def rows_of(core: BotCore, model: type) -> list:
    async with core.db.transaction() as session:
        return list(await session.scalars(select(model)))


# ---------------------------------------------------------------- working days


def test_working_days_skip_weekends_and_dutch_national_holidays() -> None:
    assert not is_working_day(date(2026, 12, 25))  # Eerste Kerstdag, a Friday
    assert not is_working_day(date(2026, 12, 26))  # Tweede Kerstdag, a Saturday anyway
    assert not is_working_day(date(2027, 4, 27))  # Koningsdag, a Tuesday
    assert is_working_day(date(2026, 12, 28))
    assert add_working_days(date(2026, 12, 24), 2) == date(2026, 12, 29)
    assert add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)  # 1 January, weekend
    assert after_working_days(CHRISTMAS_EVE, 2) == datetime(2026, 12, 29, 9, 0, tzinfo=UTC)


# ---------------------------------------------------------------- the caregiver asks


async def test_a_heavy_result_offers_contact_and_only_what_the_caregiver_chose_is_shared(
    lite: BotCore,
) -> None:
    staff = await staff_user(lite, 2001, steunpunt_key=DEN_BOSCH, display_name="Sanne Jansen")
    user = await caregiver(lite, 2002)
    await heavy_self_check(user)
    labels = [plain(b.label) for b in user.buttons]
    assert "Laat mijn steunpunt contact opnemen" in labels
    await user.taps("Laat mijn steunpunt contact opnemen")
    assert "Wil je dat het steunpunt contact met je opneemt?" in user.last_text
    assert DEN_BOSCH_NAME in user.last_text
    await user.taps("Ja, vraag het")
    # Only the self-check exists: one question, showing exactly what would be shared.
    assert "Mag Steunpunt Mantelzorg Den Bosch (voorbeeld) dit zien?" in user.last_text
    assert "Zelftest van" in user.last_text
    await user.taps("Nee")
    await user.taps("Ja, ik typ een kort bericht")
    await user.says("Ik zoek iemand die een middag per week overneemt.")
    await user.taps("Met een bericht via deze bot")
    await user.taps("'s Avonds")
    await user.taps("Dinsdag")
    summary = user.last_text
    assert "Dit ziet Steunpunt Mantelzorg Den Bosch (voorbeeld)" in summary
    assert "Van: Anna" in summary and "de Vries" not in summary
    assert "Bericht: Ik zoek iemand" in summary and "Zelftest" not in summary
    assert "'s avonds, op dinsdag" in summary
    await user.taps("Ja, geef het door")
    assert user.last_text.startswith(
        f"Ik heb het doorgegeven aan {DEN_BOSCH_NAME}. Je hoort binnen twee werkdagen van ze."
    )
    (request,) = await rows_of(lite, HandoverRequest)
    assert request.status == "sent" and request.shared == {} and request.phone is None
    # The dialog's own answers are not kept beside the request.
    async with lite.db.transaction() as session:
        kept = await session.scalar(
            select(func.count()).select_from(Answer).where(Answer.dialog_id == "handover")
        )
    assert kept == 0

    pushed = await deliver(lite)
    (notice,) = pushed[staff.user_id]
    assert notice.splitlines()[0] == "Nieuw verzoek om contact"
    assert_neutral(notice, "staff notice")
    assert "Anna" not in notice
    await staff.presses_data(STAFF_BUTTONS.pack("view", request.id))
    assert "Bericht: Ik zoek iemand" in staff.last_text and "Zelftest" not in staff.last_text


async def test_shared_self_check_respite_and_keukentafel_with_its_pdf_for_staff(
    lite: BotCore,
) -> None:
    staff = await staff_user(lite, 2011, steunpunt_key=DEN_BOSCH, display_name="Sanne")
    user = await caregiver(lite, 2012)
    await heavy_self_check(user)
    await user.says("/keukentafel")
    for _ in range(2):
        await user.says("Mijn moeder heeft dementie en woont alleen.")
    await user.taps("Ongeveer 10 uur")
    await user.says("Ik slaap slecht.")
    await user.says("Dagbesteding.")
    await user.taps("Sla over")
    await user.taps("Nee")
    await user.taps("Het gaat wel")
    await user.taps("Een beetje")
    await user.taps("Sla over")
    assert "Laat mijn steunpunt contact opnemen" in [plain(b.label) for b in user.buttons]
    await user.says("/respijt")
    await user.taps("Nee, ik kan echt niet meer")
    assert "Laat mijn steunpunt contact opnemen" in [plain(b.label) for b in user.buttons]
    await ask(user, shares=("zelftest", "keukentafelgesprek", "respijtzorg"), phone="+31612345678")
    # Every answer of the walk, the summary with all three shared included, is short.
    for index, reply in enumerate(user.replies[-11:]):
        check(reply.messages, f"nl:handover {index}")
    # What a source shows is its own HTML, not escaped twice.
    raw = [m.text for r in user.replies[-11:] for m in r.messages]
    assert any("<b>Voorbereiding keukentafelgesprek</b>" in text for text in raw)
    assert not any("&lt;" in text or "&amp;" in text for text in raw)
    (request,) = await rows_of(lite, HandoverRequest)
    assert set(request.shared) == {"result", "keukentafel", "respite"}
    assert request.phone == "+31612345678"
    await deliver(lite)
    await staff.presses_data(STAFF_BUTTONS.pack("view", request.id))
    card = staff.last_text
    assert "Zelftest van" in card and "Voorbereiding keukentafelgesprek" in card
    assert "Contact: bel +31612345678." in card and "Ik slaap slecht." in card
    assert "Kan de zorg de komende dagen niet volhouden." in card
    await staff.taps("Stuur de PDF van het keukentafelgesprek")
    (document,) = [m.document for m in staff.last.messages if m.document is not None]
    assert document[0].endswith(".pdf") and document[1].startswith(b"%PDF")


async def test_pick_up_messages_both_ways_and_close_which_the_caregiver_sees(
    lite: BotCore,
) -> None:
    staff = await staff_user(lite, 2021, steunpunt_key=DEN_BOSCH, display_name="Sanne Jansen")
    colleague = await staff_user(lite, 2023, steunpunt_key=DEN_BOSCH, display_name="Piet")
    user = await caregiver(lite, 2022)
    await ask(user)
    (request,) = await rows_of(lite, HandoverRequest)
    await deliver(lite)
    await staff.says("/verzoeken")
    assert "Open: 1. Opgepakt: 0. Afgesloten: 0." in staff.last_text
    await staff.taps(f"Open #{request.id}")
    await staff.taps("Ik pak dit op")
    assert "Je hebt dit verzoek opgepakt." in staff.last_text
    await colleague.presses_data(STAFF_BUTTONS.pack("pick", request.id))
    assert "Sanne heeft dit verzoek al opgepakt." in colleague.last_text

    news = (await deliver(lite))[user.user_id]
    assert news[0].startswith("Nieuws over je verzoek om contact.\nLees het hieronder.")
    assert_neutral(news[0], "picked up")
    assert (
        "Sanne van Steunpunt Mantelzorg Den Bosch (voorbeeld) heeft je verzoek opgepakt"
        in (news[0])
    )
    assert "Jansen" not in news[0]
    await user.says("/mijnverzoeken")
    assert "Sanne neemt contact met je op" in user.last_text

    for text in ("Hallo Anna, wanneer kan ik bellen?", "Of liever een bericht?"):
        await staff.taps("Stuur een bericht")
        await staff.says(text)
        assert "Verstuurd aan Anna." in staff.last_text
    pushed = await deliver(lite)
    assert len(pushed[user.user_id]) == 2
    assert "Bericht van Sanne (Steunpunt Mantelzorg Den Bosch (voorbeeld)):" in plain(
        pushed[user.user_id][0]
    )
    for text in ("Morgen na tienen.", "Een bericht is ook goed."):
        await user.presses_data(BUTTONS.pack("reply", request.id))
        await user.says(text)
        assert "Verstuurd aan Sanne." in user.last_text
    pushed = await deliver(lite)
    # The caregiver's answers go to the one who picked it up, labelled, without username or phone.
    assert len(pushed[staff.user_id]) == 2 and colleague.user_id not in pushed
    assert "Bericht van Anna (verzoek #" in plain(pushed[staff.user_id][0])
    assert_neutral(pushed[staff.user_id][0], "message to staff")

    await staff.presses_data(STAFF_BUTTONS.pack("close", request.id))
    await staff.taps("Geen contact na drie pogingen")
    assert "Afgesloten: geen contact na drie pogingen." in staff.last_text
    closed = (await deliver(lite))[user.user_id][0]
    assert "heeft je verzoek afgesloten: geen contact na drie pogingen." in closed
    await user.says("/mijnverzoeken")
    assert "afgesloten: geen contact na drie pogingen" in user.last_text
    assert len(await rows_of(lite, HandoverMessage)) == 4
    audit = await rows_of(lite, HandoverAudit)
    assert [(a.event, a.staff_name, a.outcome) for a in audit] == [
        ("sent", "", None),
        ("picked_up", "Sanne", None),
        ("closed", "Sanne", "no_answer"),
    ]
    # The audit keeps who and when, never the shared content or the messages.
    assert not any("Morgen" in json.dumps(vars(a), default=str) for a in audit)


async def test_a_caregiver_withdraws_and_staff_no_longer_see_it(lite: BotCore) -> None:
    staff = await staff_user(lite, 2031, steunpunt_key=DEN_BOSCH)
    user = await caregiver(lite, 2032)
    await ask(user, note="Graag iemand die meedenkt.")
    (request,) = await rows_of(lite, HandoverRequest)
    await deliver(lite)
    await user.says("/mijnverzoeken")
    await user.taps("Intrekken")
    await user.taps("Ja, intrekken")
    assert "Ingetrokken." in user.last_text
    pushed = await deliver(lite)
    assert pushed[staff.user_id][0].startswith("Een verzoek om contact is ingetrokken")
    await staff.presses_data(STAFF_BUTTONS.pack("view", request.id))
    assert "Graag iemand" not in staff.last_text and "ingetrokken" not in staff.last_text.lower()
    (request,) = await rows_of(lite, HandoverRequest)
    assert request.status == "withdrawn" and request.note is None
    await user.says("/mijnverzoeken")
    assert "ingetrokken" in user.last_text
    await user.says("/contact")  # a new request may be asked
    assert "Wil je dat het steunpunt contact met je opneemt?" in user.last_text


async def test_a_steunpunt_without_staff_is_said_honestly_with_its_card_and_counted(
    lite: BotCore,
) -> None:
    user = await onboarded(lite, 2041)
    await save_steunpunt(lite, user, VUGHT)
    await user.says("/contact")
    text = user.last_text
    assert "Mantelzorgpunt Vught en Boxtel (voorbeeld) werkt nog niet met deze bot." in text
    assert "Telefoon" in text  # the card
    assert "Bij Hulp en contact staan meer mensen." in text
    assert [plain(b.label) for b in user.buttons] == ["Hulp en contact", "Menu"]
    assert await rows_of(lite, HandoverRequest) == []
    (demand,) = await rows_of(lite, HandoverDemand)
    assert demand.steunpunt_key == VUGHT
    async with lite.db.transaction() as session:
        (line,) = await requests.report(session)
    assert (line.steunpunt_key, line.staff, line.asked_without_staff) == (VUGHT, 0, 1)
    # The operator sees it, steunpunten without staff first; served ones with their requests.
    await staff_user(lite, 2042, steunpunt_key=DEN_BOSCH)
    await ask(await caregiver(lite, 2043))
    code, listing = await operator(lite, "steunpunt", "report")
    header, first, second = listing.splitlines()
    assert code == 0 and header.startswith("steunpunt\tname\tstaff\tasked without staff")
    assert first.split("\t")[:4] == [VUGHT, "Mantelzorgpunt Vught en Boxtel (voorbeeld)", "0", "1"]
    assert second.split("\t")[0] == DEN_BOSCH and second.split("\t")[5:] == ["1", "0", "0"]


async def test_without_a_saved_steunpunt_the_caregiver_finds_it_first(lite: BotCore) -> None:
    user = await onboarded(lite, 2051)
    await user.says("/contact")
    assert "Eerst zoeken we je steunpunt" in user.last_text
    assert "Zoek mijn steunpunt" in [plain(b.label) for b in user.buttons]


async def test_help_offers_contact_and_nothing_is_shared_by_default(lite: BotCore) -> None:
    await staff_user(lite, 2061, steunpunt_key=DEN_BOSCH)
    user = await caregiver(lite, 2062)
    await heavy_self_check(user)
    await user.says("/hulp")
    assert "Laat mijn steunpunt contact opnemen" in [plain(b.label) for b in user.buttons]
    await ask(user)  # "Nee" to everything
    (request,) = await rows_of(lite, HandoverRequest)
    assert request.shared == {} and request.note is None
    await user.says("/hulp")  # open already: not offered again
    assert "Laat mijn steunpunt contact opnemen" not in [plain(b.label) for b in user.buttons]


# ---------------------------------------------------------------- reminders


async def test_an_unpicked_request_reminds_all_staff_once_a_working_day_after_two(
    lite: BotCore, clock: FakeClock
) -> None:
    clock.set(CHRISTMAS_EVE)
    first = await staff_user(lite, 2071, steunpunt_key=DEN_BOSCH)
    second = await staff_user(lite, 2072, steunpunt_key=DEN_BOSCH)
    other = await staff_user(lite, 2073, steunpunt_key=VUGHT)
    user = await caregiver(lite, 2074)
    await ask(user)
    await deliver(lite)
    job = ReminderJob(lite)

    async def reminded_at(moment: datetime) -> set[int]:
        clock.set(moment)
        await job.run()
        await job.run()  # twice: still once a day
        pushed = await deliver(lite)
        return {chat for chat, texts in pushed.items() if chat > 0 and any(
            t.startswith("Herinnering: een verzoek om contact wacht") for t in texts)}  # fmt: skip

    # Christmas, the weekend and Monday (the first working day) go by without a reminder.
    for day in (25, 26, 27, 28):
        assert await reminded_at(datetime(2026, 12, day, 15, 0, tzinfo=UTC)) == set()
    assert await reminded_at(datetime(2026, 12, 29, 8, 59, tzinfo=UTC)) == set()
    assert await reminded_at(datetime(2026, 12, 29, 9, 0, tzinfo=UTC)) == {
        first.user_id,
        second.user_id,
    }
    assert await reminded_at(datetime(2026, 12, 29, 16, 0, tzinfo=UTC)) == set()
    assert await reminded_at(datetime(2026, 12, 30, 9, 30, tzinfo=UTC)) == {
        first.user_id,
        second.user_id,
    }
    assert other.user_id not in await reminded_at(datetime(2026, 12, 31, 9, 30, tzinfo=UTC))
    assert await reminded_at(datetime(2027, 1, 1, 9, 30, tzinfo=UTC)) == set()  # Nieuwjaarsdag
    assert await reminded_at(datetime(2027, 1, 2, 9, 30, tzinfo=UTC)) == set()  # Saturday
    (request,) = await rows_of(lite, HandoverRequest)
    await first.presses_data(STAFF_BUTTONS.pack("pick", request.id))
    assert await reminded_at(datetime(2027, 1, 4, 9, 30, tzinfo=UTC)) == set()


# ---------------------------------------------------------------- who may see and act


async def test_forged_buttons_of_other_staff_revoked_staff_and_caregivers_do_nothing(
    lite: BotCore,
) -> None:
    staff = await staff_user(lite, 2081, steunpunt_key=DEN_BOSCH)
    other = await staff_user(lite, 2082, steunpunt_key=VUGHT)
    revoked = await staff_user(lite, 2083, steunpunt_key=DEN_BOSCH)
    user = await caregiver(lite, 2084)
    stranger = await caregiver(lite, 2085, name="Bert")
    await ask(user, note="Alleen voor mijn steunpunt.")
    (request,) = await rows_of(lite, HandoverRequest)
    async with lite.db.transaction() as session:
        await session.execute(
            update(StaffMember)
            .where(StaffMember.display_name == "User 2083")
            .values(revoked_at=lite.clock.now())
        )
    forged = [
        STAFF_BUTTONS.pack(action, request.id) for action in ("view", "pick", "msg", "pdf", "close")
    ] + [STAFF_BUTTONS.pack("out", request.id, "contact")]
    for intruder in (other, revoked, stranger):
        for data in forged:
            await intruder.presses_data(data)
            assert "Alleen voor mijn steunpunt." not in intruder.last_text
            assert intruder.last.toast is not None  # the answer to a finished button
        await intruder.says("/verzoeken")
        assert "Alleen voor mijn steunpunt." not in intruder.last_text
    for data in ("withdraw", "sure", "reply"):
        await stranger.presses_data(BUTTONS.pack(data, request.id))
        assert stranger.last.toast is not None
    for data in ("hs:view:x", f"hs:view:{request.id}:1", "hs:out:1:gewonnen", "hv:sure:-1"):
        await staff.presses_data(data)
        assert staff.last.toast is not None
    (request,) = await rows_of(lite, HandoverRequest)
    assert request.status == "sent" and request.picked_up_by is None
    # The staff member of that steunpunt does see it.
    await staff.presses_data(STAFF_BUTTONS.pack("view", request.id))
    assert "Alleen voor mijn steunpunt." in staff.last_text
    # The staff member who was revoked gets nothing pushed any more either.
    pushed = await deliver(lite)
    assert revoked.user_id not in pushed and staff.user_id in pushed


# ---------------------------------------------------------------- privacy


async def test_export_erase_and_retention_of_requests(lite: BotCore, clock: FakeClock) -> None:
    staff = await staff_user(lite, 2091, steunpunt_key=DEN_BOSCH, display_name="Sanne")
    user = await caregiver(lite, 2092)
    await ask(user, note="Graag snel.")
    (request,) = await rows_of(lite, HandoverRequest)
    await staff.presses_data(STAFF_BUTTONS.pack("pick", request.id))
    await staff.taps("Stuur een bericht")
    await staff.says("Ik bel je morgen.")
    await user.says("/mijngegevens")
    exported = next(m.document for m in user.last.messages if m.document is not None)
    data = json.loads(exported[1])
    assert data["handover_request"][0]["note"] == "Graag snel."
    assert data["handover_message"][0]["text"] == "Ik bel je morgen."

    await staff.presses_data(STAFF_BUTTONS.pack("out", request.id, "contact"))
    # Closed: removed HANDOVER_RETENTION_MONTHS (12) after closing, not before.
    clock.advance(timedelta(days=360))
    await sweep(lite)
    assert len(await rows_of(lite, HandoverRequest)) == 1
    clock.advance(timedelta(days=10))
    await sweep(lite)
    assert await rows_of(lite, HandoverRequest) == []
    assert await rows_of(lite, HandoverMessage) == []
    assert len(await rows_of(lite, HandoverAudit)) == 3  # who and when stay

    # Erase by the caregiver: requests and messages go; the audit stays without content.
    second = await caregiver(lite, 2093)
    await ask(second)
    await second.says("/vergeetmij")
    await second.taps("Ja, wis alles")
    assert await rows_of(lite, HandoverRequest) == []


async def test_lock_screens_of_every_handover_message_are_neutral_in_english_too(
    lite: BotCore,
) -> None:
    staff = await staff_user(lite, 2101, steunpunt_key=DEN_BOSCH, display_name="Sanne")
    user = await caregiver(lite, 2102)
    await user.says("/taal")
    await user.taps("English")
    await user.says("/contact")
    assert "Would you like the steunpunt to get in touch with you?" in user.last_text
    await user.taps("Yes, ask")
    await user.taps("No, no need")
    await user.taps("With a message through this bot")
    await user.taps("In the morning")
    await user.taps("Any working day is fine")
    await user.taps("Yes, pass it on")
    assert "You will hear from them within two working days." in user.last_text
    (request,) = await rows_of(lite, HandoverRequest)
    await staff.presses_data(STAFF_BUTTONS.pack("pick", request.id))
    (news,) = (await deliver(lite))[user.user_id]
    assert news.startswith("News about your request for contact.")
    assert_neutral(news, "en picked up")
    # Staff read the request in their own language, and which language the caregiver uses.
    await staff.presses_data(STAFF_BUTTONS.pack("view", request.id))
    assert "Gebruikt de bot in het Engels." in staff.last_text


async def test_the_request_functions_take_a_session_and_ids_for_other_front_ends(
    lite: BotCore, clock: FakeClock
) -> None:
    """What a staff web console calls: the same rules as the chat, by ids only."""
    await staff_user(lite, 2121, steunpunt_key=DEN_BOSCH, display_name="Sanne")
    await staff_user(lite, 2122, steunpunt_key=VUGHT, display_name="Olga")
    user = await caregiver(lite, 2123)
    # Sent on a Thursday at 23:30 Dutch time: never reminded about in the night.
    clock.set(datetime(2026, 12, 3, 22, 30, tzinfo=UTC))
    await ask(user)
    async with lite.db.transaction() as session:
        members = {m.display_name: m.id for m in await session.scalars(select(StaffMember))}
        (request,) = await session.scalars(select(HandoverRequest))
        other = await requests.queue_for_member(session, members["Olga"])
        assert other is not None and other.open == [] and other.steunpunt_key == VUGHT
        with pytest.raises(requests.NotAllowed):
            await requests.pick_up(session, request.id, members["Olga"], clock.now())
        assert await requests.remind(session, datetime(2026, 12, 8, 23, 0, tzinfo=UTC)) == 0
        assert await requests.remind(session, datetime(2026, 12, 9, 7, 0, tzinfo=UTC)) == 1
        queue = await requests.queue_for_member(session, members["Sanne"])
        assert queue is not None and [r.id for r in queue.open] == [request.id]
        picked, changed = await requests.pick_up(session, request.id, members["Sanne"], clock.now())
        assert changed and picked.picked_up_name == "Sanne"
        await requests.staff_writes(session, request.id, members["Sanne"], "Hoi!", clock.now())
        with pytest.raises(requests.NotAllowed):
            await requests.staff_writes(session, request.id, members["Olga"], "Hoi", clock.now())
        with pytest.raises(requests.NotAllowed):
            await requests.close(session, request.id, members["Sanne"], "gewonnen", clock.now())
        await requests.close(session, request.id, members["Sanne"], "referred", clock.now())
        with pytest.raises(requests.NotAllowed):
            await requests.withdraw(session, request.id, request.caregiver_id, clock.now())


async def test_after_finding_the_steunpunt_the_caregiver_comes_back_with_contact(
    lite: BotCore,
) -> None:
    await staff_user(lite, 2111, steunpunt_key=DEN_BOSCH)
    user = await onboarded(lite, 2112)
    await user.says("/contact")
    await user.taps("Zoek mijn steunpunt")
    await user.says("5211AB")
    buttons = [b for m in user.last.messages for row in m.buttons for b in row]
    save = next(b for b in buttons if "Bewaar als mijn steunpunt" in plain(b.label))
    await user.presses_data(save.data)
    # Saving it offers the way back (only to who came from /contact).
    back = [b for m in user.last.messages for row in m.buttons for b in row]
    assert [plain(b.label) for b in back] == ["Laat mijn steunpunt contact opnemen"]
    await user.presses_data(back[0].data)
    assert "Wil je dat het steunpunt contact met je opneemt?" in user.last_text
    assert DEN_BOSCH_NAME in user.last_text
    # Someone who just saves a steunpunt is not offered it there.
    other = await onboarded(lite, 2113)
    await other.says("/steunpunt")
    await other.says("5211AB")
    buttons = [b for m in other.last.messages for row in m.buttons for b in row]
    save = next(b for b in buttons if "Bewaar als mijn steunpunt" in plain(b.label))
    await other.presses_data(save.data)
    assert [b for m in other.last.messages for row in m.buttons for b in row] == []


async def test_two_staff_picking_up_at_once_one_gets_it_and_the_caregiver_hears_once(
    core: BotCore,
) -> None:
    """The second pick-up waits for the first one's row lock and then sees it taken
    (PostgreSQL; SQLite runs one transaction at a time in a process anyway)."""
    if not core.db.is_postgres:
        pytest.skip("SQLite: one writer at a time")
    await import_example_if_empty(core.db)
    await staff_user(core, 2131, steunpunt_key=DEN_BOSCH, display_name="Sanne")
    await staff_user(core, 2132, steunpunt_key=DEN_BOSCH, display_name="Piet")
    user = await caregiver(core, 2133)
    await ask(user)
    async with core.db.transaction() as session:
        sanne, piet = [m.id for m in await session.scalars(select(StaffMember))]
        (request,) = await session.scalars(select(HandoverRequest))

    async def pick(member_id: int) -> bool:
        async with core.db.transaction() as session:
            _, changed = await requests.pick_up(session, request.id, member_id, core.clock.now())
            return changed

    async def waiting_for_a_lock() -> bool:
        async with core.db.engine.connect() as connection:
            found = await connection.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database()"
            )
            return bool(found.scalar())

    async with core.db.transaction() as session:
        _, first = await requests.pick_up(session, request.id, sanne, core.clock.now())
        second = asyncio.create_task(pick(piet))
        # Until Piet's transaction waits for Sanne's row lock (or, without it, is done).
        for _ in range(500):
            if second.done() or await waiting_for_a_lock():
                break
            await asyncio.sleep(0.01)
        assert not second.done()
    assert first is True and await second is False
    news = (await deliver(core))[user.user_id]
    assert len([n for n in news if "heeft je verzoek opgepakt" in n]) == 1


async def test_names_are_shown_as_typed_never_as_markup(lite: BotCore) -> None:
    staff = await staff_user(lite, 2141, steunpunt_key=DEN_BOSCH, display_name="<b>Sanne</b>")
    user = await caregiver(lite, 2142, name="Anna&Co")
    await ask(user)
    (request,) = await rows_of(lite, HandoverRequest)
    await staff.presses_data(STAFF_BUTTONS.pack("pick", request.id))
    assert "Anna&amp;Co" in staff.last.messages[0].text
    (news,) = (await deliver(lite))[user.user_id]
    assert "&lt;b&gt;Sanne&lt;/b&gt; van" in news
    await user.says("/mijnverzoeken")
    assert "&lt;b&gt;Sanne&lt;/b&gt; neemt contact met je op" in user.last_message.text


async def test_without_consent_to_store_answers_the_request_works_on_its_own_yes(
    lite: BotCore,
) -> None:
    await staff_user(lite, 2151, steunpunt_key=DEN_BOSCH)
    user = CoreUser(lite, 2152, display_name="Anna")
    await user.says("/start")
    await user.taps("Nederlands")
    await user.taps("Nee, liever niet")
    await save_steunpunt(lite, user)
    await ask(user, note="Bel me liever niet.")
    assert "Ik heb het doorgegeven aan" in user.last_text
    (request,) = await rows_of(lite, HandoverRequest)
    assert request.status == "sent" and request.note == "Bel me liever niet."
