"""Telegram adapter: PTB updates become engine events; replies go out through the one sender.

PTB only transports here; state, routing and texts live in `bot.app` and the features. The
intake (`bot.transport.web` for the webhook, `bot.transport.polling` for getUpdates) calls
`TelegramAdapter.process` and acknowledges an update to Telegram only once that returned.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Coroutine
from typing import Any

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from telegram import Chat, Update, User
from telegram.constants import ChatType
from telegram.ext import Application, ApplicationBuilder

from bot.app.dispatch import BotCore, Incoming
from bot.config import Settings
from bot.engine.flow import Event
from bot.engine.output import OutMessage, Reply
from bot.logs import describe
from bot.text.i18n import choose_locale
from bot.transport.aiohttp_request import AiohttpRequest
from bot.transport.flood import FloodGuard
from bot.transport.sender import Sender

log = logging.getLogger(__name__)
MAX_TEXT = 4096
# Kinds of message we can name when explaining what the bot expects instead.
_UNSUPPORTED_KINDS = ("sticker", "photo", "voice", "video", "video_note", "audio", "document",
                      "animation", "poll", "dice", "venue")  # fmt: skip


class NotStored(Exception):
    """An update could not be stored (the database is unavailable): do not acknowledge it."""

    def __init__(self, update_id: int) -> None:
        super().__init__(f"update {update_id} not stored")
        self.update_id = update_id


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` says the database connection failed (rather than this update's handling):
    checked before asking the database, which may be back already when it is asked."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (OSError, TimeoutError, OperationalError, InterfaceError))


def is_dead_connection(exc: BaseException) -> bool:
    """Whether `exc` says the pooled connection was dead (the server restarted, a proxy closed
    it): SQLAlchemy has dropped it, and those opened before it, from the pool, so the same work
    on a fresh connection may well succeed."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def clean(text: str) -> str:
    """Text as the database takes it: PostgreSQL refuses U+0000 in text (and the error would
    carry the value), so NUL characters are dropped on the way in."""
    return text.replace("\x00", "")


def to_event(update: Update) -> Event | None:
    """The engine event of a private-chat update, or None for updates the bot does not handle."""
    if update.callback_query is not None:
        return Event("button", clean(update.callback_query.data or ""))
    message = update.message
    if message is None:
        return None
    if message.text is not None:
        text = clean(message.text)
        if text.startswith("/"):
            command, _, args = text[1:].partition(" ")
            return Event("command", command.split("@", 1)[0].lower()[:64], args.strip()[:512])
        html = clean(message.text_html) if message.entities else ""
        return Event("text", text[:MAX_TEXT], html=html)
    if message.location is not None:
        return Event(
            "location", latitude=message.location.latitude, longitude=message.location.longitude
        )
    if message.contact is not None:
        # Only the sender's own number (Telegram's contact button sends that): a contact card of
        # someone else is not theirs to pass on.
        sender = message.from_user.id if message.from_user is not None else None
        if message.contact.user_id is None or message.contact.user_id != sender:
            return Event("unsupported", "contact")
        return Event("contact", clean(message.contact.phone_number or ""))
    kind = next((k for k in _UNSUPPORTED_KINDS if getattr(message, k, None)), "other")
    file_id = ""
    if message.photo:
        file_id = message.photo[-1].file_id  # the largest size
    elif message.document is not None:
        file_id = message.document.file_id
    caption = clean(message.caption or "")
    html = clean(message.caption_html) if message.caption_entities else ""
    return Event("unsupported", kind, args=caption[:1024], html=html, file_id=file_id)


