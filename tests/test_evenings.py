"""Family evenings: subscribing by the location's link, staff create / edit / cancel evenings step
by step, families answer (with party size, waiting list), reminders ride on scheduling rows.

The clock starts on Monday 23 November 2026, 19:00 in Amsterdam; ticks run `deliver_due`."""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import zxingcpp
from icalendar import Calendar
from PIL import Image
from sqlalchemy import func, select, update

from bot.app.dispatch import BotCore
from bot.clock import FakeClock
from bot.db.models import DialogState, OpenStep
from bot.db.staff import Location, StaffMember
from bot.features.evenings.files import evening_ics
from bot.features.evenings.models import EveningRsvp, FamilyEvening
from bot.features.evenings.plan import reminder_moments
from bot.features.privacy.retention import sweep
from bot.features.staff.handlers import (
    StaffError,
    add_location,
    parse_reminder_days,
    parse_reminder_time,
)
from bot.jobs.scheduled import ScheduledMessage, deliver_due
from bot.text.content import Texts
from bot.text.i18n import get_translator
from tests.conftest import _truncate_postgres, core_for, features, settings_for
from tests.conversation import CoreUser, after_preview, onboarded, staff_user
from tests.test_checkin import local, tick
from tests.test_scheduling import RecordingSender
from tests.test_staff import operator

LINDE = "de-linde"
EIK = "de-eik"
NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


async def add_locations(core: BotCore) -> None:
    async with core.db.transaction() as session:
        now = core.clock.now()
        await add_location(session, now, LINDE, "De Linde", "Lindelaan 1, Voorbeeldstad",
                           "Zorggroep Voorbeeld", example=True)  # fmt: skip
        await add_location(session, now, EIK, "De Eik", "Eikenweg 2, Voorbeelddorp",
                           "Zorggroep Voorbeeld", example=True)  # fmt: skip


@pytest.fixture
async def homes(core: BotCore) -> BotCore:
    await add_locations(core)
    core.bot_username = lambda: "mantelzorg_test_bot"
    return core


async def family(core: BotCore, user_id: int, name: str, key: str = LINDE) -> CoreUser:
    """Someone who opened the location's link (a brand-new user) and said yes."""
    user = CoreUser(core, user_id, display_name=name)
    await user.says(f"/start loc_{key}")
    assert "Wil je uitnodigingen van" in user.last_text, user.last_text
    await user.taps("Ja, graag")
    assert "Gelukt" in user.last_text
    return user


async def new_evening(
    staff: CoreUser,
    title: str = "Familieavond met muziek",
    when: str = "12-12 19:30",
    max_guests: int | None = None,
) -> None:
    await staff.says("/avond_nieuw")
    await staff.says(title)
    await staff.says(when)
    await staff.taps("Ja, klopt")
    await staff.says("de grote zaal")
    await staff.says("Met koffie en een koor.")
    if max_guests is None:
        await staff.taps("Geen maximum")
    else:
        await staff.says(str(max_guests))
    await staff.taps("Versturen")
    assert "Verstuurd" in staff.last_text, staff.last_text


async def anna_and_an_evening(core: BotCore, staff_id: int) -> tuple[CoreUser, CoreUser]:
    """Anna (user `staff_id` + 1) follows De Linde, whose staff member (`staff_id`) has just
    planned the music evening of Saturday 12 December 2026, 19:30."""
    anna = await family(core, staff_id + 1, "Anna")
    staff = await staff_user(core, staff_id, location_key=LINDE)
    await new_evening(staff)
    return anna, staff


async def evening_id(core: BotCore, title: str = "Familieavond met muziek") -> int:
    async with core.db.transaction() as session:
        return int(
            await session.scalar(select(FamilyEvening.id).where(FamilyEvening.title == title)) or 0
        )


