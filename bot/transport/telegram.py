"""Telegram adapter: updates (`bot.transport.inbound`) become engine events; replies go out
through the one sender.

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
from telegram import Update
from telegram.ext import Application, ApplicationBuilder

from bot.app.dispatch import BotCore, Incoming
from bot.config import Settings
from bot.engine.output import OutMessage, Reply
from bot.logs import describe
from bot.text.i18n import choose_locale
from bot.transport.aiohttp_request import AiohttpRequest
from bot.transport.flood import FloodGuard
from bot.transport.inbound import Inbound, from_update, to_event
from bot.transport.sender import Sender

__all__ = ["NotStored", "TelegramAdapter", "build_application", "to_event"]
log = logging.getLogger(__name__)


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

    async def process(self, update: Inbound | Update) -> None:
        """Handle one update: store it, then send its replies (see `take`)."""
        replies = await self.take(update)
        if replies is not None:
            await replies

    async def take(self, update: Inbound | Update) -> Coroutine[Any, Any, None] | None:
        """Store one update (its transaction commits); returns the sending of its replies, for
        the caller to await after acknowledging the update, or None when there is nothing to send.

        Raises `NotStored` when the update is not safe in the database (the database is
        unavailable): the caller must not acknowledge it, so Telegram delivers it again (the claim
        by update_id makes that safe). Any other failure is logged by update id and the update is
        counted as handled: a deterministic bug must not block everybody behind it.
        """
        if isinstance(update, Update):
            update = from_update(update)
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

    async def _take(self, update: Inbound) -> tuple[int, Reply] | None:
        """The chat and the reply of a committed update; None when there is nothing to send."""
        if update.user_id is None or update.chat_id is None or update.event is None:
            return None  # not a person in a private chat, or nothing the bot handles
        verdict = self.flood.check(update.user_id)
        if verdict != "ok":
            await self._slow_down(update, verdict, update.chat_id)
            return None
        incoming = Incoming(
            user_id=update.user_id,
            chat_id=update.chat_id,
            event=update.event,
            language_code=update.language_code,
            update_id=update.update_id,
            display_name=update.display_name,
        )
        async with self._lock(update.user_id):
            reply = await self.core.handle(incoming)
        return None if reply is None else (update.chat_id, reply)

    def _apologise(self, update: Inbound) -> Coroutine[Any, Any, None] | None:
        """A skipped update still gets an answer: nothing was done, try again, the menu."""
        if update.user_id is None or update.chat_id is None:
            return None
        texts = self.core.texts_for(choose_locale(None, update.language_code))
        return self._deliver(
            update,
            update.chat_id,
            Reply().add(self.core.menu_message(texts, "something_went_wrong")),
        )

    async def _deliver(self, update: Inbound, chat_id: int, reply: Reply) -> None:
        try:
            await self._send(update, chat_id, reply)
        except Exception as exc:  # stored already: a re-delivery would be ignored anyway
            log.error("replies to update %s failed: %s", update.update_id, describe(exc))

    async def _send(self, update: Inbound, chat_id: int, reply: Reply) -> None:
        if update.query_id is not None:
            await self.sender.answer_callback(update.query_id, reply.toast)
            if reply.pressed_label and update.pressed is not None:
                message_id, text = update.pressed
                await self.sender.mark_pressed(chat_id, message_id, text, reply.pressed_label)
        for message in reply.messages:
            await self.sender.send(chat_id, message)

    async def _slow_down(self, update: Inbound, verdict: str, chat_id: int) -> None:
        if update.query_id is not None:
            await self.sender.answer_callback(update.query_id)
        if verdict == "notify":
            texts = self.core.texts_for(choose_locale(None, update.language_code))
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
    sender = Sender(
        app.bot,
        rate=settings.send_rate,
        on_blocked=core.mark_unreachable,
        fast_json=settings.speedups,
    )
    adapter = TelegramAdapter(core, sender, FloodGuard(limit=settings.flood_limit))
    app.bot_data["sender"] = sender
    app.bot_data["adapter"] = adapter
    core.bot_username = lambda: app.bot.username  # known once the application is initialised
    return app
