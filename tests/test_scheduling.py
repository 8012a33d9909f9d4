"""The scheduling mechanism: wall-clock recurrences across daylight saving, quiet hours, and the
claim-send-record tick (restart-safe, nothing twice), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.app.dispatch import BotCore
from bot.clock import FakeClock
from bot.db.models import Caregiver
from bot.engine.output import OutMessage
from bot.jobs.scheduled import (
    CLAIM_LEASE,
    Recurrence,
    ScheduledMessage,
    after_quiet_hours,
    claim_due,
    deliver_due,
    may_send_now,
    next_occurrence,
    schedule,
)
from bot.transport.sender import SendOutcome

AMS = ZoneInfo("Europe/Amsterdam")


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=AMS).astimezone(UTC)


class RecordingSender:
    """Stands in for the one Sender: records what would go to Telegram, answers `outcome`."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, OutMessage, bool]] = []
        self.outcome = SendOutcome("sent", message_id=1)

    async def send(self, chat_id: int, message: OutMessage, *, bulk: bool = False) -> SendOutcome:
        self.sent.append((chat_id, message, bulk))
        return self.outcome


# ---------------------------------------------------------------- pure time


def test_weekly_evening_stays_at_1930_across_the_march_change() -> None:
    rule = Recurrence("weekly", weekday=6, at=time(19, 30))  # Sundays
    before = next_occurrence(rule, local(2027, 3, 20, 12))
    on_change_day = next_occurrence(rule, before)
    assert before == datetime(2027, 3, 21, 18, 30, tzinfo=UTC)  # CET, UTC+1
    assert on_change_day == datetime(2027, 3, 28, 17, 30, tzinfo=UTC)  # last Sunday: CEST, UTC+2
    assert on_change_day.astimezone(AMS).time() == time(19, 30)


def test_weekly_morning_on_the_october_change_day_is_at_local_nine() -> None:
    rule = Recurrence("weekly", weekday=6, at=time(9, 0))
    moment = next_occurrence(rule, local(2026, 10, 24, 12))
    assert moment == datetime(2026, 10, 25, 8, 0, tzinfo=UTC)  # clocks went back at 03:00: UTC+1
    following = next_occurrence(rule, moment)
    assert following.astimezone(AMS).time() == time(9, 0)
    assert following - moment == timedelta(days=7)


def test_every_two_weeks_keeps_its_rhythm_from_the_anchor_across_dst() -> None:
    rule = Recurrence("biweekly", weekday=0, at=time(19, 30))
    anchor = date(2027, 3, 15)  # a Monday before the change
    moment = next_occurrence(rule, local(2027, 3, 16, 12), anchor)
    assert moment == local(2027, 3, 29, 19, 30)
    assert moment.astimezone(AMS).time() == time(19, 30)


def test_monthly_is_the_first_weekday_of_the_next_month() -> None:
    rule = Recurrence("monthly", weekday=1, at=time(21, 0))  # first Tuesday
    assert next_occurrence(rule, local(2026, 11, 23, 12)) == local(2026, 12, 1, 21)
    assert next_occurrence(rule, local(2026, 12, 1, 21)) == local(2027, 1, 5, 21)


def test_a_long_downtime_gives_one_future_moment_not_a_backlog() -> None:
    rule = Recurrence("weekly", weekday=0, at=time(19, 30))
    back = local(2027, 2, 3, 10)  # five weeks after the anchor
    moment = next_occurrence(rule, back, anchor=date(2026, 12, 28))
    assert moment == local(2027, 2, 8, 19, 30)


def test_quiet_hours_move_bot_messages_to_eight_in_the_morning() -> None:
    assert after_quiet_hours(local(2026, 11, 23, 23, 15)) == local(2026, 11, 24, 8)
    assert after_quiet_hours(local(2026, 11, 24, 6, 59)) == local(2026, 11, 24, 8)
    assert after_quiet_hours(local(2026, 11, 24, 21, 59)) == local(2026, 11, 24, 21, 59)
    late = local(2026, 11, 23, 22, 30)
    assert not may_send_now(late, late, quiet_ok=False)
    assert may_send_now(late, late, quiet_ok=True)  # the caregiver chose 22:30 themselves
    assert not may_send_now(late, local(2026, 11, 24, 3), quiet_ok=True)  # but not at 03:00


# ---------------------------------------------------------------- claim and tick


async def caregivers(core: BotCore, count: int) -> list[int]:
    now = core.clock.now()
    async with core.db.transaction() as session:
        rows = [
            Caregiver(telegram_user_id=9000 + i, chat_id=9000 + i, created_at=now, last_seen_at=now)
            for i in range(count)
        ]
        session.add_all(rows)
        await session.flush()
        return [c.id for c in rows]


