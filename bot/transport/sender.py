"""The one outbound path to Telegram: rate limit, priorities, retries and blocked users.

Replies to a caregiver's own message go at once; bulk sending (notices, check-ins) takes what is
left of the global budget, at most about one message a second per chat, and pauses when Telegram
says `RetryAfter`. `Forbidden` (the user blocked the bot) is reported once and never retried.
The hot calls (answering a press, marking it, a text message) skip PTB's object building: see
`Sender.call`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from telegram import Bot, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot import speedups
from bot.engine.output import Button, OutMessage

log = logging.getLogger(__name__)

Status = Literal["sent", "blocked", "failed"]
NO_PREVIEW = {"is_disabled": True}  # link_preview_options


@dataclass(frozen=True)
class SendOutcome:
    status: Status
    message_id: int | None = None
    error: str | None = None


class RateLimiter:
    """Global budget of `rate` messages/s shared by replies (never wait) and bulk (waits)."""

    def __init__(self, rate: float, per_chat_interval: float = 1.0) -> None:
        self.interval = 1.0 / rate
        self.per_chat_interval = per_chat_interval
        self._next_bulk = 0.0
        self._paused_until = 0.0
        self._last_bulk_per_chat: dict[int, float] = {}
        self._lock = asyncio.Lock()

    def note_reply(self) -> None:
        # A reply uses a slot of the budget without waiting: bulk moves one slot back.
        now = time.monotonic()
        self._next_bulk = max(self._next_bulk, now) + self.interval

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def acquire_bulk(self, chat_id: int) -> None:
        while True:
            async with self._lock:
                now = time.monotonic()
                previous = self._last_bulk_per_chat.get(chat_id)
                at = max(now, self._next_bulk, self._paused_until)
                if previous is not None:
                    at = max(at, previous + self.per_chat_interval)
                self._next_bulk = at + self.interval
                self._last_bulk_per_chat[chat_id] = at
                if len(self._last_bulk_per_chat) > 10_000:
                    cutoff = now - self.per_chat_interval
                    self._last_bulk_per_chat = {
                        c: t for c, t in self._last_bulk_per_chat.items() if t > cutoff
                    }
            delay = at - now
            if delay > 0:
                await asyncio.sleep(delay)
            if self._paused_until <= time.monotonic():
                return
            # A RetryAfter arrived while this message waited: its slot fell inside the pause.
            # Take a new slot after it, so the messages held back do not all go at once when
            # the pause ends (that burst would exceed the rate and earn the next 429).
            async with self._lock:
                if self._last_bulk_per_chat.get(chat_id) == at:
                    if previous is None:
                        self._last_bulk_per_chat.pop(chat_id, None)
                    else:
                        self._last_bulk_per_chat[chat_id] = previous


def inline_markup(message: OutMessage) -> dict[str, Any] | None:
    """The buttons of a message that is edited in place (only inline keyboards can be)."""
    found = markup(message)
    return found if found is not None and "inline_keyboard" in found else None


def markup(message: OutMessage) -> dict[str, Any] | None:
    """The message's keyboard as the Bot API's `reply_markup` object.

    Plain dicts, not PTB's keyboard objects: those are built and then turned back into dicts
    for every message (measured: a noticeable share of a press's CPU, bench/throughput.py)."""
    if not message.buttons:
        if message.location_button or message.contact_button:
            button = (
                {"text": message.location_button, "request_location": True}
                if message.location_button
                else {"text": message.contact_button, "request_contact": True}
            )
            return {"keyboard": [[button]], "resize_keyboard": True, "one_time_keyboard": True}
        return {"remove_keyboard": True} if message.remove_keyboard else None
    return {"inline_keyboard": [[_inline_button(b) for b in row] for row in message.buttons]}


def _inline_button(button: Button) -> dict[str, Any]:
    if button.web_app:
        return {"text": button.label, "web_app": {"url": button.web_app}}
    if button.url:
        return {"text": button.label, "url": button.url}
    return {"text": button.label, "callback_data": button.data}


class Sender:
    """Sends OutMessages; every message of the bot to Telegram goes through here."""

    def __init__(
        self,
        bot: Bot,
        rate: float = 25.0,
        on_blocked: Callable[[int], Awaitable[None]] | None = None,
        max_attempts: int = 4,
        backoff: float = 0.5,
        fast_json: bool = True,
    ) -> None:
        self.bot = bot
        self._dumps = speedups.json_dumps(enabled=fast_json)
        self.limiter = RateLimiter(rate)
        self.on_blocked = on_blocked
        self.max_attempts = max_attempts
        self.backoff = backoff

    async def send(self, chat_id: int, message: OutMessage, *, bulk: bool = False) -> SendOutcome:
        keyboard = markup(message)
        # PTB's file-sending methods take the keyboard as it goes to the Bot API.
        extra = {"reply_markup": keyboard} if keyboard is not None else None

        async def call() -> Any:
            if message.photo_id:
                return await self.bot.send_photo(
                    chat_id, message.photo_id, caption=message.text or None,
                    parse_mode=ParseMode.HTML, api_kwargs=extra,
                )  # fmt: skip
            if message.document_id:
                return await self.bot.send_document(
                    chat_id, message.document_id, caption=message.text or None,
                    parse_mode=ParseMode.HTML, api_kwargs=extra,
                )  # fmt: skip
            if message.image is not None:
                return await self.bot.send_photo(
                    chat_id, message.image, caption=message.text or None,
                    parse_mode=ParseMode.HTML, api_kwargs=extra,
                )  # fmt: skip
            if message.document is not None:
                filename, data = message.document
                return await self.bot.send_document(
                    chat_id, data, filename=filename, caption=message.text or None,
                    parse_mode=ParseMode.HTML, api_kwargs=extra,
                )  # fmt: skip
            return await self.call("sendMessage", {
                "chat_id": chat_id, "text": message.text, "parse_mode": ParseMode.HTML,
                "reply_markup": keyboard, "link_preview_options": NO_PREVIEW,
            })  # fmt: skip

        return await self._deliver(chat_id, call, bulk=bulk)

    async def call(self, method: str, parameters: dict[str, Any]) -> Any:
        """A Bot API call whose answer is used raw (a dict, True), not as PTB objects.

        PTB's `Bot.send_message` and friends build a `Message` (with its chat, user and
        keyboard objects) from every answer; the hot path only needs a message id, if anything
        (measured: that building was about a tenth of the bot's CPU, bench/throughput.py).
        This is what `Bot.do_api_request(method, parameters, return_type=None)` does, without
        its warning for methods PTB knows: the same `Bot._post`, so the same request backend,
        default values and error mapping (`RetryAfter`, `Forbidden`, `BadRequest`, `TimedOut`,
        `NetworkError`, `ChatMigrated`), which `_deliver` relies on. `None` values are left out;
        objects (a keyboard) are JSON-encoded here, with orjson when it is installed, as PTB
        would with the standard library.
        """
        return await self.bot._post(method, {
            name: value if isinstance(value, str | int) else self._dumps(value)
            for name, value in parameters.items() if value is not None
        })  # fmt: skip

    async def answer_callback(self, query_id: str, text: str | None = None) -> None:
        try:
            await self.call("answerCallbackQuery", {"callback_query_id": query_id, "text": text})
        except TelegramError as exc:
            # An old query (over 15 minutes) cannot be answered any more; nothing to repair.
            log.info("answerCallbackQuery failed: %s", type(exc).__name__)

    async def mark_pressed(self, chat_id: int, message_id: int, html_text: str, label: str) -> None:
        """Show the chosen answer under the question and take its buttons away."""

        async def call() -> Any:
            return await self.call("editMessageText", {
                "chat_id": chat_id, "message_id": message_id,
                "text": f"{html_text}\n\n<b>→ {label}</b>", "parse_mode": ParseMode.HTML,
                "link_preview_options": NO_PREVIEW,
            })  # fmt: skip

        await self._deliver(chat_id, call, bulk=False)

    async def edit(self, chat_id: int, message_id: int, message: OutMessage) -> SendOutcome:
        """Replace the text (and buttons) of a message the bot sent, e.g. a progress line."""

        async def call() -> Any:
            return await self.call("editMessageText", {
                "chat_id": chat_id, "message_id": message_id, "text": message.text,
                "parse_mode": ParseMode.HTML, "reply_markup": inline_markup(message),
                "link_preview_options": NO_PREVIEW,
            })  # fmt: skip

        outcome = await self._deliver(chat_id, call, bulk=False)
        if outcome.error and "not modified" in outcome.error.lower():
            return SendOutcome("sent", message_id=message_id)
        return outcome

    async def _deliver(
        self, chat_id: int, call: Callable[[], Awaitable[object]], *, bulk: bool
    ) -> SendOutcome:
        error = "no attempt"
        for attempt in range(1, self.max_attempts + 1):
            if bulk:
                await self.limiter.acquire_bulk(chat_id)
            else:
                self.limiter.note_reply()
            try:
                result = await call()
            except RetryAfter as exc:
                seconds = exc.retry_after
                wait = (
                    seconds.total_seconds() if hasattr(seconds, "total_seconds") else float(seconds)
                )
                log.warning("Telegram asked to wait %.1fs (RetryAfter)", wait)
                self.limiter.pause(wait)
                error = "retry_after"
                if not bulk:
                    await asyncio.sleep(wait)
                continue
            except Forbidden:
                log.info("chat %s blocked the bot", chat_id)
                if self.on_blocked is not None:
                    await self.on_blocked(chat_id)
                return SendOutcome("blocked", error="forbidden")
            except BadRequest as exc:
                # Permanent: retrying the same request gives the same answer.
                log.warning("Telegram refused a message to chat %s: %s", chat_id, exc.message)
                return SendOutcome("failed", error=f"bad_request: {exc.message}"[:200])
            except NetworkError as exc:  # includes TimedOut and 5xx answers
                error = f"{type(exc).__name__}: {exc.message}"[:200]
                log.warning("sending to chat %s failed (attempt %d): %s", chat_id, attempt, error)
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
                continue
            except TelegramError as exc:
                log.warning("sending to chat %s failed: %s", chat_id, type(exc).__name__)
                return SendOutcome("failed", error=f"{type(exc).__name__}: {exc.message}"[:200])
            return SendOutcome("sent", message_id=_message_id(result))
        return SendOutcome("failed", error=error)


def _message_id(result: object) -> int | None:
    """The id of the message a call sent or edited: a PTB `Message` or the raw answer."""
    if isinstance(result, Message):
        return result.message_id
    if isinstance(result, dict) and isinstance(result.get("message_id"), int):
        return int(result["message_id"])
    return None
