"""Staff broadcasts in the core: composing with preview and confirmation, who is in the audience,
authorisation (uninvited, revoked, another steunpunt), opt-outs, scheduling and cancelling, the
deliverer's counts, progress and report, and claims of a stopped worker taken back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from bot.app.dispatch import BotCore
from bot.app.runtime import privacy_version
from bot.clock import FakeClock
from bot.db.directory import CaregiverSteunpunt
from bot.db.models import Caregiver
from bot.db.staff import LocationSubscription, StaffMember
from bot.engine.flow import Event
from bot.engine.output import OutMessage
from bot.features.broadcast.delivery import DEAD_AFTER, NoticeDeliverer, beat
from bot.features.broadcast.models import Broadcast, BroadcastDelivery
from bot.features.steunpunt.directory import import_example_if_empty
from bot.transport.sender import SendOutcome
from bot.transport.terminal import plain
from tests.conversation import CoreUser, find_button, invitation, onboarded, staff_user
from tests.test_staff import operator

AMS = ZoneInfo("Europe/Amsterdam")
VUGHT_BOXTEL = "voorbeeld-vught-boxtel"
DEN_BOSCH = "voorbeeld-den-bosch"
VUGHT, BOXTEL, S_HERTOGENBOSCH = "GM0865", "GM0757", "GM0796"


class RecordingSender:
    """Stands in for the one Sender: records sends and edits; `outcomes` per chat id."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, OutMessage, bool]] = []
        self.edits: list[tuple[int, int, str]] = []
        self.outcomes: dict[int, SendOutcome] = {}
        self._next_id = 100

    async def send(self, chat_id: int, message: OutMessage, *, bulk: bool = False) -> SendOutcome:
        self.sent.append((chat_id, message, bulk))
        self._next_id += 1
        return self.outcomes.get(chat_id, SendOutcome("sent", message_id=self._next_id))

    async def edit(self, chat_id: int, message_id: int, message: OutMessage) -> SendOutcome:
        self.edits.append((chat_id, message_id, message.text))
        return SendOutcome("sent", message_id=message_id)

    def bulk_chats(self) -> list[int]:
        return [chat for chat, _, bulk in self.sent if bulk]

    def to(self, chat_id: int) -> list[str]:
        return [plain(m.text) for chat, m, _ in self.sent if chat == chat_id]


@pytest.fixture
async def directory(core: BotCore) -> BotCore:
    await import_example_if_empty(core.db)
    return core


async def caregiver(
    core: BotCore,
    user_id: int,
    *,
    municipality: str | None = None,
    steunpunt: str | None = None,
    consent: bool = True,
    unreachable: bool = False,
    locale: str = "nl",
) -> int:
    """A caregiver as the steunpunt finder leaves them: a municipality and/or a saved steunpunt."""
    now = core.clock.now()
    async with core.db.transaction() as session:
        row = Caregiver(
            telegram_user_id=user_id, chat_id=user_id, locale=locale,
            consent_version=privacy_version() if consent else None, consent_at=now,
            created_at=now, last_seen_at=now, unreachable_at=now if unreachable else None,
        )  # fmt: skip
        session.add(row)
        await session.flush()
        session.add(
            CaregiverSteunpunt(caregiver_id=row.id, municipality_code=municipality,
                               steunpunt_key=steunpunt, flow={}, updated_at=now)
        )  # fmt: skip
        return row.id


async def compose(
    staff: CoreUser, text: str = "Cursus <b>omgaan met stress</b> op 1 december."
) -> None:
    await staff.says("/bericht")
    assert "Typ je bericht" in staff.last_text
    await staff.send(Event("text", plain(text), html=text))


async def deliver(
    core: BotCore, sender: RecordingSender, worker: str = "test:1:a"
) -> NoticeDeliverer:
    deliverer = NoticeDeliverer(core, sender, worker, progress_seconds=0)  # type: ignore[arg-type]
    await deliverer.run()
    return deliverer


