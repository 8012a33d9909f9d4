"""Nothing a caregiver sends is lost, in real `run` and `serve` processes against the fake Bot API:
killed with SIGKILL mid-load they lose no update and answer none twice (beyond the documented
window: a reply whose update committed in the instant before the kill); a database outage
delays answers instead of losing them; fatal problems stop the process with one line; an
unreadable update harms nobody else. Every bot runs at LOG_LEVEL=DEBUG and what the caregivers
typed (a marker) never shows in its output."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError
from telegram import Update

from bot.clock import FakeClock
from bot.db.models import Caregiver, ProcessedUpdate
from bot.db.session import Database
from bot.logs import ContentFreeFormatter, describe
from bot.transport.telegram import to_event
from tests import pgcluster
from tests.conftest import _truncate_postgres
from tests.fakebotapi import FakeBotAPI
from tests.test_processes import TOKEN, finish, free_port, start_bot
from tests.test_shutdown import bot_env, ended, wait_healthy

MARKER = "GEHEIM-getypt-4711"  # in every text the caregivers type here
SECRET = "intake-webhook-secret-0001"
N = 200
FIRST_CHAT = 30_000
# Replies that may be lost when the process dies: those whose update had committed but whose
# reply was not yet sent (README, "Durable intake"). Measured at N = 200: 0-14.
WINDOW = 40


def debug_env(fake: FakeBotAPI, database_url: str, **extra: str) -> dict[str, str]:
    return bot_env(fake, database_url, LOG_LEVEL="DEBUG", **extra)


def serve_env(fake: FakeBotAPI, database_url: str, port: int) -> dict[str, str]:
    return debug_env(fake, database_url, PORT=str(port), WEBHOOK_URL="https://bot.example.org",
                     WEBHOOK_SECRET=SECRET)  # fmt: skip


async def stored_ids(database_url: str) -> set[int]:
    db = Database(database_url)
    try:
        async with db.transaction() as session:
            return set((await session.scalars(select(ProcessedUpdate.update_id))).all())
    finally:
        await db.dispose()


def queue_requests(fake: FakeBotAPI, count: int) -> dict[int, int]:
    """`count` caregivers each send /taal once (one answer each): {update_id: chat}."""
    chats = range(FIRST_CHAT, FIRST_CHAT + count)
    return {fake.user_sends_text(chat, f"/taal {MARKER}"): chat for chat in chats}


def answered(fake: FakeBotAPI, chats: Any) -> int:
    return sum(1 for chat in chats if fake.sent_messages(chat))


async def killed(process: asyncio.subprocess.Process) -> str:
    process.kill()
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    return out.decode()


def check_exactly_once(
    fake: FakeBotAPI, updates: dict[int, int], stored_at_kill: set[int], stored: set[int]
) -> None:
    counts = {update_id: len(fake.sent_messages(chat)) for update_id, chat in updates.items()}
    assert set(updates) <= stored  # every update is in the database, once
    assert max(counts.values()) == 1  # nobody answered twice
    lost = {update_id for update_id, count in counts.items() if count == 0}
    # Only the window: committed by the killed process, its reply not sent yet.
    assert lost <= stored_at_kill
    assert len(lost) <= WINDOW, f"{len(lost)} replies lost"


async def test_run_killed_mid_load_loses_no_update_and_answers_none_twice(
    fake: FakeBotAPI, database_url: str, tmp_path: Path
) -> None:
    updates = queue_requests(fake, N)
    chats = updates.values()
    first = await start_bot("run", debug_env(fake, database_url), tmp_path)
    try:
        await fake.wait_for(lambda f: answered(f, chats) >= N // 5, timeout=60)
    finally:
        output = await killed(first)
    stored_at_kill = await stored_ids(database_url)
    assert len(stored_at_kill) < N  # killed mid-load
    second = await start_bot("run", debug_env(fake, database_url), tmp_path)
    try:
        # Confirmed only once handled: then every reply of the batch has been sent.
        await fake.wait_for(lambda f: f.pending_updates == 0, timeout=60)
    finally:
        output += await ended(second)
    assert second.returncode == 0, output
    check_exactly_once(fake, updates, stored_at_kill, await stored_ids(database_url))
    assert MARKER not in output


async def test_serve_killed_mid_load_has_stored_every_update_it_acknowledged(
    fake: FakeBotAPI, database_url: str, tmp_path: Path
) -> None:
    updates = queue_requests(fake, N)
    chats = updates.values()
    acknowledged: set[int] = set()
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    connections = asyncio.Semaphore(40)  # Telegram's default max_connections

    async def telegram_delivers(update_id: int) -> None:
        async with connections:
            try:
                status, _ = await fake.post_to_webhook(url, fake._sent_updates[update_id], SECRET)
            except aiohttp.ClientError:
                return  # no answer: Telegram delivers it again later
            if status == 200:
                acknowledged.add(update_id)

    first = await start_bot("serve", serve_env(fake, database_url, port), tmp_path)
    try:
        await wait_healthy(f"http://127.0.0.1:{port}", first)
        posting = asyncio.gather(*(telegram_delivers(u) for u in updates))
        await fake.wait_for(lambda f: answered(f, chats) >= N // 5, timeout=60)
    finally:
        output = await killed(first)
    await posting
    stored_at_kill = await stored_ids(database_url)
    assert acknowledged <= stored_at_kill  # a 200 only for what is safe in the database
    assert len(acknowledged) < N  # killed mid-load

    second = await start_bot("serve", serve_env(fake, database_url, port), tmp_path)
    try:
        await wait_healthy(f"http://127.0.0.1:{port}", second)
        await asyncio.gather(*(telegram_delivers(u) for u in updates if u not in acknowledged))
        assert acknowledged == set(updates)
        # Replies follow the 200: wait for every one outside the window.
        outside = [chat for update_id, chat in updates.items() if update_id not in stored_at_kill]
        await fake.wait_for(lambda f: answered(f, outside) == len(outside), timeout=60)
    finally:
        output += await ended(second)
    assert second.returncode == 0, output
    check_exactly_once(fake, updates, stored_at_kill, await stored_ids(database_url))
    assert MARKER not in output


async def test_a_revoked_token_stops_polling_with_one_line_and_a_failure_exit(
    fake: FakeBotAPI, sqlite_url: str, tmp_path: Path
) -> None:
    fake.fail_next("getUpdates", 401)  # getMe still passed: revoked while running
    process = await start_bot("run", debug_env(fake, sqlite_url), tmp_path)
    output = await finish(process)
    assert process.returncode == 3, output
    assert "fatal: Telegram refused TELEGRAM_BOT_TOKEN (401 Unauthorized)" in output
    assert "Traceback" not in output and TOKEN not in output and TOKEN.split(":")[1] not in output


async def test_a_refused_token_stops_serve_at_start(
    fake: FakeBotAPI, sqlite_url: str, tmp_path: Path
) -> None:
    fake.fail_next("getMe", 401)
    process = await start_bot("serve", serve_env(fake, sqlite_url, free_port()), tmp_path)
    output = await finish(process)
    assert process.returncode == 3, output
    assert output.count("fatal: Telegram refused TELEGRAM_BOT_TOKEN") == 1
    assert "Traceback" not in output and TOKEN.split(":")[1] not in output


async def test_an_unreachable_database_at_start_is_one_line_naming_the_host(
    tmp_path: Path,
) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql+asyncpg://bot:pw-hunter2@127.0.0.1:{port}/mantelzorg"
    process = await start_bot("run", {"TELEGRAM_BOT_TOKEN": TOKEN, "DATABASE_URL": url}, tmp_path)
    output = await finish(process)
    assert process.returncode == 3, output
    assert output.strip().splitlines() == [
        f"fatal: DATABASE_URL: cannot use the database at 127.0.0.1:{port} (database "
        "'mantelzorg'): ConnectionRefusedError"
    ]
    assert "hunter2" not in output


async def test_an_unreadable_update_is_skipped_and_the_rest_of_its_batch_answered(
    fake: FakeBotAPI, database_url: str, tmp_path: Path
) -> None:
    fake.user_sends_text(FIRST_CHAT, f"/taal {MARKER}")
    bad = fake.push_raw_update({"message": 1.5, "note": MARKER})
    fake.user_sends_text(FIRST_CHAT + 1, f"/taal {MARKER}")
    fake.user_sends_text(FIRST_CHAT, f"/start {MARKER}")
    process = await start_bot("run", debug_env(fake, database_url), tmp_path)
    try:
        await fake.wait_for(lambda f: f.pending_updates == 0, timeout=30)
    finally:
        output = await ended(process)
    assert process.returncode == 0, output
    assert "In welke taal" in fake.sent_messages(FIRST_CHAT)[0]["text"]
    assert len(fake.sent_messages(FIRST_CHAT)) == 3  # /taal, then /start's two, in order
    assert "In welke taal" in fake.sent_messages(FIRST_CHAT + 1)[0]["text"]
    assert f"update {bad} unreadable and skipped" in output
    assert len(fake.calls_to("getUpdates")) <= 4  # no hot loop over the batch
    assert MARKER not in output


# ---------------------------------------------------------------------------- database outage


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[pgcluster.OwnPostgres]:
    cluster = pgcluster.OwnPostgres()
    asyncio.run(cluster.__aenter__())
    yield cluster
    asyncio.run(cluster.__aexit__(None, None, None))


@pytest.fixture
async def outage_db(own_postgres: pgcluster.OwnPostgres) -> AsyncIterator[pgcluster.OwnPostgres]:
    await _truncate_postgres(own_postgres.url)
    yield own_postgres
    await own_postgres.start_if_stopped()


async def test_serve_answers_503_while_the_database_is_down_and_everything_once_it_is_back(
    fake: FakeBotAPI, outage_db: pgcluster.OwnPostgres, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    updates = queue_requests(fake, 5)
    process = await start_bot("serve", serve_env(fake, outage_db.url, port), tmp_path)
    try:
        await wait_healthy(base, process)
        await outage_db.stop()
        for update_id in updates:
            status, _ = await fake.post_to_webhook(
                f"{base}/telegram/webhook", fake._sent_updates[update_id], SECRET
            )
            assert status == 503  # not stored: Telegram will deliver it again
        assert not any(fake.sent_messages(chat) for chat in updates.values())
        await outage_db.start()
        for update_id in updates:  # Telegram's retries, until one is acknowledged
            for _ in range(50):
                status, _ = await fake.post_to_webhook(
                    f"{base}/telegram/webhook", fake._sent_updates[update_id], SECRET
                )
                if status == 200:
                    break
                await asyncio.sleep(0.1)
            assert status == 200
        await fake.wait_for(lambda f: answered(f, updates.values()) == len(updates), timeout=30)
    finally:
        output = await ended(process)
    assert process.returncode == 0, output
    assert [len(fake.sent_messages(chat)) for chat in updates.values()] == [1] * len(updates)
    assert MARKER not in output


async def test_run_confirms_nothing_while_the_database_is_down_and_answers_once_it_is_back(
    fake: FakeBotAPI, outage_db: pgcluster.OwnPostgres, tmp_path: Path
) -> None:
    fake.user_sends_text(FIRST_CHAT - 1, "/taal")
    process = await start_bot("run", debug_env(fake, outage_db.url), tmp_path)
    try:
        await fake.wait_for(lambda f: f.sent_messages(FIRST_CHAT - 1), timeout=30)
        await outage_db.stop()
        updates = queue_requests(fake, 5)
        polls = len(fake.calls_to("getUpdates"))
        await fake.wait_for(lambda f: len(f.calls_to("getUpdates")) >= polls + 2, timeout=30)
        assert fake.pending_updates == len(updates)  # fetched, refused, not confirmed
        assert not any(fake.sent_messages(chat) for chat in updates.values())
        await outage_db.start()
        await fake.wait_for(lambda f: f.pending_updates == 0, timeout=30)
    finally:
        output = await ended(process)
    assert process.returncode == 0, output
    assert [len(fake.sent_messages(chat)) for chat in updates.values()] == [1] * len(updates)
    assert "not acknowledged" in output
    assert MARKER not in output


async def test_a_connection_killed_by_a_database_restart_costs_no_ping_and_no_redelivery(
    fake: FakeBotAPI,
    outage_db: pgcluster.OwnPostgres,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No ping per transaction: the pooled connection the restart killed fails the next
    update's first statement, which is tried again at once on a new connection (not refused
    and fetched again after a pause)."""
    from tests.harness import BotHarness  # imports conftest: import it when needed

    bot = BotHarness(fake, outage_db.url, clock)
    await bot.start()
    try:
        assert bot.core is not None and not bot.core.db.engine.pool._pre_ping
        await bot.processed(fake.user_sends_text(FIRST_CHAT - 2, "/taal"))
        await outage_db.stop()  # a fast shutdown cuts the pooled connection off
        await outage_db.start()
        polls = len(fake.calls_to("getUpdates"))
        caplog.set_level("INFO", logger="bot.transport.telegram")
        update_id = fake.user_sends_text(FIRST_CHAT - 2, "/taal")
        await bot.processed(update_id)
    finally:
        await bot.stop()
    assert len(fake.sent_messages(FIRST_CHAT - 2)) == 2
    retried = [r for r in caplog.records if "connection was dead" in r.getMessage()]
    assert len(retried) == 1
    assert not [r for r in caplog.records if "not acknowledged" in r.getMessage()]
    # Handled from the poll that fetched it: no pause, no second fetch of the same update.
    assert len(fake.calls_to("getUpdates")) - polls <= 2


