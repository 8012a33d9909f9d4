"""The real command line in real processes: `run` (polling) and `serve` (webhook) talk to the
fake Bot API, stop cleanly on SIGTERM, and refuse to start with a clear line on bad settings."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.fakebotapi import FakeBotAPI
from tests.postgres_server import free_port

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:TEST-token-for-the-fake-api-000"


async def start_bot(mode: str, env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", mode,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env}, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def finish(process: asyncio.subprocess.Process) -> str:
    """Wait for a process that ends by itself."""
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    return out.decode()


async def stop(process: asyncio.subprocess.Process) -> str:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    out, _ = await asyncio.wait_for(process.communicate(), 20)
    return out.decode()


async def test_run_mode_answers_through_long_polling_and_stops_on_sigterm(
    fake: FakeBotAPI, tmp_path: Path
) -> None:
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake.base_url}
    process = await start_bot("run", env, tmp_path)
    try:
        fake.user_sends_text(42, "/start")
        await fake.wait_for(lambda f: len(f.sent_messages(42)) >= 2, timeout=20)
        assert "Zorg je voor iemand?" in fake.sent_messages(42)[0]["text"]
    finally:
        output = await stop(process)
    assert process.returncode == 0, output
    assert (tmp_path / "mantelzorgbot.sqlite3").exists()  # SQLite default in the working directory
    assert "Zorg je voor iemand" not in output  # logs never carry message texts


async def test_serve_mode_takes_webhook_updates_only_with_the_secret(
    fake: FakeBotAPI, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": fake.base_url, "PORT": str(port),
        "WEBHOOK_URL": "https://bot.example.org", "WEBHOOK_SECRET": "a-very-secret-token-123",
    }  # fmt: skip
    process = await start_bot("serve", env, tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    async with http.get(f"{base}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            else:
                pytest.fail("serve did not become healthy: " + await stop(process))
            # The staff console is served beside the webhook (bot/console).
            async with http.get(f"{base}/console/") as response:
                assert response.status == 200
                assert "frame-ancestors" in response.headers["Content-Security-Policy"]
                assert "telegram-web-app.js" in await response.text()
            async with http.get(f"{base}/console/static/signin.js") as response:
                assert response.status == 200 and "initData" in await response.text()
        update = {
            "update_id": 900,
            "message": {"message_id": 1, "date": 0, "chat": {"id": 43, "type": "private"},
                        "from": {"id": 43, "is_bot": False, "first_name": "B"}, "text": "/taal"},
        }  # fmt: skip
        status, _ = await fake.post_to_webhook(
            f"{base}/telegram/webhook", update, "wrong-secret-xx"
        )
        assert status == 401
        status, _ = await fake.post_to_webhook(
            f"{base}/telegram/webhook", update, "a-very-secret-token-123"
        )
        assert status == 200
        await fake.wait_for(lambda f: len(f.sent_messages(43)) >= 1, timeout=20)
        assert "In welke taal" in fake.sent_messages(43)[0]["text"]
        assert len(fake.sent_messages(43)) == 1  # the refused post was not processed
        assert not fake.calls_to("setWebhook")  # only `webhook set` (the release step) sets it
    finally:
        output = await stop(process)
    assert process.returncode == 0, output


async def test_bad_settings_stop_the_start_with_one_line_each(tmp_path: Path) -> None:
    process = await start_bot("run", {"TELEGRAM_BOT_TOKEN": "oops", "SEND_RATE": "fast"}, tmp_path)
    output = await finish(process)
    assert process.returncode == 2
    assert "configuration error: TELEGRAM_BOT_TOKEN: malformed" in output
    assert "configuration error: SEND_RATE" in output


async def test_postgres_must_be_migrated_before_run(tmp_path: Path, postgres_url: str) -> None:
    empty = postgres_url.rsplit("/", 1)[0] + "/postgres"  # a database without our schema
    process = await start_bot("run", {"TELEGRAM_BOT_TOKEN": TOKEN, "DATABASE_URL": empty}, tmp_path)
    output = await finish(process)
    assert process.returncode == 2
    assert "python -m bot db upgrade" in output


async def test_chat_reads_piped_input_from_any_directory(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "chat",
        env={**os.environ, "PYTHONPATH": str(ROOT), "LANG": "C.UTF-8"}, cwd=tmp_path,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(b"/start\n1\n1\n/zelftest\n"), 60)
    text = out.decode()
    assert process.returncode == 0, text
    assert "[1] Nederlands" in text and "Vraag 1 van 10" in text
