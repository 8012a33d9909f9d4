"""SIGTERM stops `serve` and `run` gracefully, in real processes against the fake Bot API: no new
connections, the update in hand is answered, a running tick records its outcomes, and claims the
process cannot finish are given back so the next instance sends them at once (exactly once)."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import insert, select

from bot.config import SettingsError
from bot.db.models import Caregiver, ProcessedUpdate
from bot.db.session import Database
from bot.features.broadcast.models import Broadcast, BroadcastDelivery
from bot.features.privacy.retention import ASK_KIND
from bot.jobs.scheduled import ScheduledMessage
from bot.jobs.shutdown import release_claims
from tests.conftest import _truncate_postgres, settings_for
from tests.fakebotapi import FakeBotAPI
from tests.test_processes import TOKEN, free_port, start_bot

SECRET = "graceful-shutdown-secret-01"
CHATS = [7001 + n for n in range(8)]


def bot_env(fake: FakeBotAPI, database_url: str, **extra: str) -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake.base_url,
        "DATABASE_URL": database_url, **extra,
    }  # fmt: skip


def terminate(process: asyncio.subprocess.Process) -> None:
    """One SIGTERM (a second one would tell the bot to hurry and cut the work in hand off)."""
    if process.returncode is None and process.pid not in _TERMINATED:
        _TERMINATED.add(process.pid)
        process.send_signal(signal.SIGTERM)


_TERMINATED: set[int] = set()


async def ended(process: asyncio.subprocess.Process) -> str:
    """Stop the process (if the test did not already) and wait until it exits; its output."""
    terminate(process)
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    return out.decode()


async def wait_healthy(base: str, process: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    pytest.fail("serve did not become healthy: " + await ended(process))


async def refuses_connections(port: int) -> bool:
    """True once nothing listens on `port` any more (polled for up to 2 s)."""
    for _ in range(40):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except ConnectionRefusedError:
            return True
        except ConnectionResetError:  # caught while the socket closes: look again
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(0.05)
    return False


async def seed_due_messages(database_url: str) -> None:
    """One caregiver per chat in CHATS, each with one scheduled message due a minute ago."""
    now = datetime.now(UTC)
    db = Database(database_url)
    try:
        async with db.transaction() as session:
            await session.execute(insert(Caregiver), [
                {"id": n, "telegram_user_id": chat, "chat_id": chat, "locale": "nl",
                 "created_at": now, "last_seen_at": now} for n, chat in enumerate(CHATS, 1)
            ])  # fmt: skip
            # quiet_ok: the test may run at night, when the bot holds messages until 08:00.
            await session.execute(insert(ScheduledMessage), [
                {"kind": ASK_KIND, "caregiver_id": n, "due_at": now - timedelta(minutes=1),
                 "status": "pending", "attempts": 0, "payload": {"quiet_ok": True},
                 "created_at": now} for n in range(1, len(CHATS) + 1)
            ])  # fmt: skip
    finally:
        await db.dispose()


async def scheduled_rows(database_url: str) -> list[tuple[str, int, bool]]:
    """(status, attempts, whether a worker's name is on it) of every scheduled message."""
    db = Database(database_url)
    try:
        async with db.transaction() as session:
            result = await session.execute(
                select(
                    ScheduledMessage.status, ScheduledMessage.attempts, ScheduledMessage.claimed_by
                ).order_by(ScheduledMessage.id)
            )
            return [(status, attempts, by is not None) for status, attempts, by in result.all()]
    finally:
        await db.dispose()


async def processed(database_url: str, update_id: int) -> bool:
    db = Database(database_url)
    try:
        async with db.transaction() as session:
            return await session.get(ProcessedUpdate, update_id) is not None
    finally:
        await db.dispose()


def language_update(update_id: int, chat: int) -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {"message_id": 1, "date": 0, "chat": {"id": chat, "type": "private"},
                    "from": {"id": chat, "is_bot": False, "first_name": "B"}, "text": "/taal"},
    }  # fmt: skip