async def pending_kinds(core: BotCore) -> list[tuple[str, datetime, int]]:
    async with core.db.transaction() as session:
        rows = await session.scalars(
            select(ScheduledMessage)
            .where(ScheduledMessage.status == "pending")
            .order_by(ScheduledMessage.due_at, ScheduledMessage.caregiver_id)
        )
        return [(r.kind, r.due_at, r.caregiver_id) for r in rows]


# ---------------------------------------------------------------- dates typed by staff


def test_a_date_that_cannot_be_an_evening_says_why_and_gives_an_example() -> None:
    # Reading dates is bot/text/dates.py's (tests/test_dates.py); here: every reason it gives
    # has its own evening message, in the planning and the editing dialog.
    content, _ = features()
    texts = Texts(content, get_translator("nl"))
    reasons = ("not_understood", "no_time", "no_such_date", "weekday_mismatch", "past", "too_far")
    for dialog_id in ("evening_new", "evening_edit"):
        step = content.dialogs[dialog_id].steps["starts_at"]
        for reason in reasons:
            assert texts.tr(step.errors[reason]).format(date="zaterdag 12 december 2026")
        assert "<b>12-12 19:30</b>" in step.text  # the example


# ---------------------------------------------------------------- subscribing


async def test_the_location_link_asks_first_and_a_brand_new_user_can_subscribe(
    homes: BotCore,
) -> None:
    user = CoreUser(homes, 601, display_name="Anna")
    await user.says(f"/start loc_{LINDE}")
    assert "Wil je uitnodigingen van De Linde (Zorggroep Voorbeeld) ontvangen?" in user.last_text
    await user.taps("Ja, graag")
    assert "Je krijgt nu uitnodigingen van De Linde" in user.last_text
    assert "Er is nog geen avond gepland" in user.last_text
    assert any(b.data == "m:zelftest" or b.data.startswith("m:") for b in user.buttons)  # menu
    await user.says(f"/start loc_{LINDE}")
    assert "Je krijgt al uitnodigingen van De Linde" in user.last_text


async def test_saying_no_to_the_link_or_an_unknown_location_subscribes_nobody(
    homes: BotCore,
) -> None:
    user = CoreUser(homes, 602)
    await user.says(f"/start loc_{LINDE}")
    await user.taps("Nee, liever niet")
    assert "Je krijgt geen uitnodigingen" in user.last_text
    await user.says("/start loc_bestaat-niet")
    assert "Deze link werkt niet" in user.last_text
    await user.says("/mijnavonden")
    assert "Je krijgt nog geen uitnodigingen" in user.last_text


async def test_a_made_up_subscribe_button_subscribes_to_no_location_without_its_link(
    homes: BotCore,
) -> None:
    mallory = await onboarded(homes, 603)
    async with homes.db.transaction() as session:
        ids = list(await session.scalars(select(Location.id)))
    made_up = ["ev:sub:bestaat-niet", "ev:sub:", "ev:sub:DE LINDE"]
    for data in [*(f"ev:sub:{i}" for i in ids), *made_up]:
        await mallory.presses_data(data)
        assert mallory.last.toast == "Deze knop werkt niet meer.", data
    await mallory.says("/mijnavonden")
    assert "Je krijgt nog geen uitnodigingen" in mallory.last_text
    await mallory.says(f"/start loc_{EIK}")  # the link, then its question: that does subscribe
    await mallory.taps("Ja, graag")
    assert "Je krijgt nu uitnodigingen van De Eik" in mallory.last_text


# ---------------------------------------------------------------- creating and inviting


