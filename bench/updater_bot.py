"""Our bot without the durable intake, for bench/throughput.py: the same core, adapter and
sender as `python -m bot run`, but fed by PTB's Updater, which confirms each batch to Telegram
as soon as it is queued (before anything is stored). Only to show what the durable intake
(bot/transport/polling.py) costs; never run it for caregivers."""

from __future__ import annotations

import asyncio

from baseline_bot import poll_until_sigterm
from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, TypeHandler

from bot.app.runtime import build_core, prepare_database
from bot.config import load_settings
from bot.logs import configure_logging
from bot.transport.aiohttp_request import AiohttpRequest
from bot.transport.flood import FloodGuard
from bot.transport.sender import Sender
from bot.transport.telegram import TelegramAdapter


async def main() -> None:
    settings = load_settings(require_token=True)
    configure_logging(settings.log_level)
    await prepare_database(settings)
    core = build_core(settings)
    assert settings.telegram_bot_token is not None
    app = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token)
        .base_url(settings.telegram_api_base_url)
        .concurrent_updates(64)
        .request(AiohttpRequest(connection_pool_size=256))
        .get_updates_request(AiohttpRequest(connection_pool_size=2, read_timeout=40.0))
        .build()
    )
    sender = Sender(app.bot, rate=settings.send_rate, on_blocked=core.mark_unreachable)
    adapter = TelegramAdapter(core, sender, FloodGuard(limit=settings.flood_limit))
    core.bot_username = lambda: app.bot.username

    async def handle(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        await adapter.process(update)

    app.add_handler(TypeHandler(Update, handle))
    try:
        await poll_until_sigterm(app)
    finally:
        await core.db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
