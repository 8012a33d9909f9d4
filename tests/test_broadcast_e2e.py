"""Staff broadcasts through the real stack: PTB and the one sender against the fake Bot API
(compose, preview and confirm in Telegram; 429, 403, 5xx and 400 answers; replies to a chatting
caregiver while a broadcast runs), and a real `python -m bot run` killed with SIGKILL halfway
and started again."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, insert, select

from bot.app.runtime import privacy_version
from bot.clock import FakeClock
from bot.db.directory import CaregiverSteunpunt
from bot.db.models import Caregiver
from bot.db.session import Database
from bot.db.staff import StaffMember
from bot.features.broadcast.delivery import WINDOW, NoticeDeliverer
from bot.features.broadcast.models import Broadcast, BroadcastDelivery
from bot.transport.sender import Sender
from tests.conversation import TelegramUser, invitation
from tests.fakebotapi import FakeBotAPI
from tests.harness import BotHarness
from tests.test_broadcast import S_HERTOGENBOSCH, caregiver
from tests.test_processes import TOKEN, start_bot, stop

STEUNPUNT = "voorbeeld-den-bosch"
FIRST_CHAT = 300_000
STAFF_CHAT = 299_999
SENDER_CHAT = 299_998  # the staff member who wrote the seeded notice


async def seed_broadcast(
    url: str, count: int, now: datetime, *, report_chat: int | None = None, chunk: int = 5_000
) -> None:
    """`count` caregivers who saved the Den Bosch steunpunt (chats FIRST_CHAT...) and a notice
    to all of them by a staff member of it, due `now` (the deliverer starts it)."""
    version = privacy_version()
    db = Database(url)
    try:
        for start in range(0, count, chunk):
            ids = range(FIRST_CHAT + start, FIRST_CHAT + min(count, start + chunk))
            async with db.transaction() as session:
                await session.execute(
                    insert(Caregiver),
                    [{"telegram_user_id": i, "chat_id": i, "locale": "nl",
                      "consent_version": version, "consent_at": now, "created_at": now,
                      "last_seen_at": now} for i in ids],
                )  # fmt: skip
                found = await session.execute(
                    select(Caregiver.id).where(Caregiver.telegram_user_id.in_(list(ids)))
                )
                await session.execute(
                    insert(CaregiverSteunpunt),
                    [{"caregiver_id": cid, "steunpunt_key": STEUNPUNT, "flow": {},
                      "updated_at": now} for cid in found.scalars()],
                )  # fmt: skip
        async with db.transaction() as session:
            member = await session.scalar(select(StaffMember))  # a second notice: the same one
            if member is None:
                sender = Caregiver(telegram_user_id=SENDER_CHAT, chat_id=SENDER_CHAT, locale="nl",
                                   created_at=now, last_seen_at=now)  # fmt: skip
                session.add(sender)
                await session.flush()
                member = StaffMember(
                    caregiver_id=sender.id, steunpunt_key=STEUNPUNT, granted_at=now
                )
                session.add(member)
                await session.flush()
            session.add(
                Broadcast(
                    sender_member_id=member.id, sender_caregiver_id=member.caregiver_id,
                    status="scheduled", steunpunt_key=STEUNPUNT,
                    source_name="Steunpunt Mantelzorg Den Bosch (voorbeeld)", sender_name="Bench",
                    text_html="Cursus <b>omgaan met stress</b> op 1 december.", text_length=44,
                    audience="all", municipality_codes=[], audience_label="Alle mantelzorgers",
                    recipients=0, created_at=now, scheduled_for=now, report_chat_id=report_chat,
                    extra={},
                )
            )  # fmt: skip
    finally:
        await db.dispose()


async def statuses(url: str) -> dict[str, int]:
    db = Database(url)
    try:
        async with db.transaction() as session:
            result = await session.execute(
                select(BroadcastDelivery.status, func.count()).group_by(BroadcastDelivery.status)
            )
            return {status: int(n) for status, n in result.all()}
    finally:
        await db.dispose()


def recipients_reached(fake: FakeBotAPI, count: int) -> Counter[int]:
    return Counter({c: len(fake.sent_messages(c)) for c in range(FIRST_CHAT, FIRST_CHAT + count)})


def quick_sender(harness: BotHarness, rate: float = 200.0) -> Sender:
    """The one sender's class on the harness's bot, with short backoffs for the tests."""
    assert harness.app is not None and harness.core is not None
    return Sender(
        harness.app.bot, rate=rate, on_blocked=harness.core.mark_unreachable, backoff=0.01
    )


async def deliver(harness: BotHarness, sender: Sender, **kwargs: int) -> NoticeDeliverer:
    assert harness.core is not None
    deliverer = NoticeDeliverer(harness.core, sender, "e2e:1:a", progress_seconds=0, **kwargs)
    await deliverer.run()
    return deliverer


# ---------------------------------------------------------------- compose through Telegram


async def test_staff_compose_preview_confirm_and_the_caregiver_gets_it_formatted(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    assert harness.core is not None
    from bot.features.steunpunt.directory import import_example_if_empty

    await import_example_if_empty(harness.core.db)
    await caregiver(harness.core, 8801, municipality=S_HERTOGENBOSCH)
    staff = TelegramUser(fake, harness, 8800)
    await staff.says("/start")
    await staff.taps("Nederlands")
    await staff.taps("Ja, dat mag")
    await staff.says(f"/start {await invitation(harness.core, steunpunt_key=STEUNPUNT)}")
    await staff.says("/bericht")
    text = "Cursus stress op 1 december"
    update_id = fake.user_sends_text(
        8800, text, entities=[{"type": "bold", "offset": 7, "length": 6}]
    )
    await harness.processed(update_id)
    await staff.taps("Iedereen (1)")
    intro, preview, confirm = staff.messages()[-3:]
    assert intro["text"] == "Zo krijgen de mantelzorgers je bericht:"
    assert {"type": "bold", "offset": preview["text"].index("stress"), "length": 6} in preview[
        "entities"
    ]
    assert "gaat naar 1 mantelzorger" in confirm["text"]
    await staff.taps("Nu versturen")
    await deliver(harness, harness.app.bot_data["sender"])  # type: ignore[union-attr]
    (notice,) = fake.sent_messages(8801)
    assert notice["text"] == preview["text"] and notice["entities"] == preview["entities"]
    assert notice["text"].endswith("Tik op /meldingen.")
    progress = next(m for m in staff.messages() if m["text"].startswith("Klaar met versturen"))
    assert "Verstuurd: 1." in progress["text"] and "edit_date" in progress
    assert staff.last_text.startswith("Je bericht is verstuurd")


# ---------------------------------------------------------------- Telegram's answers


async def test_retry_after_pauses_bulk_sending_and_then_everyone_gets_it_once(
    fake: FakeBotAPI, harness: BotHarness, clock: FakeClock
) -> None:
    await seed_broadcast(harness.database_url, 5, clock.now())
    fake.fail_next("sendMessage", 429, retry_after=1)
    began = time.monotonic()
    await deliver(harness, quick_sender(harness))
    assert time.monotonic() - began >= 1.0  # the pause Telegram asked for was kept
    assert set(recipients_reached(fake, 5).values()) == {1}
    assert len(fake.calls_to("sendMessage")) == 6
    assert await statuses(harness.database_url) == {"sent": 5}


async def test_forbidden_marks_the_caregiver_unreachable_and_is_not_retried(
    fake: FakeBotAPI, harness: BotHarness, clock: FakeClock
) -> None:
    assert harness.core is not None
    await seed_broadcast(harness.database_url, 4, clock.now())
    fake.fail_next("sendMessage", 403)
    await deliver(harness, quick_sender(harness))
    (refused,) = [c for c in fake.calls_to("sendMessage") if c.status == 403]
    blocked_chat = refused.params["chat_id"]
    assert [c.params["chat_id"] for c in fake.calls_to("sendMessage")].count(blocked_chat) == 1
    assert await statuses(harness.database_url) == {"sent": 3, "blocked": 1}
    async with harness.core.db.transaction() as session:
        unreachable = await session.scalar(
            select(Caregiver.unreachable_at).where(Caregiver.chat_id == blocked_chat)
        )
    assert unreachable is not None


async def test_server_errors_are_retried_and_a_lasting_one_is_recorded_as_failed(
    fake: FakeBotAPI, harness: BotHarness, clock: FakeClock
) -> None:
    await seed_broadcast(harness.database_url, 1, clock.now())
    fake.fail_next("sendMessage", 502, times=2)
    await deliver(harness, quick_sender(harness))
    assert recipients_reached(fake, 1)[FIRST_CHAT] == 1
    assert await statuses(harness.database_url) == {"sent": 1}

    fake.clear_calls()
    # A second notice to the same caregiver (the audience is computed when it starts).
    await seed_broadcast(harness.database_url, 0, clock.now())
    fake.fail_next("sendMessage", 500, times=4)  # the sender tries 4 times
    await deliver(harness, quick_sender(harness))
    assert len(fake.calls_to("sendMessage")) == 4
    assert await statuses(harness.database_url) == {"sent": 1, "failed": 1}


async def test_a_refused_message_is_recorded_per_delivery_and_not_retried(
    fake: FakeBotAPI, harness: BotHarness, clock: FakeClock
) -> None:
    await seed_broadcast(harness.database_url, 3, clock.now())
    fake.fail_next("sendMessage", 400, description="Bad Request: chat not found")
    await deliver(harness, quick_sender(harness))
    assert len(fake.calls_to("sendMessage")) == 3
    db = Database(harness.database_url)
    async with db.transaction() as session:
        errors = list(
            await session.scalars(
                select(BroadcastDelivery.error).where(BroadcastDelivery.status == "failed")
            )
        )
    await db.dispose()
    assert errors == ["bad_request: Chat not found"]


async def test_a_chatting_caregiver_is_answered_at_once_while_a_broadcast_runs(
    fake: FakeBotAPI, harness: BotHarness, clock: FakeClock
) -> None:
    assert harness.core is not None and harness.app is not None
    await seed_broadcast(harness.database_url, 60, clock.now())
    sender = harness.app.bot_data["sender"]  # the one sender, at 25 messages/s
    deliverer = NoticeDeliverer(harness.core, sender, "e2e:1:b", window=20)
    running = asyncio.create_task(deliverer.run())
    await fake.wait_for(lambda f: sum(recipients_reached(f, 60).values()) >= 10, timeout=10)
    chatting = TelegramUser(fake, harness, 8900)
    before = sum(recipients_reached(fake, 60).values())
    await chatting.says("/hulp")
    reached = sum(recipients_reached(fake, 60).values())
    deliverer.stop()
    await asyncio.wait_for(running, 10)
    # Counted in notices sent meanwhile, not in seconds (a busy machine slows both alike): the
    # answer did not wait behind the rest of the broadcast (50 more), only behind what was
    # already in flight at most (a window of 20).
    assert reached - before <= 20, (before, reached)
    assert reached < 60  # the broadcast was still going
    left = await statuses(harness.database_url)
    assert "claimed" not in left and left.get("pending", 0) > 0  # stopped cleanly, resumable


# ---------------------------------------------------------------- kill -9 in the middle


async def test_a_broadcast_killed_halfway_continues_after_restart_and_nobody_is_lost(
    fake: FakeBotAPI, sqlite_url: str, tmp_path: Path
) -> None:
    count = 400
    await seed_broadcast(sqlite_url, count, datetime.now(UTC), report_chat=STAFF_CHAT)
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake.base_url,
           "DATABASE_URL": sqlite_url, "SEND_RATE": "200", "LOG_LEVEL": "WARNING"}  # fmt: skip
    first = await start_bot("run", env, tmp_path)
    try:
        await fake.wait_for(
            lambda f: sum(recipients_reached(f, count).values()) >= count // 2, timeout=30
        )
    finally:
        first.kill()  # SIGKILL: no cleanup at all
        await first.wait()
    second = await start_bot("run", env, tmp_path)
    try:
        await fake.wait_for(
            lambda f: any("verstuurd" in m.get("text", "") for m in f.sent_messages(STAFF_CHAT)),
            timeout=30,
            message="the final report",
        )
    finally:
        output = await stop(second)
    assert second.returncode == 0, output
    reached = recipients_reached(fake, count)
    assert min(reached.values()) == 1  # nobody lost
    duplicates = sum(n - 1 for n in reached.values())
    assert duplicates <= WINDOW  # at most the window in flight at the kill
    assert await statuses(sqlite_url) == {"sent": count}
    reports = [m for m in fake.sent_messages(STAFF_CHAT) if "Je bericht is verstuurd" in m["text"]]
    assert len(reports) == 1 and f"Verstuurd: {count}." in reports[0]["text"]


async def test_messages_held_by_a_retry_after_do_not_burst_out_when_it_ends() -> None:
    from bot.transport.sender import RateLimiter

    limiter = RateLimiter(rate=100.0)  # one slot every 10 ms
    sent: list[float] = []

    async def one(chat_id: int) -> None:
        await limiter.acquire_bulk(chat_id)
        sent.append(time.monotonic())

    tasks = [asyncio.create_task(one(chat)) for chat in range(30)]
    await asyncio.sleep(0.05)  # a few went out, the rest wait for their slot
    limiter.pause(0.3)  # Telegram says RetryAfter
    paused_at = time.monotonic()
    await asyncio.gather(*tasks)
    after = sorted(t for t in sent if t >= paused_at)
    assert after and after[0] >= paused_at + 0.29
    # Still one every 10 ms after the pause, not all at once: the i-th no earlier than its slot.
    # (Not the gaps between them: a wake-up delayed by a busy machine shortens the next gap.)
    assert all(t >= paused_at + 0.29 + i * 0.01 for i, t in enumerate(after))