async def test_staff_create_an_evening_step_by_step_and_subscribers_get_the_invitation(
    homes: BotCore,
) -> None:
    anna = await family(homes, 611, "Anna de Vries")
    bert = await family(homes, 612, "Bert")
    other = await family(homes, 613, "Carla", key=EIK)
    staff = await staff_user(homes, 610, location_key=LINDE, display_name="Sanne")
    await staff.says("/avond_nieuw")
    assert "Nieuwe familieavond voor De Linde" in staff.last_text
    await staff.says("Familieavond met muziek")
    await staff.says("vr 12/12 19:30")
    assert "Die dag klopt niet: het is zaterdag 12 december 2026" in staff.last_text
    await staff.says("1-11 19:30")  # a year ahead: next 1 November, asked to confirm
    assert "Dat is maandag 1 november 2027 om 19:30. Klopt dat?" in staff.last_text
    await staff.taps("Nee, andere datum")
    await staff.says("23-11 10:00")
    assert "Die datum is al voorbij" in staff.last_text
    await staff.says("12 december 19:30")
    assert "Dat is zaterdag 12 december 2026 om 19:30. Klopt dat?" in staff.last_text
    await staff.taps("Ja, klopt")
    await staff.taps("Op het adres")
    await staff.says("Met koffie en een koor.")
    await staff.says("veel")
    assert "Typ een getal" in staff.last_text
    await staff.says("40")
    summary = staff.last_text
    assert "Klopt alles?" in summary and "zaterdag 12 december 2026 om 19:30" in summary
    assert "Hoogstens 40 gasten" in summary and "2 familieleden van De Linde" in summary
    await staff.taps("Versturen")
    assert "Verstuurd. 2 familieleden van De Linde" in staff.last_text
    sender = RecordingSender()
    texts = await tick(homes, sender)
    assert sorted(chat for chat, _, _ in sender.sent) == [anna.user_id, bert.user_id]
    assert other.user_id not in {chat for chat, _, _ in sender.sent}
    assert all(
        after_preview(t).splitlines()[0] == "Uitnodiging: Familieavond met muziek – De Linde"
        for t in texts
    )
    assert "zaterdag 12 december 2026 om 19:30" in texts[0]
    assert "Lindelaan 1, Voorbeeldstad" in texts[0]
    assert await tick(homes, sender) == []  # once


async def test_a_draft_survives_a_restart_and_menu_or_stoppen_leave_it(homes: BotCore) -> None:
    staff = await staff_user(homes, 620, location_key=LINDE)
    await staff.says("/avond_nieuw")
    await staff.says("Kerstborrel")
    restarted = CoreUser(homes, 620)  # a new process: only the database remembers
    await restarted.says("24-12 15:00")
    assert "Dat is donderdag 24 december 2026 om 15:00" in restarted.last_text
    await restarted.says("/menu")
    await restarted.says("Hallo")  # the menu closed the draft's step: this is not its answer
    assert "Klopt dat?" not in restarted.last_text
    assert "Dat begrijp ik niet" in restarted.last_text
    cid = await caregiver_id(homes, 620)
    async with homes.db.transaction() as session:
        assert await session.get(OpenStep, cid) is None
    await restarted.says("/avond_nieuw")  # a new evening starts from the beginning
    await restarted.says("Nieuwjaarsborrel")
    async with homes.db.transaction() as session:
        draft = await session.get(DialogState, (cid, "evening_new"))
        assert draft is not None and draft.data["answers"] == {"title": "Nieuwjaarsborrel"}


async def test_distress_while_planning_is_answered_alone_and_the_question_waits(
    homes: BotCore,
) -> None:
    staff = await staff_user(homes, 621, location_key=LINDE)
    await staff.says("/avond_nieuw")
    await staff.says("ik kan niet meer")
    assert "113" in staff.last_text and "Hoe heet de avond" not in staff.last_text
    await staff.says("Kerstborrel")  # the draft still waits for its title
    assert "Wanneer is de avond?" in staff.last_text


async def test_a_revoked_staff_member_cannot_go_on_with_their_draft(homes: BotCore) -> None:
    staff = await staff_user(homes, 622, location_key=LINDE)
    await staff.says("/avond_nieuw")
    await staff.says("Kerstborrel")
    async with homes.db.transaction() as session:
        await session.execute(update(StaffMember).values(revoked_at=homes.clock.now()))
    await staff.says("24-12 15:00")
    assert "Klopt dat?" not in staff.last_text and "Dat begrijp ik niet" in staff.last_text
    cid = await caregiver_id(homes, 622)
    async with homes.db.transaction() as session:
        assert await session.get(DialogState, (cid, "evening_new")) is None