def _private(update: Update) -> tuple[User, Chat] | None:
    """Who wrote and where, for a person in a private chat with the bot; None otherwise (groups,
    channels and other bots are not answered)."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None or chat.type != ChatType.PRIVATE or user.is_bot:
        return None
    return user, chat


class TelegramAdapter:
    def __init__(self, core: BotCore, sender: Sender, flood: FloodGuard | None = None) -> None:
        self.core = core
        self.sender = sender
        self.flood = flood or FloodGuard()
        self.failed = 0  # updates skipped because their handling failed (not the database)
        # Updates of one user are handled in order; different users run concurrently.
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, user_id: int) -> asyncio.Lock:
        lock = self._locks.get(user_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[user_id] = lock
        return lock

    async def process(self, update: Update) -> None:
        """Handle one update: store it, then send its replies (see `take`)."""
        replies = await self.take(update)
        if replies is not None:
            await replies

    async def take(self, update: Update) -> Coroutine[Any, Any, None] | None:
        """Store one update (its transaction commits); returns the sending of its replies, for
        the caller to await after acknowledging the update, or None when there is nothing to send.

        Raises `NotStored` when the update is not safe in the database (the database is
        unavailable): the caller must not acknowledge it, so Telegram delivers it again (the claim
        by update_id makes that safe). Any other failure is logged by update id and the update is
        counted as handled: a deterministic bug must not block everybody behind it.
        """
        for attempt in (1, 2):
            try:
                outcome = await self._take(update)
            except Exception as exc:
                # No ping before each transaction (bot/db/session.py): a connection that died
                # unseen fails its first statement; the update is tried again at once on a new
                # one (its transaction was rolled back with the connection; the claim makes a
                # commit that did happen harmless).
                if attempt == 1 and is_dead_connection(exc):
                    log.info("update %s: the database connection was dead; trying again",
                             update.update_id)  # fmt: skip
                    continue
                if is_outage(exc) or not await self.core.db.is_available():
                    log.warning("update %s not stored (%s); not acknowledged", update.update_id,
                                type(exc).__name__)  # fmt: skip
                    raise NotStored(update.update_id) from exc
                if attempt == 1:  # once more: a database coming back can fail in other ways
                    continue
                self.failed += 1
                log.error("update %s failed and is skipped: %s", update.update_id, describe(exc))
                return self._apologise(update)
            return None if outcome is None else self._deliver(update, *outcome)
        return None

    async def _take(self, update: Update) -> tuple[int, Reply] | None:
        """The chat and the reply of a committed update; None when there is nothing to send."""
        found = _private(update)
        if found is None:
            return None
        user, chat = found
        event = to_event(update)
        if event is None:
            return None
        verdict = self.flood.check(user.id)
        if verdict != "ok":
            await self._slow_down(update, verdict, user.language_code, chat.id)
            return None
        incoming = Incoming(
            user_id=user.id,
            chat_id=chat.id,
            event=event,
            language_code=user.language_code,
            update_id=update.update_id,
            display_name=clean(user.full_name)[:120],
        )
        async with self._lock(user.id):
            reply = await self.core.handle(incoming)
        return None if reply is None else (chat.id, reply)

    def _apologise(self, update: Update) -> Coroutine[Any, Any, None] | None:
        """A skipped update still gets an answer: nothing was done, try again, the menu."""
        found = _private(update)
        if found is None:
            return None
        user, chat = found
        texts = self.core.texts_for(choose_locale(None, user.language_code))
        return self._deliver(
            update, chat.id, Reply().add(self.core.menu_message(texts, "something_went_wrong"))
        )

    async def _deliver(self, update: Update, chat_id: int, reply: Reply) -> None:
        try:
            await self._send(update, chat_id, reply)
        except Exception as exc:  # stored already: a re-delivery would be ignored anyway
            log.error("replies to update %s failed: %s", update.update_id, describe(exc))

    async def _send(self, update: Update, chat_id: int, reply: Reply) -> None:
        query = update.callback_query
        if query is not None:
            await self.sender.answer_callback(query.id, reply.toast)
            pressed = query.message
            if reply.pressed_label and pressed is not None and pressed.is_accessible:
                text = getattr(pressed, "text_html", None)
                if text:
                    await self.sender.mark_pressed(
                        chat_id, pressed.message_id, text, reply.pressed_label
                    )
        for message in reply.messages:
            await self.sender.send(chat_id, message)

    async def _slow_down(
        self, update: Update, verdict: str, language_code: str | None, chat_id: int
    ) -> None:
        if update.callback_query is not None:
            await self.sender.answer_callback(update.callback_query.id)
        if verdict == "notify":
            texts = self.core.texts_for(choose_locale(None, language_code))
            await self.sender.send(chat_id, OutMessage(texts.get("flood_notice")))
        log.info("update %s dropped: user over the flood limit", update.update_id)


def build_application(settings: Settings, core: BotCore) -> Application:
    """A PTB Application on the aiohttp request backend, with the adapter wired to `core`.

    Only its bot is used (getMe at `initialize`, the requests); PTB's own update queue and
    Updater are not: they acknowledge updates before they are stored."""
    assert settings.telegram_bot_token, "validated by load_settings(require_token=True)"
    app = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token)
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_api_base_file_url)
        .request(AiohttpRequest(connection_pool_size=256, fast_json=settings.speedups))
        .get_updates_request(
            AiohttpRequest(connection_pool_size=2, read_timeout=40.0, fast_json=settings.speedups)
        )
        .updater(None)
        .build()
    )
    sender = Sender(app.bot, rate=settings.send_rate, on_blocked=core.mark_unreachable)
    adapter = TelegramAdapter(core, sender, FloodGuard(limit=settings.flood_limit))
    app.bot_data["sender"] = sender
    app.bot_data["adapter"] = adapter
    core.bot_username = lambda: app.bot.username  # known once the application is initialised
    return app
