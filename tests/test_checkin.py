"""Check-ins on the channel-agnostic core: setup, the question on time, replies that follow the
trend, snooze, changing and stopping, consent, and the picture in /resultaten (SQLite and PG).

The clock starts on Monday 23 November 2026, 19:00 in Amsterdam; ticks run `deliver_due`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

from PIL import Image
from sqlalchemy import func, select

from bot.app.dispatch import BotCore
from bot.clock import FakeClock
from bot.features.checkin.models import CheckinAnswer, CheckinSchedule
from bot.jobs.scheduled import ScheduledMessage, deliver_due
from bot.transport.terminal import plain
from tests.conversation import CoreUser
from tests.test_flows import complete_selfcheck, onboarded
from tests.test_scheduling import RecordingSender

AMS = ZoneInfo("Europe/Amsterdam")


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=AMS).astimezone(UTC)


async def tick(core: BotCore, sender: RecordingSender, user: CoreUser | None = None) -> list[str]:
    """Run one scheduler tick; the user now sees the buttons of what arrived."""
    before = len(sender.sent)
    await deliver_due(core, sender, "test-worker")  # type: ignore[arg-type]
    arrived = [m for _, m, _ in sender.sent[before:]]
    if user is not None and arrived:
        user.buttons = [b for row in arrived[-1].buttons for b in row]
    return [plain(m.text) for m in arrived]


async def pending(core: BotCore) -> list[datetime]:
    async with core.db.transaction() as session:
        rows = await session.scalars(
            select(ScheduledMessage.due_at)
            .where(ScheduledMessage.status == "pending")
            .order_by(ScheduledMessage.due_at)
        )
        return list(rows)


async def count(core: BotCore, model: type) -> int:
    async with core.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def with_checkins(
    core: BotCore, cadence: str = "Elke week", day: str = "dinsdag", at: str = "Avond"
) -> CoreUser:
    user = await onboarded(core)
    await user.says("/checkin")
    await user.taps(cadence)
    await user.taps(day)
    await user.taps(at)
    return user


async def test_setting_up_weekly_evening_check_ins(core: BotCore) -> None:
    user = await onboarded(core)
    await user.says("/checkin")
    assert "één vraag" in user.last_text and "Hoe vaak wil je een check-in?" in user.last_text
    await user.taps("Elke week")
    assert "Op welke dag?" in user.last_text
    await user.taps("dinsdag")
    assert "Nederlandse tijd" in user.last_text
    await user.taps("Avond (19:30)")
    assert "elke week een check-in op dinsdag om 19:30" in user.last_text
    assert "De eerste komt op dinsdag 24 november 2026 om 19:30." in user.last_text
    assert await pending(core) == [local(2026, 11, 24, 19, 30)]
    await user.says("/checkin")
    assert "Nu krijg je een check-in elke week op dinsdag om 19:30." in user.last_text


async def test_check_ins_need_consent_and_continue_after_a_yes(core: BotCore) -> None:
    user = CoreUser(core)
    await user.says("/start")
    await user.taps("Nederlands")
    await user.taps("Nee, liever niet")
    await user.says("/checkin")
    assert "bewaar ik je antwoorden met de datum" in user.last_text
    await user.taps("Ja, dat mag")
    assert "Hoe vaak wil je een check-in?" in user.last_text


async def test_forged_setup_buttons_are_refused(core: BotCore) -> None:
    user = await onboarded(core)
    for data in ("c:at:daily:1:1930", "c:at:weekly:9:1930", "c:at:weekly:1:0300", "c:sc:x:5"):
        await user.presses_data(data)
        assert user.last.toast == "Deze knop werkt niet meer.", data
    assert await pending(core) == []


async def test_the_check_in_arrives_on_time_with_a_neutral_first_line(
    core: BotCore, clock: FakeClock
) -> None:
    user = await with_checkins(core)
    sender = RecordingSender()
    assert await tick(core, sender) == []  # not yet due
    clock.set(local(2026, 11, 24, 19, 30))
    (text,) = await tick(core, sender, user)
    assert text.splitlines()[0] == "Tijd voor je check-in."
    labels = [b.label for b in user.buttons]
    assert labels[:11] == [str(n) for n in range(11)]
    assert {"Later vandaag", "Morgen", "Schema aanpassen", "Stoppen met check-ins"} <= set(labels)
    assert await pending(core) == [local(2026, 12, 1, 19, 30)]  # the next one, a week later


async def test_a_light_answer_gets_a_warm_reply_and_an_optional_note(
    core: BotCore, clock: FakeClock
) -> None:
    user = await with_checkins(core)
    sender = RecordingSender()
    clock.set(local(2026, 11, 24, 19, 30))
    await tick(core, sender, user)
    await user.taps("2")
    reply, followup = user.last.messages
    assert "Fijn dat het nu te doen is" in reply.text and "eerste check-in" in reply.text
    assert "Wat hielp je de laatste tijd?" in followup.text
    assert user.last.pressed_label == "2"
    await user.says("Mijn zus kwam helpen")
    assert "Ik heb het bij je check-in gezet" in user.last_text
    await user.says("nog iets")  # the follow-up is closed: ordinary text again
    assert "Kies iets uit het menu" in user.last_text
    async with core.db.transaction() as session:
        answer = (await session.scalars(select(CheckinAnswer))).one()
    assert (answer.score, answer.note, answer.note_kind) == (2, "Mijn zus kwam helpen", "helped")


async def test_a_rising_trend_offers_the_self_check_and_people_never_just_thanks(
    core: BotCore, clock: FakeClock
) -> None:
    user = await with_checkins(core)
    sender = RecordingSender()
    for week, score in enumerate(("2", "3", "6")):
        clock.set(local(2026, 11, 24, 19, 30) + timedelta(weeks=week, minutes=5))
        await tick(core, sender, user)
        await user.taps(score)
        await user.taps("Overslaan")
        assert "Tot de volgende check-in" in user.last_text
    reply = user.replies[-2].messages[0]  # the answer "6", before "Overslaan"
    text = plain(reply.text)
    assert "Vorige keer (1 december 2026) gaf je een 3. Het is nu zwaarder." in text
    assert "flink zwaarder geworden" in text and "respijtzorg" in text
    offered = [plain(b.label) for row in reply.buttons for b in row]
    assert offered == [
        "Zelftest doen",
        "Steunpunt zoeken",
        "Respijtzorg bekijken",
        "Iemand spreken",
        "Wat speelt er bij jou? Korte uitleg",  # the situation guides, offered once
    ]


async def test_a_high_answer_offers_the_steunpunt_when_that_command_exists(
    core: BotCore, clock: FakeClock
) -> None:
    assert "steunpunt" in core.registry.commands
    user = await with_checkins(core)
    clock.set(local(2026, 11, 24, 19, 30))
    await tick(core, RecordingSender(), user)
    await user.taps("8")
    assert "Dat is zwaar" in user.last_text and "Wil je kwijt wat nu het zwaarst weegt?" in (
        user.last_text
    )
    offered = [plain(b.label) for row in user.last.messages[0].buttons for b in row]
    assert offered == [
        "Zelftest doen",
        "Steunpunt zoeken",
        "Respijtzorg bekijken",
        "Iemand spreken",
    ]


async def test_old_and_double_taps_do_not_count_twice(core: BotCore, clock: FakeClock) -> None:
    user = await with_checkins(core)
    sender = RecordingSender()
    clock.set(local(2026, 11, 24, 19, 30))
    await tick(core, sender, user)
    old_buttons = list(user.buttons)
    await user.taps("4")
    user.buttons = old_buttons
    await user.taps("5")
    assert user.last.toast == "Je antwoord is al binnen."
    clock.set(local(2026, 12, 1, 19, 30))
    await tick(core, sender, user)
    user.buttons = old_buttons
    await user.taps("7")
    assert "Deze check-in is al voorbij" in user.last_text
    assert await count(core, CheckinAnswer) == 1


async def test_snooze_later_today_respects_quiet_hours_and_tomorrow_keeps_the_time(
    core: BotCore, clock: FakeClock
) -> None:
    user = await with_checkins(core)
    sender = RecordingSender()
    clock.set(local(2026, 11, 24, 19, 30))
    await tick(core, sender, user)
    await user.taps("Later vandaag")
    # 19:30 + 3 hours is 22:30, inside quiet hours: the morning instead.
    assert "woensdag 25 november 2026 om 08:00" in user.last_text
    assert local(2026, 11, 25, 8) in await pending(core)
    clock.set(local(2026, 11, 25, 8))
    (text,) = await tick(core, sender, user)
    assert text.startswith("Tijd voor je check-in.")
    await user.taps("Morgen")
    assert "donderdag 26 november 2026 om 19:30" in user.last_text
    clock.set(local(2026, 11, 26, 19, 30))
    assert len(await tick(core, sender, user)) == 1
    await user.taps("3")
    # Snoozing never moved the rhythm: the regular one is still next Tuesday.
    assert await pending(core) == [local(2026, 12, 1, 19, 30)]


async def test_changing_the_cadence_mid_cycle_replaces_the_pending_check_in(
    core: BotCore, clock: FakeClock
) -> None:
    user = await with_checkins(core)
    clock.set(local(2026, 11, 24, 19, 30))
    await tick(core, RecordingSender(), user)
    await user.taps("Schema aanpassen")
    await user.taps("Elke maand")
    await user.taps("maandag")
    await user.taps("Middag")
    assert "eerste van de maand" in user.last_text
    assert await pending(core) == [local(2026, 12, 7, 13)]  # the first Monday of December


async def test_downtime_sends_the_missed_check_in_once_and_moves_on(
    core: BotCore, clock: FakeClock
) -> None:
    await with_checkins(core)
    sender = RecordingSender()
    clock.set(local(2027, 1, 6, 10))  # the bot was down for six weeks
    assert len(await tick(core, sender)) == 1
    assert await tick(core, sender) == []
    assert await pending(core) == [local(2027, 1, 12, 19, 30)]


async def test_stopped_blocked_or_withdrawn_caregivers_get_nothing_more(
    core: BotCore, clock: FakeClock
) -> None:
    sender = RecordingSender()
    stopper = await with_checkins(core)
    await stopper.says("/checkin")
    await stopper.taps("Geen check-ins")
    assert "geen check-ins meer" in stopper.last_text
    withdrawn = CoreUser(core, 2001)
    await withdrawn.says("/start")
    await withdrawn.taps("Nederlands")
    await withdrawn.taps("Ja, dat mag")
    await withdrawn.says("/checkin")
    await withdrawn.taps("Elke week")
    await withdrawn.taps("dinsdag")
    await withdrawn.taps("Avond")
    await withdrawn.says("/privacy")
    await withdrawn.taps("Toestemming intrekken")
    await withdrawn.taps("Ja, wis mijn antwoorden en uitslagen")
    blocked = CoreUser(core, 2002)
    await blocked.says("/start")
    await blocked.taps("Nederlands")
    await blocked.taps("Ja, dat mag")
    await blocked.says("/checkin")
    await blocked.taps("Elke week")
    await blocked.taps("dinsdag")
    await blocked.taps("Avond")
    await core.mark_unreachable(2002)
    assert await count(core, CheckinSchedule) == 2  # the withdrawn one is erased
    clock.set(local(2026, 11, 24, 19, 30))
    assert await tick(core, sender) == []
    clock.set(local(2026, 12, 1, 19, 30))
    assert await tick(core, sender) == []


async def test_every_three_months_a_check_in_proposes_the_full_self_check(
    core: BotCore, clock: FakeClock
) -> None:
    user = await onboarded(core)
    await complete_selfcheck(user, "Nee")
    await user.taps("Vraag me af en toe hoe het gaat")  # offered under the first result
    await user.taps("Elke week")
    await user.taps("dinsdag")
    await user.taps("Avond")
    sender = RecordingSender()
    clock.set(local(2026, 11, 24, 19, 30))
    await tick(core, sender, user)
    await user.taps("2")
    assert "opnieuw te doen" not in user.last_text
    clock.set(local(2027, 2, 23, 19, 30))  # 91 days after the self-check
    await tick(core, sender, user)
    await user.taps("2")
    assert "Zin om hem opnieuw te doen?" in user.last_text
    clock.set(local(2027, 3, 2, 19, 30))
    await tick(core, sender, user)
    await user.taps("2")
    assert "opnieuw te doen" not in user.last_text  # proposed once, not every week


async def test_the_offer_under_the_self_check_result_comes_only_the_first_time(
    core: BotCore, clock: FakeClock
) -> None:
    user = await onboarded(core)
    await complete_selfcheck(user, "Nee")
    assert "Vraag me af en toe hoe het gaat" in [b.label for b in user.buttons]
    clock.advance(timedelta(days=30))
    await complete_selfcheck(user, "Nee")
    assert "Vraag me af en toe hoe het gaat" not in [b.label for b in user.buttons]


async def test_results_show_a_chart_with_every_point_and_a_two_line_summary(
    core: BotCore, clock: FakeClock
) -> None:
    user = await onboarded(core)
    await complete_selfcheck(user, "Soms")
    await user.taps("Vraag me af en toe hoe het gaat")
    await user.taps("Elke week")
    await user.taps("dinsdag")
    await user.taps("Avond")
    sender = RecordingSender()
    for week, score in enumerate(("3", "5", "4", "6")):
        clock.set(local(2026, 11, 24, 19, 30) + timedelta(weeks=week))
        await tick(core, sender, user)
        await user.taps(score)
    await user.says("/resultaten")
    chart, listing = user.last.messages
    assert chart.image is not None
    image = Image.open(BytesIO(chart.image))
    image.load()
    assert image.format == "PNG" and image.size == (800, 450)
    assert image.info["Description"] == "checkins=4 selfchecks=1"
    caption = plain(chart.text).splitlines()
    assert caption[1] == "Check-ins: 4. De laatste (15 december 2026): 6 van 10."
    assert caption[2] == "Zelftests: 1. De laatste (23 november 2026): matig."
    lines = plain(listing.text).splitlines()
    assert "23 november 2026: matig" in lines[1]
    assert lines[-4:] == [
        "24 november 2026: 3 van 10",
        "1 december 2026: 5 van 10",
        "8 december 2026: 4 van 10",
        "15 december 2026: 6 van 10",
    ]


async def test_results_in_english_have_english_dates(core: BotCore, clock: FakeClock) -> None:
    user = await with_checkins(core)
    await user.says("/taal")
    await user.taps("English")
    clock.set(local(2026, 11, 24, 19, 30))
    (question,) = await tick(core, RecordingSender(), user)
    assert question.startswith("Time for your check-in.")
    await user.taps("1")
    await user.says("/resultaten")
    assert "Check-ins: 1. The latest (24 November 2026): 1 out of 10." in user.last_text


async def test_the_heaviest_answer_brings_crisis_contacts_first(
    core: BotCore, clock: FakeClock
) -> None:
    user = await with_checkins(core)
    clock.set(local(2026, 11, 24, 19, 30))
    await tick(core, RecordingSender(), user)
    await user.taps("10")
    first = plain(user.last.messages[0].text)
    assert "huisarts" in first and "0800-0113" in first
    assert len(user.last.messages) == 3  # then the reply to the score and the optional note


async def test_text_typed_in_a_self_check_opened_after_a_check_in_answers_the_self_check(
    core: BotCore, clock: FakeClock
) -> None:
    user = await with_checkins(core)
    clock.set(local(2026, 11, 24, 19, 30))
    await tick(core, RecordingSender(), user)
    await user.taps("6")
    clock.advance(timedelta(minutes=1))
    await user.says("/zelftest")
    await user.says("Soms")  # the self-check's answer, not the check-in's note
    assert "Vraag 2 van 10" in user.last_text
    async with core.db.transaction() as session:
        answer = (await session.scalars(select(CheckinAnswer))).one()
    assert answer.note is None
