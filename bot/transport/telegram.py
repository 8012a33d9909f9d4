"""Telegram adapter: PTB updates become engine events; replies go out through the one sender.

PTB only transports here; state, routing and texts live in `bot.app.dispatch` and the features.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.app.dispatch import BotCore, Incoming
from bot.config import Settings
from bot.engine.flow import Event
from bot.engine.output import OutMessage
from bot.text.i18n import choose_locale
from bot.transport.aiohttp_request import AiohttpRequest
from bot.transport.flood import FloodGuard
from bot.transport.sender import Sender

log = logging.getLogger(__name__)
MAX_TEXT = 4096
# Kinds of message we can name when explaining what the bot expects instead.
_UNSUPPORTED_KINDS = ("sticker", "photo", "voice", "video", "video_note", "audio", "document",
                      "animation", "poll", "dice", "venue")  # fmt: skip


def to_event(update: Update) -> Event | None:
    """The engine event of a private-chat update, or None for updates the bot does not handle."""
    if update.callback_query is not None:
        return Event("button", update.callback_query.data or "")
    message = update.message
    if message is None:
        return None
    if message.text is not None:
        text = message.text
        if text.startswith("/"):
            command, _, args = text[1:].partition(" ")
            return Event("command", command.split("@", 1)[0].lower()[:64], args.strip()[:512])
        html = message.text_html if message.entities else ""
        return Event("text", text[:MAX_TEXT], html=html)
    if message.location is not None:
        return Event(
            "location", latitude=message.location.latitude, longitude=message.location.longitude
        )
    if message.contact is not None:
        return Event("contact", message.contact.phone_number or "")
    kind = next((k for k in _UNSUPPORTED_KINDS if getattr(message, k, None)), "other")
    file_id = ""
    if message.photo:
        file_id = message.photo[-1].file_id  # the largest size
    elif message.document is not None:
        file_id = message.document.file_id
    caption = message.caption or ""
    html = message.caption_html if message.caption_entities else ""
    return Event("unsupported", kind, args=caption[:1024], html=html, file_id=file_id)


class TelegramAdapter:
    def __init__(self, core: BotCore, sender: Sender, flood: FloodGuard | None = None) -> None:
        self.core = core
        self.sender = sender
        self.flood = flood or FloodGuard()
        # Updates of one user are handled in order; different users run concurrently.
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, user_id: int) -> asyncio.Lock:
        lock = self._locks.get(user_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[user_id] = lock
        return lock

    async def on_update(self, update: Update, _context: Any) -> None:
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None or chat.type != ChatType.PRIVATE or user.is_bot:
            return
        event = to_event(update)
        if event is None:
            return
        verdict = self.flood.check(user.id)
        if verdict != "ok":
            await self._slow_down(update, verdict, user.language_code, chat.id)
            return
        incoming = Incoming(
            user_id=user.id,
            chat_id=chat.id,
            event=event,
            language_code=user.language_code,
            update_id=update.update_id,
            display_name=user.full_name[:120],
        )
        async with self._lock(user.id):
            reply = await self.core.handle(incoming)
        query = update.callback_query
        if query is not None:
            if reply is None:
                return
            await self.sender.answer_callback(query.id, reply.toast)
            pressed = query.message
            if reply.pressed_label and pressed is not None and pressed.is_accessible:
                text = getattr(pressed, "text_html", None)
                if text:
                    await self.sender.mark_pressed(
                        chat.id, pressed.message_id, text, reply.pressed_label
                    )
        if reply is None:
            return
        for message in reply.messages:
            await self.sender.send(chat.id, message)

    async def _slow_down(
        self, update: Update, verdict: str, language_code: str | None, chat_id: int
    ) -> None:
        if update.callback_query is not None:
            await self.sender.answer_callback(update.callback_query.id)
        if verdict == "notify":
            texts = self.core.texts_for(choose_locale(None, language_code))
            await self.sender.send(chat_id, OutMessage(texts.get("flood_notice")))
        log.info("update %s dropped: user over the flood limit", update.update_id)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        # Never log update contents: they hold what caregivers typed.
        update_id = update.update_id if isinstance(update, Update) else None
        log.error(
            "error while handling update %s: %s",
            update_id,
            type(context.error).__name__,
            exc_info=context.error,
        )


def build_application(settings: Settings, core: BotCore) -> Application:
    """A PTB Application on the aiohttp request backend, wired to `core`."""
    assert settings.telegram_bot_token, "validated by load_settings(require_token=True)"
    app = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token)
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_api_base_file_url)
        .request(AiohttpRequest(connection_pool_size=256))
        .get_updates_request(AiohttpRequest(connection_pool_size=2, read_timeout=40.0))
        .concurrent_updates(64)
        .build()
    )
    sender = Sender(app.bot, rate=settings.send_rate, on_blocked=core.mark_unreachable)
    adapter = TelegramAdapter(core, sender, FloodGuard(limit=settings.flood_limit))
    app.add_handler(TypeHandler(Update, adapter.on_update))
    app.add_error_handler(adapter.on_error)
    app.bot_data["sender"] = sender
    core.bot_username = lambda: app.bot.username  # known once the application is initialised
    return app