async def test_changing_the_title_shows_the_change_and_who_hears_of_it_first(
    homes: BotCore,
) -> None:
    _, staff = await anna_and_an_evening(homes, 623)
    await staff.presses_data(f"eva:show:{await evening_id(homes)}")
    await staff.taps("Naam wijzigen")
    await staff.says("Kerstconcert")
    assert (
        "Nieuw voor Familieavond met muziek: Kerstconcert. Klopt dat? Dan krijgt 1 familielid "
        "bericht." in staff.last_text
    )
    await staff.taps("Ja, wijzigen")
    assert "Gewijzigd. 1 familielid krijgt bericht" in staff.last_text
    assert "Kerstconcert" in staff.last_text  # the evening's card, changed


# ---------------------------------------------------------------- answering


async def test_families_answer_with_party_size_change_it_and_staff_see_counts_and_names(
    homes: BotCore,
) -> None:
    anna = await family(homes, 631, "Anna de Vries")
    bert = await family(homes, 632, "Bert")
    staff = await staff_user(homes, 630, location_key=LINDE)
    await new_evening(staff)
    sender = RecordingSender()
    await tick(homes, sender, anna)
    await anna.taps("Ik kom")
    assert "Met hoeveel personen" in anna.last_text
    await anna.taps("3")
    assert "Je komt met 3 personen" in anna.last_text
    bert.buttons = list(anna.buttons)  # the same invitation
    eid = await evening_id(homes)
    await bert.presses_data(f"ev:a:{eid}:maybe")
    assert "misschien" in bert.last_text
    await staff.says("/avonden")
    assert "Ja: 1 (3 personen) · Misschien: 1 · Nee: 0" in staff.last_text
    await staff.taps("Familieavond met muziek")
    assert "• Anna de Vries (3)" in staff.last_text and "• Bert" in staff.last_text
    await anna.presses_data(f"ev:a:{eid}:no")
    assert "Jammer dat je niet kunt" in anna.last_text
    await staff.says("/avonden")
    assert "Ja: 0 (0 personen) · Misschien: 1 · Nee: 1" in staff.last_text


async def test_only_staff_of_that_location_see_names_and_forged_buttons_fail_gracefully(
    homes: BotCore,
) -> None:
    await family(homes, 641, "Anna de Vries")
    staff = await staff_user(homes, 640, location_key=LINDE)
    elsewhere = await staff_user(homes, 642, location_key=EIK)
    await new_evening(staff)
    eid = await evening_id(homes)
    forged = (
        f"eva:show:{eid}", f"eva:cancel_yes:{eid}", f"eva:edit:{eid}:title", "eva:show:x",
        "eva:show:99999", "eva:edit", f"ev:a:{eid}:yes", "ev:a:1:perhaps", "ev:n:1:99",
    )  # fmt: skip
    for data in forged:
        await elsewhere.presses_data(data)
        assert elsewhere.last.toast == "Deze knop werkt niet meer.", data
        assert "Anna" not in elsewhere.last_text
    await elsewhere.says("/avonden")
    assert "Er zijn geen komende familieavonden" in elsewhere.last_text
    caregiver = await onboarded(homes, 643)
    await caregiver.says("/bestaatniet")
    unknown = caregiver.last_text
    for command in ("/avonden", "/avond_nieuw", "/avond_qr"):
        await caregiver.says(command)
        assert caregiver.last_text == unknown
    async with homes.db.transaction() as session:
        evening = await session.get(FamilyEvening, eid)
        assert evening is not None and evening.status == "active" and evening.version == 1