async def test_serve_refuses_new_connections_but_answers_the_update_in_hand(
    fake: FakeBotAPI, sqlite_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = bot_env(fake, sqlite_url, PORT=str(port), WEBHOOK_URL="https://bot.example.org",
                  WEBHOOK_SECRET=SECRET)  # fmt: skip
    process = await start_bot("serve", env, tmp_path)
    try:
        await wait_healthy(f"http://127.0.0.1:{port}", process)
        fake.delay_next("sendMessage", 4.0)  # Telegram is slow with the reply: room for a busy CI
        status, _ = await fake.post_to_webhook(
            f"http://127.0.0.1:{port}/telegram/webhook", language_update(900, 43), SECRET
        )
        assert status == 200
        await fake.wait_for(lambda f: f.delays_left("sendMessage") == 0)  # the reply in flight
        terminate(process)
        assert await refuses_connections(port)
        assert process.returncode is None  # still finishing the update in hand
        assert not fake.sent_messages(43)
    finally:
        output = await ended(process)
    assert process.returncode == 0, output
    assert fake.sent_messages(43), output
    assert "In welke taal" in fake.sent_messages(43)[0]["text"]
    assert await processed(sqlite_url, 900)  # its transaction committed
    assert "gave up" not in output


async def test_run_answers_the_update_in_hand_and_confirms_it_to_telegram(
    fake: FakeBotAPI, sqlite_url: str, tmp_path: Path
) -> None:
    fake.delay_next("sendMessage", 1.5)
    update_id = fake.user_sends_text(44, "/taal")
    process = await start_bot("run", bot_env(fake, sqlite_url), tmp_path)
    try:
        await fake.wait_for(lambda f: f.delays_left("sendMessage") == 0, timeout=20)
        terminate(process)
    finally:
        output = await ended(process)
    assert process.returncode == 0, output
    assert len(fake.sent_messages(44)) == 1, output
    assert await processed(sqlite_url, update_id)
    assert fake.pending_updates == 0  # confirmed: Telegram will not deliver it again


async def test_a_tick_in_flight_at_sigterm_sends_its_batch_and_records_the_outcomes(
    fake: FakeBotAPI, sqlite_url: str, tmp_path: Path
) -> None:
    await seed_due_messages(sqlite_url)
    fake.delay_next("sendMessage", 1.5, times=len(CHATS))
    process = await start_bot("run", bot_env(fake, sqlite_url), tmp_path)
    try:
        await fake.wait_for(lambda f: f.delays_left("sendMessage") == 0, timeout=20)
        terminate(process)
    finally:
        output = await ended(process)
    assert process.returncode == 0, output
    assert [len(fake.sent_messages(chat)) for chat in CHATS] == [1] * len(CHATS)
    assert await scheduled_rows(sqlite_url) == [("sent", 1, True)] * len(CHATS)
    assert "gave up" not in output


async def test_claims_a_stopping_worker_cannot_finish_go_to_the_next_instance_once(
    fake: FakeBotAPI, postgres_url: str, tmp_path: Path
) -> None:
    await _truncate_postgres(postgres_url)
    await seed_due_messages(postgres_url)
    # Telegram answers the first check-in with 429 "retry after 30 s": the whole batch is claimed
    # and waits; SIGTERM comes, and the 1 s shutdown budget is over long before the pause.
    fake.fail_next("sendMessage", 429, retry_after=30)
    first = await start_bot(
        "run", bot_env(fake, postgres_url, SEND_RATE="1", SHUTDOWN_TIMEOUT="1"), tmp_path
    )
    try:
        await fake.wait_for(lambda f: f.calls_to("sendMessage"), timeout=20)
        rows = await scheduled_rows(postgres_url)
        assert {status for status, _, _ in rows} == {"claimed"}
        terminate(first)
    finally:
        output = await ended(first)
    assert first.returncode == 0, output
    assert "gave up after 1 s" in output
    assert f"released {len(CHATS)} claimed message(s)" in output
    assert await scheduled_rows(postgres_url) == [("pending", 0, False)] * len(CHATS)
    assert not any(fake.sent_messages(chat) for chat in CHATS)

    second = await start_bot("run", bot_env(fake, postgres_url), tmp_path)
    try:
        await fake.wait_for(lambda f: all(f.sent_messages(c) for c in CHATS), timeout=20)
        await asyncio.sleep(0.3)  # a duplicate would arrive now
    finally:
        output = await ended(second)
    assert second.returncode == 0, output
    assert [len(fake.sent_messages(chat)) for chat in CHATS] == [1] * len(CHATS)
    assert await scheduled_rows(postgres_url) == [("sent", 1, True)] * len(CHATS)


async def test_release_gives_back_only_this_workers_unfinished_claims(database_url: str) -> None:
    await seed_due_messages(database_url)
    now = datetime.now(UTC)
    db = Database(database_url)
    try:
        async with db.transaction() as session:
            # Rows 1-3 claimed by us, 4 by another worker, 5 sent by us, the rest pending.
            for row_id, status, worker in [(1, "claimed", "me"), (2, "claimed", "me"),
                                           (3, "claimed", "me"), (4, "claimed", "other"),
                                           (5, "sent", "me")]:  # fmt: skip
                row = await session.get(ScheduledMessage, row_id)
                assert row is not None
                row.status, row.claimed_by, row.claimed_at, row.attempts = status, worker, now, 1
            session.add(Broadcast(id=1, status="sending", created_at=now))
            await session.flush()
            await session.execute(insert(BroadcastDelivery), [
                {"broadcast_id": 1, "caregiver_id": 1, "status": "claimed", "attempts": 2,
                 "claimed_by": "me", "claimed_at": now},
                {"broadcast_id": 1, "caregiver_id": 2, "status": "claimed", "attempts": 1,
                 "claimed_by": "other", "claimed_at": now},
            ])  # fmt: skip
        assert await release_claims(db, "me", [BroadcastDelivery]) == 4
        async with db.transaction() as session:
            query = select(
                BroadcastDelivery.status, BroadcastDelivery.attempts, BroadcastDelivery.claimed_by
            ).order_by(BroadcastDelivery.id)
            deliveries = (await session.execute(query)).all()
    finally:
        await db.dispose()
    rows = await scheduled_rows(database_url)
    assert rows[:5] == [("pending", 0, False)] * 3 + [("claimed", 1, True), ("sent", 1, True)]
    assert [tuple(d) for d in deliveries] == [("pending", 1, None), ("claimed", 1, "other")]


def test_shutdown_timeout_is_a_setting_checked_at_start() -> None:
    assert settings_for("sqlite+aiosqlite:///x.sqlite3").shutdown_timeout == 20
    assert settings_for("sqlite+aiosqlite:///x.sqlite3", SHUTDOWN_TIMEOUT="5").shutdown_timeout == 5
    with pytest.raises(SettingsError) as problem:
        settings_for("sqlite+aiosqlite:///x.sqlite3", SHUTDOWN_TIMEOUT="soon")
    assert problem.value.problems == ["SHUTDOWN_TIMEOUT: expected seconds (0-600), got 'soon'"]