async def broadcast_row(core: BotCore) -> Broadcast:
    async with core.db.transaction() as session:
        row = (await session.scalars(select(Broadcast).order_by(Broadcast.id.desc()))).first()
        assert row is not None
        return row


async def delivery_statuses(core: BotCore) -> dict[str, int]:
    async with core.db.transaction() as session:
        result = await session.execute(
            select(BroadcastDelivery.status, func.count()).group_by(BroadcastDelivery.status)
        )
        return {status: int(n) for status, n in result.all()}


async def vught_boxtel_area(core: BotCore) -> dict[str, int]:
    """Caregivers around the Vught-Boxtel steunpunt, by what makes them (not) reachable."""
    return {
        "vught": await caregiver(core, 7001, municipality=VUGHT),
        "vught_en": await caregiver(core, 7002, municipality=VUGHT, locale="en"),
        "boxtel": await caregiver(core, 7003, municipality=BOXTEL),
        "saved_elsewhere": await caregiver(
            core, 7004, municipality=S_HERTOGENBOSCH, steunpunt=VUGHT_BOXTEL
        ),
        "den_bosch": await caregiver(core, 7005, municipality=S_HERTOGENBOSCH),
        "no_consent": await caregiver(core, 7006, municipality=VUGHT, consent=False),
        "blocked": await caregiver(core, 7007, municipality=VUGHT, unreachable=True),
    }


# ---------------------------------------------------------------- compose, preview, send


async def test_staff_composes_previews_confirms_and_their_area_gets_the_notice(
    directory: BotCore,
) -> None:
    await vught_boxtel_area(directory)
    staff = await staff_user(directory, 601, steunpunt_key=VUGHT_BOXTEL, display_name="Sanne")
    await compose(staff)
    assert "Naar wie gaat het bericht?" in staff.last_text
    await staff.taps("Iedereen (4)")
    preview, notice, confirm = staff.last.messages
    assert "Zo krijgen de mantelzorgers je bericht" in preview.text
    assert notice.text.startswith("Een bericht voor je.") and "<b>Bericht van " in notice.text
    assert "Cursus <b>omgaan met stress</b> op 1 december." in notice.text
    assert plain(notice.text).endswith("Tik op /meldingen.")
    assert "gaat naar 4 mantelzorgers" in plain(confirm.text)
    await staff.taps("Nu versturen")
    assert "Ik verstuur je bericht nu naar 4 mantelzorgers" in staff.last_text

    sender = RecordingSender()
    await deliver(directory, sender)
    assert sorted(sender.bulk_chats()) == [7001, 7002, 7003, 7004]
    sent = {chat: m for chat, m, bulk in sender.sent if bulk}
    assert sent[7001].text == notice.text  # exactly what the preview showed
    assert "Message from" in sent[7002].text and "Tik op" not in sent[7002].text  # English
    progress, report = sender.to(601)
    assert "Bezig met versturen naar 4 mantelzorgers" in progress
    assert "Je bericht is verstuurd" in report and "Verstuurd: 4. Nog te gaan: 0." in report
    assert "Klaar met versturen" in plain(sender.edits[-1][2])  # the one progress message
    row = await broadcast_row(directory)
    assert (row.status, row.recipients, row.sender_name) == ("done", 4, "Sanne")
    assert row.started_at is not None and row.finished_at is not None
    assert row.audience_label.startswith("Alle mantelzorgers van")
    assert await delivery_statuses(directory) == {"sent": 4}
    again = RecordingSender()
    await deliver(directory, again)
    assert again.sent == [] and await delivery_statuses(directory) == {"sent": 4}