async def test_a_full_evening_offers_the_waiting_list_and_a_cancellation_moves_it_up(
    homes: BotCore,
) -> None:
    anna = await family(homes, 651, "Anna")
    bert = await family(homes, 652, "Bert")
    staff = await staff_user(homes, 650, location_key=LINDE)
    await new_evening(staff, max_guests=4)
    eid = await evening_id(homes)
    await anna.presses_data(f"ev:a:{eid}:yes")
    await anna.taps("3")
    await bert.presses_data(f"ev:a:{eid}:yes")
    await bert.taps("2")
    assert "Er is nog 1 plaats" in bert.last_text
    await bert.taps("Zet me op de wachtlijst")
    assert "Je staat op de wachtlijst" in bert.last_text
    await staff.says("/avonden")
    assert "Wachtlijst: 1" in staff.last_text
    sender = RecordingSender()
    await tick(homes, sender)  # the invitations
    await anna.presses_data(f"ev:a:{eid}:no")
    texts = await tick(homes, sender)
    assert after_preview(texts[-1]).startswith("Er is plek: Familieavond met muziek")
    assert sender.sent[-1][0] == bert.user_id
    bert_id = await caregiver_id(homes, bert.user_id)
    async with homes.db.transaction() as session:
        rsvp = await session.get(EveningRsvp, (eid, bert_id))
        assert rsvp is not None and rsvp.answer == "yes" and not rsvp.waitlisted


async def caregiver_id(core: BotCore, user_id: int) -> int:
    from bot.db.models import Caregiver

    async with core.db.transaction() as session:
        return int(
            await session.scalar(select(Caregiver.id).where(Caregiver.telegram_user_id == user_id))
            or 0
        )


# ---------------------------------------------------------------- reminders, edit, cancel


async def test_reminders_come_7_and_1_days_before_at_1830_once_and_not_after_no(
    homes: BotCore, clock: FakeClock
) -> None:
    anna = await family(homes, 661, "Anna")
    bert = await family(homes, 662, "Bert")
    staff = await staff_user(homes, 660, location_key=LINDE)
    await new_evening(staff)
    sender = RecordingSender()
    await tick(homes, sender)
    eid = await evening_id(homes)
    await bert.presses_data(f"ev:a:{eid}:no")
    reminders = [
        (due, c) for kind, due, c in await pending_kinds(homes) if kind == "evening_reminder"
    ]
    anna_id = await caregiver_id(homes, anna.user_id)
    assert sorted({due for due, c in reminders if c == anna_id}) == [
        local(2026, 12, 5, 18, 30), local(2026, 12, 11, 18, 30)
    ]  # fmt: skip
    clock.set(local(2026, 12, 5, 18, 30))
    first = await tick(homes, sender)
    assert first == [first[0]] and after_preview(first[0]).startswith(
        "Herinnering: Familieavond met muziek"
    )
    assert sender.sent[-1][0] == anna.user_id
    assert await tick(homes, sender) == []
    clock.set(local(2026, 12, 11, 18, 31))
    assert len(await tick(homes, sender)) == 1
    clock.set(local(2026, 12, 13, 12, 0))
    assert await tick(homes, sender) == []


async def test_moving_the_date_tells_subscribers_and_replans_the_reminders(
    homes: BotCore, clock: FakeClock
) -> None:
    anna, staff = await anna_and_an_evening(homes, 670)
    sender = RecordingSender()
    await tick(homes, sender)
    eid = await evening_id(homes)
    await staff.presses_data(f"eva:show:{eid}")
    await staff.taps("Datum en tijd wijzigen")
    await staff.says("19-12 19:00")
    assert "De nieuwe datum is zaterdag 19 december 2026 om 19:00" in staff.last_text
    assert "Eerst was het zaterdag 12 december 2026 om 19:30" in staff.last_text
    await staff.taps("Ja, klopt")
    assert "Gewijzigd. 1 familielid krijgt bericht" in staff.last_text
    (notice,) = await tick(homes, sender)
    assert after_preview(notice).startswith("Gewijzigd: Familieavond met muziek – De Linde")
    assert "zaterdag 19 december 2026 om 19:00" in notice and "12 december" in notice
    anna_id = await caregiver_id(homes, anna.user_id)
    reminders = sorted(due for kind, due, c in await pending_kinds(homes)
                       if kind == "evening_reminder" and c == anna_id)  # fmt: skip
    assert reminders == [local(2026, 12, 12, 18, 30), local(2026, 12, 18, 18, 30)]
    clock.set(local(2026, 12, 11, 18, 30))  # the old 1-day reminder moment: nothing
    assert await tick(homes, sender) == []


