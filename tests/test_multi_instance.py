"""Two `serve` processes on one PostgreSQL behind a (simulated) load balancer: one caregiver's
updates arriving alternately at either keep the dialog consistent, simultaneous presses of the
same button count once, and an update re-delivered to the other instance is processed once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.db.models import Answer
from bot.db.session import Database
from tests.conftest import _truncate_postgres
from tests.fakebotapi import FakeBotAPI
from tests.test_processes import TOKEN, free_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "multi-instance-secret-0123"
USER = 4242


@pytest.fixture
async def instances(
    fake: FakeBotAPI, postgres_url: str, tmp_path: Path
) -> AsyncIterator[list[str]]:
    await _truncate_postgres(postgres_url)
    processes, urls = [], []
    for _ in range(2):
        port = free_port()
        env = {
            **os.environ, "PYTHONPATH": str(ROOT), "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": fake.base_url, "DATABASE_URL": postgres_url,
            "PORT": str(port), "WEBHOOK_URL": "https://bot.example.org", "WEBHOOK_SECRET": SECRET,
            "LOG_LEVEL": "WARNING",
        }  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "serve", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        processes.append(process)
        urls.append(f"http://127.0.0.1:{port}")
    try:
        async with aiohttp.ClientSession() as http:
            for url in urls:
                for _ in range(300):
                    try:
                        async with http.get(f"{url}/healthz") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientConnectionError:
                        pass
                    await asyncio.sleep(0.1)
                else:
                    pytest.fail(f"{url} did not become healthy")
        yield [f"{url}/telegram/webhook" for url in urls]
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            await asyncio.wait_for(process.wait(), 30)


async def post(fake: FakeBotAPI, url: str, update_id: int) -> None:
    status, _ = await fake.post_to_webhook(url, fake._sent_updates[update_id], SECRET)
    assert status == 200


async def replies_settle(fake: FakeBotAPI, count: int) -> list[dict[str, Any]]:
    await fake.wait_for(lambda f: len(f.sent_messages(USER)) >= count, timeout=20)
    await asyncio.sleep(0.3)  # anything a duplicate might still send would arrive now
    return fake.sent_messages(USER)


def first_button(message: dict[str, Any]) -> str:
    return str(message["reply_markup"]["inline_keyboard"][0][0]["callback_data"])


async def answers(postgres_url: str) -> int:
    db = Database(postgres_url)
    try:
        async with db.transaction() as session:
            return int(await session.scalar(select(func.count()).select_from(Answer)) or 0)
    finally:
        await db.dispose()


async def test_one_caregiver_alternating_between_two_instances_stays_consistent(
    fake: FakeBotAPI, instances: list[str], postgres_url: str
) -> None:
    seen = 0

    async def step(update_id: int, instance: int, expect: int = 1) -> list[dict[str, Any]]:
        nonlocal seen
        await post(fake, instances[instance % 2], update_id)
        messages = await replies_settle(fake, seen + expect)
        seen = len(messages)
        return messages

    await step(fake.user_sends_text(USER, "/start"), 0, expect=2)
    for n, label in enumerate(["Nederlands", "Ja, dat mag"], start=1):
        message = fake.sent_messages(USER)[-1]
        buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
        data = next(b["callback_data"] for b in buttons if b["text"] == label)
        await step(fake.user_presses(USER, message["message_id"], data), n, expect=2)
    await step(fake.user_sends_text(USER, "/zelftest"), 1, expect=2)
    for number in range(1, 11):
        question = fake.sent_messages(USER)[-1]
        assert f"Vraag {number} van 10" in question["text"]
        press = fake.user_presses(USER, question["message_id"], first_button(question))
        if number == 5:
            # The same press reaches both instances at once (a double tap, a re-delivery).
            again = fake.user_presses(USER, question["message_id"], first_button(question))
            await asyncio.gather(post(fake, instances[0], press), post(fake, instances[1], again))
            messages = await replies_settle(fake, seen + 1)
            seen = len(messages)
        else:
            await step(press, number)
        if number == 7:
            await post(fake, instances[(number + 1) % 2], press)  # re-delivered elsewhere
    texts = [m.get("text") or "" for m in fake.sent_messages(USER)]
    asked = [int(t.split("Vraag ")[1].split(" ")[0]) for t in texts if t.startswith("Vraag ")]
    assert asked == list(range(1, 11))  # no question skipped or repeated
    assert "Je zelftest is klaar." in texts[-1]
    assert await answers(postgres_url) == 10  # none lost, none twice