async def test_choosing_municipalities_counts_and_reaches_only_those(directory: BotCore) -> None:
    await vught_boxtel_area(directory)
    staff = await staff_user(directory, 602, steunpunt_key=VUGHT_BOXTEL)
    await compose(staff)
    await staff.taps("Kies gemeenten")
    labels = [b.label for b in staff.buttons]
    assert "Boxtel (1)" in labels and "Vught (2)" in labels
    await staff.taps("Klaar")
    assert staff.last.toast == "Kies eerst minstens één gemeente."
    await staff.taps("Vught (2)")
    assert "✓ Vught (2)" in [b.label for b in staff.buttons]
    await staff.taps("Klaar")
    assert "gaat naar 2 mantelzorgers (Mantelzorgers in Vught)" in staff.last_text
    await staff.taps("Nu versturen")
    sender = RecordingSender()
    await deliver(directory, sender)
    assert sorted(sender.bulk_chats()) == [7001, 7002]


async def test_a_location_notice_goes_to_its_subscribers(directory: BotCore) -> None:
    from tests.test_staff import operator

    await operator(directory, "location", "add", "de-linde", "--name", "De Linde",
                   "--address", "Voorbeeldstraat 1", "--organisation", "Voorbeeldzorg")  # fmt: skip
    subscriber = await caregiver(directory, 7101)
    await caregiver(directory, 7102, municipality=VUGHT)
    async with directory.db.transaction() as session:
        session.add(LocationSubscription(caregiver_id=subscriber, location_id=1,
                                         subscribed_at=directory.clock.now()))  # fmt: skip
    staff = await staff_user(directory, 603, location_key="de-linde")
    await compose(staff, "Familieavond verschoven naar donderdag.")
    assert "gaat naar 1 mantelzorger (Aangemelde families van De Linde" in staff.last_text
    await staff.taps("Nu versturen")
    sender = RecordingSender()
    await deliver(directory, sender)
    assert sender.bulk_chats() == [7101]


async def test_a_too_long_text_is_refused_and_the_draft_kept(directory: BotCore) -> None:
    staff = await staff_user(directory, 604, steunpunt_key=DEN_BOSCH)
    await compose(staff, "Eerste versie.")
    await staff.taps("Tekst aanpassen")
    await staff.says("x" * 4100)
    assert "Dat is te lang: het mag" in staff.last_text
    await staff.says("/bericht")  # the draft waits where it was
    assert "Typ je bericht" in staff.last_text
    await staff.send(Event("unsupported", "photo", args="y" * 1000, file_id="PHOTO-1"))
    assert "Dat is te lang" in staff.last_text  # a caption is shorter
    await staff.send(Event("unsupported", "photo", file_id="PHOTO-1"))  # no caption: text kept
    await staff.taps("Iedereen")
    notice = staff.last.messages[1]
    assert notice.photo_id == "PHOTO-1" and "Eerste versie." in notice.text


async def test_a_photo_with_caption_is_previewed_and_sent_by_file_id(directory: BotCore) -> None:
    await caregiver(directory, 7201, municipality=S_HERTOGENBOSCH)
    staff = await staff_user(directory, 605, steunpunt_key=DEN_BOSCH)
    await staff.says("/bericht")
    await staff.send(Event("unsupported", "photo", file_id="PHOTO-1"))
    assert "Typ nu de tekst die erbij hoort" in staff.last_text
    await staff.says("Dag van de Mantelzorg: 10 november")
    await staff.taps("Iedereen (1)")
    notice = staff.last.messages[1]
    assert notice.photo_id == "PHOTO-1" and "Dag van de Mantelzorg" in notice.text
    await staff.taps("Nu versturen")
    sender = RecordingSender()
    await deliver(directory, sender)
    ((chat, message, _),) = [s for s in sender.sent if s[2]]
    assert chat == 7201 and message.photo_id == "PHOTO-1"