async def test_a_cancelled_evening_tells_the_families_and_sends_no_more_reminders(
    homes: BotCore, clock: FakeClock
) -> None:
    anna, staff = await anna_and_an_evening(homes, 680)
    sender = RecordingSender()
    await tick(homes, sender)
    eid = await evening_id(homes)
    await staff.presses_data(f"eva:show:{eid}")
    await staff.taps("Avond afzeggen")
    assert "Wil je Familieavond met muziek op zaterdag 12 december" in staff.last_text
    await staff.taps("Ja, afzeggen")
    assert "is afgezegd. 1 familielid krijgt bericht" in staff.last_text
    (notice,) = await tick(homes, sender)
    assert after_preview(notice).startswith("Gaat niet door: Familieavond met muziek – De Linde")
    await anna.presses_data(f"ev:a:{eid}:yes")
    assert "gaat niet door" in anna.last_text
    for day in (5, 11, 12):
        clock.set(local(2026, 12, day, 18, 45))
        assert await tick(homes, sender) == []


# ---------------------------------------------------------------- the operator's location settings


async def test_reminder_days_and_time_are_set_per_location_and_upcoming_evenings_follow(
    homes: BotCore,
) -> None:
    anna, _staff = await anna_and_an_evening(homes, 690)
    code, out = await operator(
        homes, "location", "set", LINDE, "--reminder-days", "3", "--reminder-time", "19:15"
    )
    assert code == 0, out
    assert "reminders 3 day(s) before at 19:15" in out and "1 upcoming evening(s)" in out
    anna_id = await caregiver_id(homes, anna.user_id)
    reminders = [due for kind, due, c in await pending_kinds(homes)
                 if kind == "evening_reminder" and c == anna_id]  # fmt: skip
    assert reminders == [local(2026, 12, 9, 19, 15)]
    code, out = await operator(homes, "location", "set", LINDE, "--reminder-days", "none")
    assert code == 0 and "no reminders" in out
    assert [k for k, _, _ in await pending_kinds(homes) if k == "evening_reminder"] == []
    code, out = await operator(
        homes, "location", "add", "de-beuk", "--name", "De Beuk", "--address", "Beukenlaan 3",
        "--organisation", "Zorggroep Voorbeeld", "--reminder-days", "2,14",
    )  # fmt: skip
    assert code == 0, out
    assert "reminders 14,2 day(s) before at 18:30" in (await operator(homes, "location", "list"))[1]


@pytest.mark.parametrize("days", ["0", "7,x", "1,2,3,4,5", "61", ""])
def test_reminder_days_out_of_range_are_refused_with_the_rule(days: str) -> None:
    with pytest.raises(StaffError, match="between 1 and 60"):
        parse_reminder_days(days)


@pytest.mark.parametrize("at", ["24:00", "18.30", "1830", "7:5"])
def test_a_reminder_time_must_be_hours_and_minutes(at: str) -> None:
    with pytest.raises(StaffError, match="HH:MM"):
        parse_reminder_time(at)


async def test_location_qr_writes_a_png_that_decodes_to_the_subscription_deep_link(
    homes: BotCore, tmp_path: Path
) -> None:
    poster = tmp_path / "poster.png"
    code, out = await operator(homes, "location", "qr", LINDE, "--out", str(poster))
    assert code == 0, out
    link = "https://t.me/mantelzorg_test_bot?start=loc_de-linde"
    assert link in out.splitlines()
    assert decode_qr(poster.read_bytes()) == link
    code, out = await operator(homes, "location", "qr", "nergens", "--out", str(poster))
    assert code == 1 and "no location with key 'nergens'" in out


