"""Check-ins through the real stack: PTB and the one sender against the fake Bot API, and two real
`python -m bot run` processes on one PostgreSQL sending each due check-in exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

from PIL import Image
from sqlalchemy import func, select

from bot.app.runtime import privacy_version
from bot.clock import FakeClock
from bot.db.models import Caregiver
from bot.db.session import Database
from bot.features.checkin.models import CheckinSchedule
from bot.jobs.scheduled import ScheduledMessage, deliver_due, schedule
from tests.conftest import _truncate_postgres
from tests.conversation import TelegramUser
from tests.fakebotapi import FakeBotAPI
from tests.harness import BotHarness
from tests.test_checkin import local
from tests.test_processes import TOKEN, start_bot, stop


async def tick(harness: BotHarness) -> None:
    assert harness.core is not None and harness.app is not None
    await deliver_due(harness.core, harness.app.bot_data["sender"], "e2e-worker")


async def test_a_caregiver_sets_up_answers_and_sees_the_chart_through_telegram(
    fake: FakeBotAPI, harness: BotHarness, clock: FakeClock
) -> None:
    user = TelegramUser(fake, harness, 701)
    await user.says("/start")
    await user.taps("Nederlands")
    await user.taps("Ja, dat mag")
    await user.says("/menu")
    await user.taps("Check-ins")
    await user.taps("Elke week")
    await user.taps("dinsdag")
    await user.taps("Avond (19:30)")
    assert "De eerste komt op dinsdag 24 november 2026 om 19:30." in user.last_text
    clock.set(local(2026, 11, 24, 19, 30))
    await tick(harness)
    assert user.last_text.startswith("Tijd voor je check-in.")
    await user.taps("8")
    reply, followup = user.messages()[-2:]
    assert "Dat is zwaar" in reply["text"] and "Zelftest doen" in str(reply["reply_markup"])
    assert "zwaarst weegt" in followup["text"]
    await user.says("Slecht slapen door de nachten")
    assert "Ik heb het bij je check-in gezet" in user.last_text
    await user.says("/resultaten")
    photo = fake.calls_to("sendPhoto")[-1]
    image = Image.open(BytesIO(next(iter(photo.files.values())).content))
    assert image.format == "PNG" and image.info["Description"] == "checkins=1 selfchecks=0"
    assert "Check-ins: 1. De laatste (24 november 2026): 8 van 10." in photo.params["caption"]


async def seed_due_checkins(url: str, count: int, due: datetime) -> None:
    db = Database(url)
    try:
        async with db.transaction() as session:
            caregivers = [
                Caregiver(telegram_user_id=80_000 + i, chat_id=80_000 + i, locale="nl",
                          consent_version=privacy_version(), consent_at=due,
                          created_at=due, last_seen_at=due)
                for i in range(count)
            ]  # fmt: skip
            session.add_all(caregivers)
            await session.flush()
            for caregiver in caregivers:
                session.add(
                    CheckinSchedule(caregiver_id=caregiver.id, cadence="weekly",
                                    weekday=due.weekday(), minute=19 * 60 + 30, asked_seq=0,
                                    created_at=due, updated_at=due)
                )  # fmt: skip
                # quiet_ok: the test may run at night; these rows are "chosen" times.
                schedule(session, caregiver.id, "checkin", due, due, {"quiet_ok": True})
    finally:
        await db.dispose()


async def claim_summary(url: str) -> tuple[dict[str, int], int]:
    db = Database(url)
    try:
        async with db.transaction() as session:
            sent = ScheduledMessage.kind == "checkin"
            statuses = dict(
                (
                    await session.execute(
                        select(ScheduledMessage.status, func.count())
                        .where(sent, ScheduledMessage.claimed_by.is_not(None))
                        .group_by(ScheduledMessage.status)
                    )
                ).all()
            )
            claimers = await session.scalar(
                select(func.count(ScheduledMessage.claimed_by.distinct())).where(sent)
            )
            return {k: int(v) for k, v in statuses.items()}, int(claimers or 0)
    finally:
        await db.dispose()


async def test_two_processes_on_postgres_send_each_due_check_in_exactly_once(
    fake: FakeBotAPI, postgres_url: str, tmp_path: Path
) -> None:
    await _truncate_postgres(postgres_url)
    count = 400
    # Quiet logs: the processes' output is only read when they stop, through a bounded pipe.
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake.base_url,
           "DATABASE_URL": postgres_url, "SEND_RATE": "400", "LOG_LEVEL": "WARNING"}  # fmt: skip
    first, second = await asyncio.gather(
        start_bot("run", env, tmp_path), start_bot("run", env, tmp_path)
    )
    try:
        # Both are up (each asked getMe, just before its scheduler starts) before anything is
        # due: on a busy machine one process could otherwise start a second later and find
        # every check-in sent already.
        await fake.wait_for(lambda f: len(f.calls_to("getMe")) >= 2, timeout=60)
        await seed_due_checkins(postgres_url, count, datetime.now(UTC) - timedelta(minutes=1))
        chats = range(80_000, 80_000 + count)
        await fake.wait_for(
            lambda f: all(f.sent_messages(c) for c in chats), timeout=60, message="every check-in"
        )
        for _ in range(100):  # until both have recorded their outcomes
            statuses, claimers = await claim_summary(postgres_url)
            if statuses.get("sent") == count:
                break
            await asyncio.sleep(0.1)
    finally:
        outputs = [await stop(first), await stop(second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    per_chat = Counter(m["chat"]["id"] for c in chats for m in fake.sent_messages(c))
    assert set(per_chat.values()) == {1}, Counter(per_chat.values())
    assert statuses == {"sent": count}
    assert claimers == 2  # both processes took part, neither took another's rows
    texts = {fake.sent_messages(c)[0]["text"].splitlines()[0] for c in chats}
    assert texts == {"Tijd voor je check-in."}