async def test_stopping_a_draft_sends_nothing(directory: BotCore) -> None:
    await caregiver(directory, 7301, municipality=S_HERTOGENBOSCH)
    staff = await staff_user(directory, 606, steunpunt_key=DEN_BOSCH)
    await compose(staff)
    await staff.taps("Stoppen")
    assert "Het concept is weg" in staff.last_text
    await staff.says("Gewoon een vraag")  # typed text is no longer taken as a notice
    assert "Typ je bericht" not in staff.last_text
    sender = RecordingSender()
    await deliver(directory, sender)
    assert sender.sent == []


# ---------------------------------------------------------------- authorisation


async def test_an_uninvited_user_gets_the_normal_answer_to_staff_commands_and_buttons(
    directory: BotCore,
) -> None:
    user = await onboarded(directory, 611)
    await user.says("/bestaatniet")
    unknown = user.last_text
    for command in ("/bericht", "/berichten"):
        await user.says(command)
        assert user.last_text == unknown
    await user.presses_data("bc:now:1")
    assert user.last.toast == "Deze knop werkt niet meer."


async def test_a_revoked_staff_member_can_no_longer_send_their_draft(directory: BotCore) -> None:
    await caregiver(directory, 7401, municipality=S_HERTOGENBOSCH)
    staff = await staff_user(directory, 612, steunpunt_key=DEN_BOSCH)
    await compose(staff)
    await staff.taps("Iedereen (1)")
    _, listing = await operator(directory, "staff", "list")
    await operator(directory, "staff", "revoke", listing.split("\t", 1)[0])
    await staff.taps("Nu versturen")
    assert staff.last.toast == "Deze knop werkt niet meer."
    await staff.says("/bericht")
    assert "ken ik niet" in staff.last_text
    await deliver(directory, sender := RecordingSender())
    assert sender.sent == []


async def test_staff_of_another_steunpunt_cannot_reach_or_stop_caregivers_outside_their_area(
    directory: BotCore,
) -> None:
    await vught_boxtel_area(directory)
    own = await staff_user(directory, 613, steunpunt_key=VUGHT_BOXTEL)
    other = await staff_user(directory, 614, steunpunt_key=DEN_BOSCH)
    await compose(own)
    await own.taps("Kies gemeenten")
    # The buttons of a draft of another steunpunt do nothing for them.
    pressed = [find_button(own.buttons, label).data for label in ("Vught (2)", "Klaar")]
    for data in pressed:
        await other.presses_data(data)
        assert other.last.toast == "Deze knop werkt niet meer."
    await own.taps("Vught (2)")
    await own.taps("Klaar")
    await own.taps("Ontvangers aanpassen")
    await own.taps("Iedereen (4)")
    other.buttons = list(own.buttons)
    await other.taps("Nu versturen")
    assert other.last.toast == "Deze knop werkt niet meer."
    await other.says("/bericht")
    await other.send(Event("text", "Alleen voor Den Bosch"))
    # Den Bosch staff reach the caregivers of 's-Hertogenbosch, never those of Vught or Boxtel
    # (7004 lives there, though they saved the Vught-Boxtel steunpunt).
    await other.taps("Iedereen (2)")
    await other.taps("Nu versturen")
    await own.taps("Later versturen")
    await own.says("morgen 10:00")
    draft = await broadcast_row(directory)
    await other.presses_data(f"bc:cancel:{draft.id}")
    assert other.last.toast == "Deze knop werkt niet meer."
    await other.says("/berichten")
    assert "Alleen voor Den Bosch" in other.last_text and "omgaan" not in other.last_text
    sender = RecordingSender()
    await deliver(directory, sender)
    assert sorted(sender.bulk_chats()) == [7004, 7005]


async def test_forged_or_malformed_button_data_is_answered_as_stale(directory: BotCore) -> None:
    staff = await staff_user(directory, 615, steunpunt_key=DEN_BOSCH)
    for data in ("bc", "bc:now", "bc:now:x", "bc:now:999", "bc:scope:999", "bc:mt:1:GM0865"):
        await staff.presses_data(data)
        assert staff.last.toast == "Deze knop werkt niet meer.", data


# ---------------------------------------------------------------- opt-out