def decode_qr(png: bytes) -> str:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    (found,) = zxingcpp.read_barcodes(image)
    assert found.format == zxingcpp.BarcodeFormat.QRCode
    return found.text


def test_the_calendar_file_is_valid_icalendar_in_utc_with_a_stable_uid() -> None:
    starts = datetime(2027, 3, 29, 17, 30, tzinfo=UTC)  # 19:30 summer time in Amsterdam
    data = evening_ics(
        uid="familieavond-7@mantelzorg-bot", title="Familieavond; met muziek, koor",
        starts_at=starts, place="de grote zaal", address="Lindelaan 1, Voorbeeldstad",
        description="Met koffie.\nEn een koor.", version=3, stamp=NOW,
    )  # fmt: skip
    calendar = Calendar.from_ical(data)
    (event,) = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == starts and event.decoded("dtend") == starts + timedelta(
        hours=2
    )
    assert str(event["summary"]) == "Familieavond; met muziek, koor"
    assert str(event["location"]) == "de grote zaal, Lindelaan 1, Voorbeeldstad"
    assert str(event["description"]) == "Met koffie.\nEn een koor."
    assert int(event["sequence"]) == 3 and str(event["uid"]) == "familieavond-7@mantelzorg-bot"
    assert all(len(line) <= 75 for line in data.split(b"\r\n"))  # folded as RFC 5545 asks


async def test_two_instances_on_postgres_send_each_reminder_exactly_once(
    postgres_url: str, clock: FakeClock
) -> None:
    """Reminders ride on the scheduling rows: two bot instances ticking at the same moment on one
    PostgreSQL database claim disjoint rows (small batches, so they really interleave)."""
    await _truncate_postgres(postgres_url)
    first, second = (core_for(settings_for(postgres_url), clock) for _ in range(2))
    try:
        await add_locations(first)
        families = [await family(first, 5000 + i, f"Familie {i}") for i in range(24)]
        staff = await staff_user(second, 4999, location_key=LINDE)
        await new_evening(staff)
        clock.set(local(2026, 12, 5, 18, 30))  # the 7-day reminder; the invitations are due too
        senders = (RecordingSender(), RecordingSender())

        async def drain(core: BotCore, sender: RecordingSender, worker: str) -> None:
            for _ in range(50):  # 48 rows in batches of 5: bounded, ends when nothing is left
                report = await deliver_due(core, sender, worker, limit=5)  # type: ignore[arg-type]
                if not report.claimed:
                    return

        await asyncio.gather(drain(first, senders[0], "one"), drain(second, senders[1], "two"))
        sent = [
            (chat, after_preview(m.text).split(":")[0]) for s in senders for chat, m, _ in s.sent
        ]
        assert Counter(sent) == Counter(
            {(f.user_id, kind): 1 for f in families for kind in ("Uitnodiging", "Herinnering")}
        )
        assert senders[0].sent and senders[1].sent  # both instances took part
    finally:
        await first.db.dispose()
        await second.db.dispose()


async def test_withdrawing_consent_for_answers_keeps_the_invitations_asked_for_by_subscribing(
    homes: BotCore,
) -> None:
    anna = await onboarded(homes, 711, display_name="Anna")
    await anna.says(f"/start loc_{LINDE}")
    assert "zien de medewerkers van De Linde je naam" in anna.last_text  # said before subscribing
    await anna.taps("Ja, graag")
    staff = await staff_user(homes, 710, location_key=LINDE)
    await new_evening(staff)
    await anna.says("/privacy")
    await anna.taps("Toestemming intrekken")
    await anna.taps("Ja, wis mijn antwoorden en uitslagen")
    assert "gewist" in anna.last_text
    anna_id = await caregiver_id(homes, anna.user_id)
    kinds = sorted(kind for kind, _, c in await pending_kinds(homes) if c == anna_id)
    assert kinds == ["evening_invite", "evening_reminder", "evening_reminder"]
    (invite,) = await tick(homes, RecordingSender())
    assert after_preview(invite).startswith("Uitnodiging: Familieavond met muziek")


