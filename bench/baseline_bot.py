"""Baseline for bench/throughput.py: a bare PTB bot that answers every message or button press
with a fixed text and one button. No database. `--httpx` uses PTB's default request class."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.transport.aiohttp_request import AiohttpRequest

KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="ok")]])


async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer()
    chat = update.effective_chat
    if chat is not None:
        await context.bot.send_message(chat.id, "ok", reply_markup=KEYBOARD)


async def poll_until_sigterm(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Run `app` on PTB's Updater until SIGTERM (the bench stops each bot that way); shared by
    the bench's bots (ceiling_bot.py, updater_bot.py)."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0)
        await stop.wait()
        await app.updater.stop()
        await app.stop()


async def main() -> None:
    builder = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_API_BASE_URL"])
        .concurrent_updates(64)
    )
    if "--httpx" in sys.argv:
        builder = builder.connection_pool_size(256)
    else:
        builder = builder.request(AiohttpRequest(connection_pool_size=256)).get_updates_request(
            AiohttpRequest(connection_pool_size=2, read_timeout=40.0)
        )
    app = builder.build()
    app.add_handler(TypeHandler(Update, answer))
    await poll_until_sigterm(app)


if __name__ == "__main__":
    asyncio.run(main())