async def test_meldingen_switches_notices_of_my_steunpunt_off_and_on(directory: BotCore) -> None:
    user = await onboarded(directory, 621)
    await user.says("/meldingen")
    assert "geen berichten van een steunpunt" in user.last_text
    async with directory.db.transaction() as session:
        caregiver_id = await session.scalar(
            select(Caregiver.id).where(Caregiver.telegram_user_id == 621)
        )
        session.add(CaregiverSteunpunt(caregiver_id=caregiver_id, municipality_code=VUGHT,
                                       flow={}, updated_at=directory.clock.now()))  # fmt: skip
    staff = await staff_user(directory, 622, steunpunt_key=VUGHT_BOXTEL)

    async def send_notice() -> list[int]:
        await compose(staff)
        await staff.taps("Iedereen")
        if "niemand" in staff.last_text:
            await staff.taps("Stoppen")
            return []
        await staff.taps("Nu versturen")
        sender = RecordingSender()
        await deliver(directory, sender)
        return sender.bulk_chats()

    await user.says("/meldingen")
    (label,) = [b.label for b in user.buttons if "aan" in b.label]
    assert "Vught" in label
    await user.taps(label)
    assert "Je krijgt geen berichten meer van" in user.last_text
    assert await send_notice() == []
    await user.taps("uit")
    assert "Je krijgt weer berichten van" in user.last_text
    assert await send_notice() == [621]
    await user.presses_data("nt:s:voorbeeld-gestel")  # not a steunpunt of mine
    assert user.last.toast == "Deze knop werkt niet meer."


async def test_an_opt_out_after_the_start_is_honoured_for_rows_not_yet_sent(
    directory: BotCore,
) -> None:
    await vught_boxtel_area(directory)
    staff = await staff_user(directory, 623, steunpunt_key=VUGHT_BOXTEL)
    await compose(staff)
    await staff.taps("Iedereen (4)")
    await staff.taps("Nu versturen")
    user = CoreUser(directory, 7001)
    await user.says("/meldingen")
    await user.taps("aan")
    sender = RecordingSender()
    await deliver(directory, sender)
    assert sorted(sender.bulk_chats()) == [7002, 7003, 7004]
    assert await delivery_statuses(directory) == {"sent": 3, "skipped": 1}


# ---------------------------------------------------------------- scheduling and cancelling


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=AMS).astimezone(UTC)


async def test_a_scheduled_notice_starts_at_its_time_with_the_audience_of_that_moment(
    directory: BotCore, clock: FakeClock
) -> None:
    await caregiver(directory, 7501, municipality=S_HERTOGENBOSCH)
    staff = await staff_user(directory, 631, steunpunt_key=DEN_BOSCH)
    await compose(staff)
    await staff.taps("Iedereen (1)")
    await staff.taps("Later versturen")
    await staff.says("gisteren 10:00")
    assert "begrijp ik niet" in staff.last_text
    await staff.says("23-11 10:00")
    assert "al voorbij" in staff.last_text
    await staff.says("morgen 23:00")
    assert "Kies een tijd tussen 08:00 en 22:00" in staff.last_text
    await staff.says("morgen 10:00")
    assert "Gepland: je bericht gaat dinsdag 24 november 2026 om 10:00" in staff.last_text
    sender = RecordingSender()
    await deliver(directory, sender)
    assert sender.sent == []
    await caregiver(directory, 7502, municipality=S_HERTOGENBOSCH)  # joins before the start
    clock.set(local(2026, 11, 24, 10, 0))
    await deliver(directory, sender)
    assert sorted(sender.bulk_chats()) == [7501, 7502]
    assert (await broadcast_row(directory)).recipients == 2