async def statuses(core: BotCore) -> dict[str, int]:
    async with core.db.transaction() as session:
        result = await session.execute(
            select(ScheduledMessage.status, func.count()).group_by(ScheduledMessage.status)
        )
        return {status: int(n) for status, n in result.all()}


def echo_handler(kind: str = "test"):
    async def handler(ctx, row: ScheduledMessage) -> OutMessage | None:
        return OutMessage(f"{kind} {row.payload['n']}")

    return handler


async def test_claim_takes_only_due_rows_earliest_first_and_never_twice(
    core: BotCore, clock: FakeClock
) -> None:
    ids = await caregivers(core, 3)
    now = clock.now()
    async with core.db.transaction() as session:
        for n, (cid, offset) in enumerate(zip(ids, (-5, -10, +10), strict=True)):
            schedule(session, cid, "test", now + timedelta(minutes=offset), now, {"n": n})
    async with core.db.transaction() as session:
        claimed = await claim_due(session, now, "worker-a")
        assert [r.payload["n"] for r in claimed] == [1, 0]
        assert {r.claimed_by for r in claimed} == {"worker-a"} and claimed[0].attempts == 1
    async with core.db.transaction() as session:
        assert await claim_due(session, now, "worker-b") == []
    # The claimer vanished (crash before sending): after the lease, another claims them again.
    async with core.db.transaction() as session:
        again = await claim_due(session, now + CLAIM_LEASE, "worker-b")
        # (row 2 has fallen due by then as well: its first attempt)
        assert {r.payload["n"]: r.attempts for r in again} == {0: 2, 1: 2, 2: 1}


async def test_tick_sends_due_rows_in_bulk_and_records_the_outcome(
    core: BotCore, clock: FakeClock
) -> None:
    core.registry.scheduled["test"] = echo_handler()
    ids = await caregivers(core, 3)
    now = clock.now()
    async with core.db.transaction() as session:
        for n, cid in enumerate(ids):
            schedule(session, cid, "test", now - timedelta(minutes=1), now, {"n": n})
        schedule(session, ids[0], "test", now + timedelta(days=1), now, {"n": 99})
    sender = RecordingSender()
    report = await deliver_due(core, sender, "w")  # type: ignore[arg-type]
    assert report.sent == 3 and len(sender.sent) == 3
    assert all(bulk for _, _, bulk in sender.sent)
    assert await statuses(core) == {"sent": 3, "pending": 1}
    assert (await deliver_due(core, sender, "w")).claimed == 0  # type: ignore[arg-type]


async def test_unreachable_caregivers_and_unknown_kinds_are_skipped(
    core: BotCore, clock: FakeClock
) -> None:
    core.registry.scheduled["test"] = echo_handler()
    blocked, other = await caregivers(core, 2)
    now = clock.now()
    async with core.db.transaction() as session:
        (await session.get(Caregiver, blocked)).unreachable_at = now  # type: ignore[union-attr]
        schedule(session, blocked, "test", now, now, {"n": 1})
        schedule(session, other, "retired-feature", now, now, {"n": 2})
    sender = RecordingSender()
    report = await deliver_due(core, sender, "w")  # type: ignore[arg-type]
    assert report.skipped == 2 and sender.sent == []


async def test_quiet_hours_hold_a_catch_up_until_the_morning(
    core: BotCore, clock: FakeClock
) -> None:
    core.registry.scheduled["test"] = echo_handler()
    (cid,) = await caregivers(core, 1)
    clock.set(local(2026, 11, 24, 2, 30))  # the bot comes back in the night
    async with core.db.transaction() as session:
        schedule(session, cid, "test", local(2026, 11, 23, 19, 30), clock.now(), {"n": 1})
    sender = RecordingSender()
    report = await deliver_due(core, sender, "w")  # type: ignore[arg-type]
    assert report.deferred == 1 and sender.sent == []
    clock.set(local(2026, 11, 24, 8, 0))
    assert (await deliver_due(core, sender, "w")).sent == 1  # type: ignore[arg-type]


async def test_a_blocked_send_is_recorded_as_blocked(core: BotCore, clock: FakeClock) -> None:
    core.registry.scheduled["test"] = echo_handler()
    (cid,) = await caregivers(core, 1)
    async with core.db.transaction() as session:
        schedule(session, cid, "test", clock.now(), clock.now(), {"n": 1})
    sender = RecordingSender()
    sender.outcome = SendOutcome("blocked", error="forbidden")
    assert (await deliver_due(core, sender, "w")).blocked == 1  # type: ignore[arg-type]
    assert await statuses(core) == {"blocked": 1}
