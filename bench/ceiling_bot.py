"""Ceiling for bench/throughput.py: a bare PTB bot that does what a step of ours must do at
least, with no database: answer the tap (answerCallbackQuery) and send a new question with
buttons. bench/baseline_bot.py (the echo) answers with one fixed text and one button."""

from __future__ import annotations

import asyncio
import os

from baseline_bot import poll_until_sigterm
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import ApplicationBuilder, ContextTypes, TypeHandler

from bot.transport.aiohttp_request import AiohttpRequest

# About the size of a question of the self-check: two lines and five answers.
QUESTION = "<b>Vraag</b>\nHoe vaak voelt u zich moe door de zorg? Kies wat het best past."
KEYBOARD = InlineKeyboardMarkup(
    [[InlineKeyboardButton(label, callback_data=f"q:{n}")]
     for n, label in enumerate(["Nooit", "Soms", "Vaak", "Altijd", "Terug"])]
)  # fmt: skip
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer()
    chat = update.effective_chat
    if chat is not None:
        await context.bot.send_message(
            chat.id, QUESTION, parse_mode=ParseMode.HTML, reply_markup=KEYBOARD,
            link_preview_options=NO_PREVIEW,
        )  # fmt: skip


async def main() -> None:
    app = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_API_BASE_URL"])
        .concurrent_updates(64)
        .request(AiohttpRequest(connection_pool_size=256))
        .get_updates_request(AiohttpRequest(connection_pool_size=2, read_timeout=40.0))
        .build()
    )
    app.add_handler(TypeHandler(Update, answer))
    await poll_until_sigterm(app)


if __name__ == "__main__":
    asyncio.run(main())