async def test_a_scheduled_notice_can_be_stopped_and_nothing_goes_out(
    directory: BotCore, clock: FakeClock
) -> None:
    await caregiver(directory, 7601, municipality=S_HERTOGENBOSCH)
    staff = await staff_user(directory, 632, steunpunt_key=DEN_BOSCH)
    colleague = await staff_user(directory, 633, steunpunt_key=DEN_BOSCH)
    await compose(staff)
    await staff.taps("Iedereen (1)")
    await staff.taps("Later versturen")
    await staff.says("morgen 10:00")
    await colleague.says("/berichten")  # a colleague of the same steunpunt may stop it
    assert "gepland" in colleague.last_text
    await colleague.taps("Stop bericht van")
    assert "Het bericht is gestopt" in colleague.last_text
    await colleague.presses_data(f"bc:cancel:{(await broadcast_row(directory)).id}")
    assert "al klaar of gestopt" in colleague.last_text
    clock.set(local(2026, 11, 24, 10, 0))
    sender = RecordingSender()
    await deliver(directory, sender)
    assert sender.sent == [] and (await broadcast_row(directory)).status == "cancelled"


async def test_stopping_a_running_notice_cancels_every_pending_delivery(
    directory: BotCore,
) -> None:
    await vught_boxtel_area(directory)
    staff = await staff_user(directory, 634, steunpunt_key=VUGHT_BOXTEL)
    await compose(staff)
    await staff.taps("Iedereen (4)")
    await staff.taps("Nu versturen")
    await staff.says("/berichten")
    assert "bezig" in staff.last_text
    await staff.taps("Stop bericht van")
    assert "Verstuurd: 0. Nog te gaan: 0." in staff.last_text
    sender = RecordingSender()
    await deliver(directory, sender)
    assert sender.bulk_chats() == []
    assert await delivery_statuses(directory) == {"cancelled": 4}


async def test_a_notice_pressed_at_night_waits_until_eight(
    directory: BotCore, clock: FakeClock
) -> None:
    await caregiver(directory, 7701, municipality=S_HERTOGENBOSCH)
    staff = await staff_user(directory, 635, steunpunt_key=DEN_BOSCH)
    clock.set(local(2026, 11, 23, 23, 30))
    await compose(staff)
    await staff.taps("Iedereen (1)")
    await staff.taps("Nu versturen")
    assert "gaat dinsdag 24 november 2026 om 08:00 naar de mantelzorgers" in staff.last_text
    sender = RecordingSender()
    await deliver(directory, sender)
    assert sender.sent == []
    clock.set(local(2026, 11, 24, 8, 0))
    await deliver(directory, sender)
    assert sender.bulk_chats() == [7701]


# ---------------------------------------------------------------- delivery outcomes and workers


async def test_blocked_and_failed_deliveries_are_counted_in_the_report(directory: BotCore) -> None:
    await vught_boxtel_area(directory)
    staff = await staff_user(directory, 641, steunpunt_key=VUGHT_BOXTEL)
    await compose(staff)
    await staff.taps("Iedereen (4)")
    await staff.taps("Nu versturen")
    sender = RecordingSender()
    sender.outcomes[7002] = SendOutcome("blocked", error="forbidden")
    sender.outcomes[7003] = SendOutcome("failed", error="bad_request: chat not found")
    await deliver(directory, sender)
    assert "Verstuurd: 2. Nog te gaan: 0. Geblokkeerd: 1. Mislukt: 1." in sender.to(641)[-1]
    async with directory.db.transaction() as session:
        errors = dict((await session.execute(
            select(BroadcastDelivery.status, BroadcastDelivery.error)
        )).all())  # fmt: skip
    assert errors["failed"] == "bad_request: chat not found" and errors["blocked"] == "forbidden"


