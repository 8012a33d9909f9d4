"""Kept no longer than needed: old answers go; inactive caregivers are asked once, then erased."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.app.dispatch import BotCore
from bot.clock import FakeClock
from bot.db.models import Answer, Caregiver, Result
from bot.features.privacy.retention import ASK_KIND, months_before, sweep
from bot.jobs.scheduled import ScheduledMessage, deliver_due
from bot.transport.terminal import plain
from tests.conversation import CoreUser
from tests.test_flows import complete_selfcheck, onboarded
from tests.test_scheduling import RecordingSender


async def count(core: BotCore, model: type, *where: object) -> int:
    async with core.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_months_before_keeps_the_day_where_the_month_allows() -> None:
    moment = datetime(2027, 3, 31, 12, tzinfo=UTC)
    assert months_before(moment, 1) == datetime(2027, 2, 28, 12, tzinfo=UTC)
    assert months_before(moment, 24) == datetime(2025, 3, 31, 12, tzinfo=UTC)
    assert months_before(datetime(2027, 1, 15, tzinfo=UTC), 13) == datetime(
        2025, 12, 15, tzinfo=UTC
    )


async def test_answers_older_than_the_retention_period_are_removed(
    core: BotCore, clock: FakeClock
) -> None:
    user = await onboarded(core)
    await complete_selfcheck(user, "Soms")
    clock.advance(timedelta(days=300))
    await complete_selfcheck(user, "Nee")
    assert await count(core, Answer) == 20
    clock.advance(timedelta(days=450))  # the first self-check is now over 24 months old
    report = await sweep(core)
    assert await count(core, Answer) == 10 and await count(core, Result) == 1
    assert report.answers_removed >= 11  # 10 answers and a result (and its run)


async def test_an_inactive_caregiver_is_asked_once_and_erased_without_an_answer(
    core: BotCore, clock: FakeClock
) -> None:
    await onboarded(core, 11)
    clock.advance(timedelta(days=370))
    assert (await sweep(core)).asked == 1
    sender = RecordingSender()
    assert (await deliver_due(core, sender, "w")).sent == 1  # type: ignore[arg-type]
    question = sender.sent[0][1]
    assert plain(question.text).startswith("Een vraag over je gegevens.")  # nothing personal first
    assert (await sweep(core)).asked == 0  # asked once, not every sweep
    clock.advance(timedelta(days=29))
    assert (await sweep(core)).erased == 0  # the grace period is not over yet
    clock.advance(timedelta(days=2))
    assert (await sweep(core)).erased == 1
    assert await count(core, Caregiver) == 0
    assert await count(core, ScheduledMessage) == 0


async def test_an_inactive_caregiver_who_answers_keeps_their_data(
    core: BotCore, clock: FakeClock
) -> None:
    user = await onboarded(core, 12)
    await complete_selfcheck(user, "Soms")
    clock.advance(timedelta(days=370))
    await sweep(core)
    sender = RecordingSender()
    await deliver_due(core, sender, "w")  # type: ignore[arg-type]
    user.buttons = [b for row in sender.sent[0][1].buttons for b in row]
    await user.taps("Ja, bewaar mijn gegevens")
    assert "ik bewaar je gegevens" in user.last_text
    clock.advance(timedelta(days=40))
    assert (await sweep(core)).erased == 0
    assert await count(core, Answer) == 10


async def test_erase_from_the_retention_question_removes_everything(
    core: BotCore, clock: FakeClock
) -> None:
    user = await onboarded(core, 13)
    clock.advance(timedelta(days=370))
    await sweep(core)
    sender = RecordingSender()
    await deliver_due(core, sender, "w")  # type: ignore[arg-type]
    user.buttons = [b for row in sender.sent[0][1].buttons for b in row]
    await user.taps("Nee, wis alles")
    assert "Ik heb alles over jou gewist" in user.last_text
    assert await count(core, Caregiver) == 0


async def test_privacy_page_says_how_long_data_is_kept(core: BotCore) -> None:
    user = await onboarded(core, 14)
    await user.says("/privacy")
    assert "ouder dan 24 maanden wis ik vanzelf" in user.last_text
    assert "12 maanden niet" in user.last_text


async def test_a_caregiver_in_contact_is_never_asked(core: BotCore, clock: FakeClock) -> None:
    user = CoreUser(core, 15)
    for _ in range(14):
        await user.says("/menu")
        clock.advance(timedelta(days=30))
    assert (await sweep(core)).asked == 0
    assert await count(core, ScheduledMessage, ScheduledMessage.kind == ASK_KIND) == 0