def test_reminders_keep_their_local_time_across_the_change_to_summer_time() -> None:
    location = Location(reminder_days=[7, 1], reminder_time="18:30")
    evening = FamilyEvening(starts_at=local(2027, 4, 1, 19, 30))  # Thursday after the change
    moments = reminder_moments(evening, location, NOW)
    assert moments == [
        (7, datetime(2027, 3, 25, 17, 30, tzinfo=UTC)),  # CET, UTC+1
        (1, datetime(2027, 3, 31, 16, 30, tzinfo=UTC)),  # CEST, UTC+2
    ]


def test_no_reminder_lands_in_the_past_or_right_after_the_invitation() -> None:
    location = Location(reminder_days=[7, 1], reminder_time="18:30")
    evening = FamilyEvening(starts_at=local(2026, 11, 27, 19, 30))  # Friday, four days ahead
    assert reminder_moments(evening, location, NOW) == [(1, local(2026, 11, 26, 18, 30))]
    tomorrow = FamilyEvening(starts_at=local(2026, 11, 24, 19, 30))
    assert reminder_moments(tomorrow, location, NOW) == []  # 18:30 today has passed


async def test_a_new_reminder_time_on_the_day_keeps_the_reminder_and_never_repeats_a_sent_one(
    homes: BotCore, clock: FakeClock
) -> None:
    anna, _staff = await anna_and_an_evening(homes, 720)  # Saturday 12 December 19:30
    sender = RecordingSender()
    assert len(await tick(homes, sender)) == 1  # the invitation
    clock.set(local(2026, 12, 5, 18, 30))
    assert len(await tick(homes, sender)) == 1  # 7 days before
    clock.set(local(2026, 12, 11, 10, 0))
    assert (await operator(homes, "location", "set", LINDE, "--reminder-time", "19:00"))[0] == 0
    clock.set(local(2026, 12, 11, 19, 0))  # nine hours later: still reminded, at the new time
    (reminder,) = await tick(homes, sender)
    assert after_preview(reminder).startswith("Herinnering") and sender.sent[-1][0] == anna.user_id
    assert (await operator(homes, "location", "set", LINDE, "--reminder-time", "19:30"))[0] == 0
    clock.set(local(2026, 12, 11, 19, 45))
    assert await tick(homes, sender) == []  # this evening's 1-day reminder went out already


async def test_answers_to_evenings_are_removed_by_the_retention_sweep_like_other_answers(
    homes: BotCore, clock: FakeClock
) -> None:
    anna, _staff = await anna_and_an_evening(homes, 730)
    await anna.presses_data(f"ev:a:{await evening_id(homes)}:maybe")
    clock.set(NOW + timedelta(days=30 * 25))  # past RETENTION_MONTHS (24)
    assert (await sweep(homes)).answers_removed >= 1
    async with homes.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(EveningRsvp)) == 0


async def test_one_person_is_one_persoon_and_one_family_member_one_familielid(
    homes: BotCore,
) -> None:
    anna, staff = await anna_and_an_evening(homes, 740)
    assert (
        "Verstuurd. 1 familielid van De Linde krijgt de uitnodiging"
        in staff.replies[-1].messages[0].text
    )
    eid = await evening_id(homes)
    await anna.presses_data(f"ev:a:{eid}:yes")
    await anna.taps("1")
    assert "Dank je! Je komt naar Familieavond met muziek, op zaterdag 12 december" in (
        anna.last_text
    )
    await anna.presses_data(f"ev:open:{eid}")
    assert "Je antwoord: ik kom, met 1 persoon." in anna.last_text
    await staff.says("/avonden")
    assert "Ja: 1 (1 persoon) · Misschien: 0 · Nee: 0" in staff.last_text