async def test_claims_of_a_stopped_worker_are_taken_back_after_its_heartbeat_stops(
    directory: BotCore, clock: FakeClock
) -> None:
    await vught_boxtel_area(directory)
    staff = await staff_user(directory, 642, steunpunt_key=VUGHT_BOXTEL)
    await compose(staff)
    await staff.taps("Iedereen (4)")
    await staff.taps("Nu versturen")
    gone = "another-host:4242:deadbeef"  # on another machine: only its heartbeat tells
    async with directory.db.transaction() as session:
        await beat(session, gone, clock.now())
        await session.execute(
            update(BroadcastDelivery).values(status="claimed", claimed_by=gone,
                                             claimed_at=clock.now())
        )  # fmt: skip
    sender = RecordingSender()
    await deliver(directory, sender)
    assert sender.bulk_chats() == []  # its heartbeat is recent: it may still be sending
    clock.advance(DEAD_AFTER + timedelta(seconds=1))
    await deliver(directory, sender)
    assert sorted(sender.bulk_chats()) == [7001, 7002, 7003, 7004]
    assert await delivery_statuses(directory) == {"sent": 4}


async def test_a_caregiver_who_is_forgotten_leaves_no_delivery_or_opt_out_behind(
    directory: BotCore,
) -> None:
    await vught_boxtel_area(directory)
    staff = await staff_user(directory, 643, steunpunt_key=VUGHT_BOXTEL)
    await compose(staff)
    await staff.taps("Iedereen (4)")
    await staff.taps("Nu versturen")
    async with directory.db.transaction() as session:
        await session.execute(Caregiver.__table__.delete().where(Caregiver.telegram_user_id == 643))
        await session.execute(
            Caregiver.__table__.delete().where(Caregiver.telegram_user_id == 7001)
        )
    row = await broadcast_row(directory)
    assert row.sender_caregiver_id is None and row.sender_member_id is None
    assert await delivery_statuses(directory) == {"pending": 3}


# ---------------------------------------------------------------- rights checked when sending


async def planned_for_tomorrow(staff: CoreUser) -> None:
    await compose(staff)
    await staff.taps("Iedereen")
    await staff.taps("Later versturen")
    await staff.says("morgen 10:00")
    assert "Gepland" in staff.last_text


async def test_revoking_a_staff_member_cancels_their_planned_notice(
    directory: BotCore, clock: FakeClock
) -> None:
    await caregiver(directory, 7801, municipality=S_HERTOGENBOSCH)
    staff = await staff_user(directory, 651, steunpunt_key=DEN_BOSCH, display_name="Bas")
    await planned_for_tomorrow(staff)
    _, listing = await operator(directory, "staff", "list")
    code, out = await operator(directory, "staff", "revoke", listing.split("\t", 1)[0])
    notice = await broadcast_row(directory)
    assert code == 0 and f"planned notice(s) cancelled: {notice.id}" in out
    assert notice.status == "cancelled"
    clock.set(local(2026, 11, 24, 10, 0))
    await deliver(directory, sender := RecordingSender())
    assert sender.sent == []


async def test_a_planned_notice_of_someone_no_longer_staff_is_cancelled_when_it_would_start(
    directory: BotCore, clock: FakeClock
) -> None:
    await caregiver(directory, 7802, municipality=S_HERTOGENBOSCH)
    staff = await staff_user(directory, 652, steunpunt_key=DEN_BOSCH)
    await planned_for_tomorrow(staff)
    async with directory.db.transaction() as session:  # the role ended some other way
        await session.execute(update(StaffMember).values(revoked_at=clock.now()))
    clock.set(local(2026, 11, 24, 10, 0))
    await deliver(directory, sender := RecordingSender())
    assert sender.sent == []
    notice = await broadcast_row(directory)
    assert (notice.status, notice.started_at) == ("cancelled", None)
    assert await delivery_statuses(directory) == {}