# ---------------------------------------------------------------------------- content in logs


def test_nul_characters_never_reach_the_database() -> None:
    update = Update.de_json(
        {"update_id": 1, "message": {"message_id": 1, "date": 0, "text": f"a\x00b {MARKER}\x00",
                                     "chat": {"id": 5, "type": "private"},
                                     "from": {"id": 5, "is_bot": False, "first_name": "A\x00"}}},
        None,
    )  # fmt: skip
    event = to_event(update)
    assert event is not None and event.text == f"ab {MARKER}"


async def test_a_failing_statement_never_names_its_parameters(database_url: str) -> None:
    db = Database(database_url)
    try:
        with pytest.raises(DBAPIError) as failure:
            async with db.transaction() as session:
                await session.execute(
                    insert(Caregiver).values(telegram_user_id=1, chat_id=1, locale=MARKER)
                )  # locale too long or created_at missing: fails with the marker as a parameter
    finally:
        await db.dispose()
    assert MARKER not in str(failure.value)
    assert MARKER not in ContentFreeFormatter().formatException(
        (type(failure.value), failure.value, failure.value.__traceback__)
    )


def test_tracebacks_keep_their_frames_but_not_what_an_exception_quotes() -> None:
    try:
        int(MARKER)
    except ValueError as exc:
        text = ContentFreeFormatter().formatException((ValueError, exc, exc.__traceback__))
        assert "ValueError" in text and "test_intake.py" in text
        assert MARKER not in text
        assert describe(exc) == "ValueError"