async def test_the_operator_lists_and_cancels_any_notice(
    directory: BotCore, clock: FakeClock
) -> None:
    await vught_boxtel_area(directory)
    await caregiver(directory, 7803, municipality=S_HERTOGENBOSCH)
    planner = await staff_user(directory, 653, steunpunt_key=DEN_BOSCH, display_name="Ilse")
    await planned_for_tomorrow(planner)
    planned = await broadcast_row(directory)
    sender_now = await staff_user(directory, 654, steunpunt_key=VUGHT_BOXTEL)
    await compose(sender_now, "Koffieochtend vrijdag.")
    await sender_now.taps("Iedereen (4)")
    await sender_now.taps("Nu versturen")
    running = await broadcast_row(directory)

    code, listing = await operator(directory, "notice", "list")
    assert code == 0
    lines = listing.splitlines()
    assert lines[0].startswith(f"{running.id}\tsending\t") and "Koffieochtend vrijdag." in lines[0]
    assert lines[1].startswith(f"{planned.id}\tscheduled\t2026-11-24 09:00 UTC\t")
    assert lines[1].endswith("\tby Ilse\tsent 0 of 3\tCursus omgaan met stress op 1 december.")
    code, out = await operator(directory, "notice", "cancel", str(running.id))
    assert (code, out) == (0, f"notice {running.id} cancelled; sent before the stop: 0, "
                              "not sent: 4\n")  # fmt: skip
    code, out = await operator(directory, "notice", "cancel", str(planned.id))
    assert code == 0
    code, out = await operator(directory, "notice", "cancel", str(planned.id))
    assert (code, out) == (1, f"error: notice {planned.id} is cancelled already\n")
    code, out = await operator(directory, "notice", "cancel", "999")
    assert code == 1 and "no notice with id 999" in out
    assert (await operator(directory, "notice", "list"))[1] == "no notices\n"
    assert "\tcancelled\t" in (await operator(directory, "notice", "list", "--all"))[1]

    clock.set(local(2026, 11, 24, 10, 0))
    await deliver(directory, sender := RecordingSender())
    assert sender.bulk_chats() == []


async def test_a_staff_member_who_is_forgotten_vanishes_from_their_notices(
    directory: BotCore, clock: FakeClock
) -> None:
    await vught_boxtel_area(directory)
    await caregiver(directory, 7804, municipality=S_HERTOGENBOSCH)
    staff = await staff_user(directory, 655, steunpunt_key=DEN_BOSCH, display_name="Fenna")
    await planned_for_tomorrow(staff)
    planned = await broadcast_row(directory)
    # Staff of two steunpunten: the notice of the other one is already going out.
    payload = await invitation(directory, steunpunt_key=VUGHT_BOXTEL)
    await staff.says(f"/start {payload}")
    await staff.says("/bericht")
    await staff.taps("Mantelzorgpunt Vught en Boxtel")
    await staff.send(Event("text", "Koffieochtend vrijdag."))
    await staff.taps("Iedereen (4)")
    await staff.taps("Nu versturen")
    running = await broadcast_row(directory)
    colleague = await staff_user(directory, 656, steunpunt_key=DEN_BOSCH)

    await staff.says("/vergeetmij")
    await staff.taps("Ja, wis alles over mij")
    async with directory.db.transaction() as session:
        rows_ = (await session.execute(
            select(Broadcast.sender_name, Broadcast.report_chat_id, Broadcast.sender_caregiver_id)
        )).all()  # fmt: skip
    assert rows_ == [("", None, None), ("", None, None)]
    await deliver(directory, sender := RecordingSender())
    assert sorted(sender.bulk_chats()) == [7001, 7002, 7003, 7004]  # the running one goes on
    assert sender.to(655) == [] and sender.edits == []  # no progress, no report to them
    clock.set(local(2026, 11, 24, 10, 0))
    await deliver(directory, sender := RecordingSender())
    assert sender.sent == []  # the planned one does not go out
    async with directory.db.transaction() as session:
        statuses = dict((await session.execute(select(Broadcast.id, Broadcast.status))).all())
    assert statuses == {planned.id: "cancelled", running.id: "done"}
    await colleague.says("/berichten")
    assert "door een oud-medewerker: gestopt" in colleague.last_text
    assert "Fenna" not in colleague.last_text
