"""A local fake of the Telegram Bot API for end-to-end tests and benchmarks.

The real Telegram is unreachable from tests, so every end-to-end test drives the real
python-telegram-bot stack (``Application``, ``Updater``, ``Bot`` and its HTTP request class)
against this aiohttp server instead::

    async with FakeBotAPI() as fake:
        app = (
            ApplicationBuilder().token("123:ABC")
            .base_url(fake.base_url).base_file_url(fake.base_file_url).build()
        )
        ...
        update_id = fake.user_sends_text(42, "/start")
        await fake.wait_for_calls("sendMessage", 1)
        assert fake.last_message(42)["text"] == "Welkom!"

What it does, as close to Telegram as is useful:

* ``/bot{token}/{method}`` over GET and POST with JSON, url-encoded forms (PTB's default: nested
  objects such as ``reply_markup`` arrive as JSON strings and are decoded) and multipart uploads.
* Realistic results for the methods the bot uses (see ``_HANDLERS``); unknown methods get
  Telegram's 404. ``parse_mode=HTML`` is parsed like Telegram does: the stored/returned ``text``
  is plain text plus ``entities``, and unsupported or unbalanced tags are a 400 "can't parse
  entities" -- so broken markup in content fails a test instead of a production send.
* Real long polling for ``getUpdates`` with Telegram's ``offset`` confirmation semantics.
* Every call is recorded (``calls``), sent messages are stored per chat, and tests wait on
  conditions (``wait_for``) instead of sleeping.
* Fault injection (``fail_next``, ``delay_next``, ``error_rate``) for sender/retry tests.

It is kept allocation-light and log-free because benchmarks push tens of thousands of calls
through it.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web

__all__ = ["Call", "FakeBotAPI", "UploadedFile"]

JSON = dict[str, Any]

# How often ``wait_for`` re-checks its predicate even without a recorded call: predicates may
# look at state outside the fake (a database, the harness), which does not notify us.
_RECHECK_INTERVAL = 0.05


@dataclass(slots=True)
class UploadedFile:
    """One file field of a multipart upload."""

    filename: str | None
    content: bytes
    mime_type: str | None


@dataclass(slots=True)
class Call:
    """One Bot API request as the fake saw it.

    ``method`` is the canonical spelling (``sendMessage``) whatever case the client used.
    ``params`` are decoded (ints are ints, ``reply_markup`` is a dict). ``at`` is the
    ``time.monotonic()`` of arrival; the call is appended to ``FakeBotAPI.calls`` once its
    response is decided, so ``status`` is final (200, or the injected/real error code).
    """

    method: str
    params: JSON
    files: dict[str, UploadedFile]
    at: float
    status: int = 200
    token: str = ""


class _ApiError(Exception):
    """Raised inside method handlers to answer with Telegram's error JSON."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


# Parameters that are strings even when they look like numbers/booleans/JSON. Everything else
# in a form body is decoded the way Telegram would type it (PTB JSON-encodes non-str values).
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "callback_query_id",
        "inline_message_id",
        "url",
        "secret_token",
        "parse_mode",
        "action",
        "language_code",
        "ip_address",
        "business_connection_id",
        "message_effect_id",
        "file_id",
        "photo",
        "document",
        "emoji",
        "title",
        "description",
        "short_description",
        "name",
        "query",
    }
)

_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: injected failure",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; make sure that only one bot "
    "instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


def _decode_param(key: str, value: str) -> Any:
    if key in _STRING_PARAMS or not value:
        return value
    first = value[0]
    if first in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if value == "true":
        return True
    if value == "false":
        return False
    if first == "-" or first.isdigit():
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return value
    return value


def _utf16_len(text: str) -> int:
    # Telegram measures entity offsets/lengths in UTF-16 code units. The ASCII fast path keeps
    # the common case allocation-free.
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------------------------
# HTML parse_mode, close enough to Telegram's parser to catch what Telegram would reject.

_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "a": "text_link",
    "span": "spoiler",
    "tg-emoji": "custom_emoji",
}


class _TelegramHTML(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.parts: list[str] = []
        self.length = 0  # UTF-16 length of the text so far
        self.stack: list[tuple[str, int, JSON]] = []
        self.entities: list[JSON] = []
        self.error: str | None = None

    def _byte_offset(self) -> int:
        line, column = self.getpos()
        lines = self.source.split("\n")
        prefix = "\n".join(lines[: line - 1])
        if line > 1:
            prefix += "\n"
        prefix += lines[line - 1][:column]
        return len(prefix.encode())

    def _fail(self, message: str) -> None:
        if self.error is None:
            self.error = f"Bad Request: can't parse entities: {message}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        kind = _SIMPLE_TAGS.get(tag)
        attributes = dict(attrs)
        if kind is None or (tag == "span" and attributes.get("class") != "tg-spoiler"):
            self._fail(f'Unsupported start tag "{tag}" at byte offset {self._byte_offset()}')
            return
        extra: JSON = {}
        if tag == "a":
            href = attributes.get("href") or ""
            if href.startswith("tg://user?id="):
                kind = "text_mention"
                extra["user"] = {
                    "id": int(href.split("=", 1)[1]),
                    "is_bot": False,
                    "first_name": "",
                }
            else:
                extra["url"] = href
        elif tag == "blockquote" and "expandable" in attributes:
            kind = "expandable_blockquote"
        elif tag == "tg-emoji":
            extra["custom_emoji_id"] = attributes.get("emoji-id") or ""
        elif tag == "code" and self.stack and self.stack[-1][0] == "pre":
            language = (attributes.get("class") or "").removeprefix("language-")
            if language:
                self.stack[-1][2]["language"] = language
        self.stack.append((tag, self.length, {"type": kind, **extra}))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            self._fail(f"Unexpected end tag at byte offset {self._byte_offset()}")
            return
        open_tag, start, entity = self.stack.pop()
        if open_tag != tag:
            self._fail(
                f"Unmatched end tag at byte offset {self._byte_offset()}, "
                f'expected "</{open_tag}>", found "</{tag}>"'
            )
            return
        if self.length > start:  # Telegram drops empty entities
            entity["offset"] = start
            entity["length"] = self.length - start
            self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        self.length += _utf16_len(data)


def _parse_html(source: str) -> tuple[str, list[JSON]]:
    parser = _TelegramHTML(source)
    parser.feed(source)
    parser.close()
    if parser.error is None and parser.stack:
        parser.error = (
            "Bad Request: can't parse entities: Can't find end tag corresponding to start tag "
            f'"{parser.stack[-1][0]}"'
        )
    if parser.error is not None:
        raise _ApiError(400, parser.error)
    parser.entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(parser.parts), parser.entities


# --------------------------------------------------------------------------------------------


class _Fault:
    __slots__ = ("delay", "description", "release", "remaining", "retry_after", "status")

    def __init__(
        self,
        status: int,
        remaining: int,
        retry_after: int | None = None,
        description: str | None = None,
        delay: float = 0.0,
        release: asyncio.Event | None = None,
    ) -> None:
        self.status = status
        self.remaining = remaining
        self.release = release
        self.retry_after = retry_after
        self.description = description
        self.delay = delay


class _ErrorRate:
    __slots__ = ("retry_after", "rng", "thresholds")

    def __init__(self, rates: dict[int, float], seed: int | None, retry_after: int) -> None:
        self.rng = random.Random(seed)
        self.retry_after = retry_after
        # Cumulative thresholds so one random draw decides among all statuses.
        total = 0.0
        self.thresholds: list[tuple[float, int]] = []
        for status, rate in rates.items():
            total += rate
            self.thresholds.append((total, status))
        if total > 1.0:
            raise ValueError(f"error rates add up to {total}, more than 1")

    def draw(self) -> int | None:
        roll = self.rng.random()
        for threshold, status in self.thresholds:
            if roll < threshold:
                return status
        return None


class _Queued:
    """An update waiting for getUpdates, with whether a poll has already handed it out."""

    __slots__ = ("delivered", "update", "update_id")

    def __init__(self, update: JSON) -> None:
        self.update = update
        self.update_id: int = update["update_id"]
        self.delivered = False


class FakeBotAPI:
    """The fake Bot API server. See the module docstring for an overview."""

    def __init__(
        self,
        *,
        bot_id: int = 123456,
        bot_username: str = "mantelzorg_test_bot",
        bot_first_name: str = "Mantelzorg",
        first_update_id: int = 1,
        parse_html: bool = True,
    ) -> None:
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.parse_html = parse_html
        self.port: int = 0
        self.tokens: list[str] = []  # every distinct token seen, in order
        self.calls: list[Call] = []
        self.webhook_url: str = ""
        self.webhook_secret_token: str | None = None
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.deleted: set[tuple[int, int]] = set()

        self._by_method: dict[str, list[Call]] = {}
        self._next_update_id = first_update_id
        self._queue: deque[_Queued] = deque()
        self._sent_updates: dict[int, JSON] = {}
        self._update_arrived = asyncio.Event()
        self._changed: asyncio.Event | None = None
        self._closing = False
        self._chat_counters: dict[int, int] = {}
        self._messages: dict[tuple[int, int], JSON] = {}  # every message, bot's and users'
        self._bot_messages: dict[int, list[JSON]] = {}
        self._users: dict[int, JSON] = {}
        self._callback_queries: set[str] = set()
        self._files: dict[str, tuple[bytes, str]] = {}  # file_id -> (content, file_path)
        self._file_paths: dict[str, bytes] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._delays: dict[str, deque[_Fault]] = {}
        self._error_rates: dict[str, _ErrorRate] = {}
        self._bot_users: dict[str, JSON] = {}
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    # ---------------------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``; PTB appends ``{token}/{method}``."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)``."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # access_log=None: no per-request logging (benchmarks); a short shutdown_timeout so a
        # poll left hanging by a test cannot stall teardown.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        # Wake any long poll so it answers (empty) before the server goes away.
        self._closing = True
        self._update_arrived.set()
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # ---------------------------------------------------------------------------- recording

    def calls_to(self, method: str) -> list[Call]:
        """All calls of ``method`` (any case), failed ones included, in order."""
        return list(self._by_method.get(method.lower(), ()))

    def sent_messages(self, chat_id: int) -> list[JSON]:
        """Messages the bot sent to ``chat_id`` (sendMessage/sendPhoto/sendDocument), in order.

        These are the stored dicts, so later edits show (``text``, ``reply_markup``,
        ``edit_date``); deleted messages stay listed -- see ``is_deleted``. ``reply_markup``
        holds whatever markup was sent, reply keyboards included (Telegram itself only echoes
        inline keyboards to the bot, and so does the fake in its responses).
        """
        return list(self._bot_messages.get(chat_id, ()))

    def last_message(self, chat_id: int) -> JSON:
        messages = self._bot_messages.get(chat_id)
        if not messages:
            raise AssertionError(f"the bot sent nothing to chat {chat_id}{self._recent_calls()}")
        return messages[-1]

    def message(self, chat_id: int, message_id: int) -> JSON:
        """A stored message (the bot's or a simulated user's)."""
        try:
            return self._messages[chat_id, message_id]
        except KeyError:
            raise AssertionError(f"no message {message_id} in chat {chat_id}") from None

    def is_deleted(self, chat_id: int, message_id: int) -> bool:
        return (chat_id, message_id) in self.deleted

    def clear_calls(self) -> None:
        """Forget recorded calls (e.g. after warm-up in a benchmark); messages are kept."""
        self.calls.clear()
        self._by_method.clear()

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        bucket = self._by_method.get(call.method.lower())
        if bucket is None:
            bucket = self._by_method[call.method.lower()] = []
        bucket.append(call)
        self._notify()

    def _notify(self) -> None:
        # One shared Event per wait generation, only allocated when somebody is waiting.
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def _recent_calls(self, count: int = 8) -> str:
        if not self.calls:
            return "\nno calls were made"
        lines = [f"  {c.status} {c.method} {_short(c.params)}" for c in self.calls[-count:]]
        return f"\nlast {len(lines)} of {len(self.calls)} calls:\n" + "\n".join(lines)

    # ---------------------------------------------------------------------------- waiting

    async def wait_for(
        self,
        predicate: Callable[[FakeBotAPI], Any],
        timeout: float = 5.0,  # noqa: ASYNC109 -- a test-facing deadline, not a cancel scope
        message: str = "",
    ) -> Any:
        """Wait until ``predicate(fake)`` is truthy and return its value.

        Re-checked on every recorded call and update (plus a slow safety re-check for
        predicates over outside state). On timeout: AssertionError listing the last calls.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate(self)
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                what = message or getattr(predicate, "__name__", "condition")
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}{self._recent_calls()}"
                )
            if self._changed is None:
                self._changed = asyncio.Event()
            try:
                await asyncio.wait_for(self._changed.wait(), min(remaining, _RECHECK_INTERVAL))
            except TimeoutError:
                pass

    async def wait_for_calls(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[Call]:
        """Wait until at least ``count`` calls of ``method`` were recorded; return them all."""
        key = method.lower()

        def enough(fake: FakeBotAPI) -> bool:
            return len(fake._by_method.get(key, ())) >= count

        await self.wait_for(enough, timeout, message=f"{count} call(s) to {method}")
        return self.calls_to(method)

    async def wait_for_message(
        self,
        chat_id: int,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> JSON:
        """Wait until the bot has sent ``count`` messages to ``chat_id``; return the last."""

        def enough(fake: FakeBotAPI) -> bool:
            return len(fake._bot_messages.get(chat_id, ())) >= count

        await self.wait_for(enough, timeout, message=f"{count} message(s) to chat {chat_id}")
        return self.last_message(chat_id)

    # ---------------------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        status: int,
        *,
        times: int = 1,
        retry_after: int | None = None,
        description: str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (``"*"``: any method) with an error.

        429 carries ``parameters.retry_after`` (default 1) so PTB raises ``RetryAfter``; 403
        defaults to "bot was blocked by the user". Failed calls are recorded with their status
        and have no effect (no message is created, no update confirmed).
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        fault = _Fault(status, times, retry_after, description)
        self._faults.setdefault(method.lower(), deque()).append(fault)

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Hold the response of the next ``times`` calls of ``method`` for ``seconds``.

        The call still takes effect (after the delay), like a slow Telegram whose reply the
        client gave up on -- exactly the case that makes retries send duplicates.
        """
        self._delays.setdefault(method.lower(), deque()).append(_Fault(200, times, delay=seconds))

    def hold_next(self, method: str) -> asyncio.Event:
        """Hold the response of the next call of ``method`` until the returned event is set;
        the call takes effect then (a slow Telegram, without a test waiting for a clock)."""
        release = asyncio.Event()
        self._delays.setdefault(method.lower(), deque()).append(_Fault(200, 1, release=release))
        return release

    def delays_left(self, method: str) -> int:
        """Calls of ``method`` that ``delay_next`` will still hold: 0 once every delayed call has
        arrived (and is being held), e.g. to act while a slow request is in flight."""
        return sum(fault.remaining for fault in self._delays.get(method.lower(), ()))

    def error_rate(
        self,
        method: str,
        rates: dict[int, float],
        *,
        seed: int | None = 0,
        retry_after: int = 1,
    ) -> None:
        """Fail calls of ``method`` (``"*"``: any) at random, e.g. ``{429: 0.01, 500: 0.01}``.

        The RNG is seeded so a benchmark/test sees the same failures every run. Pass an empty
        dict to switch it off.
        """
        if rates:
            self._error_rates[method.lower()] = _ErrorRate(rates, seed, retry_after)
        else:
            self._error_rates.pop(method.lower(), None)

    def _take_fault(self, table: dict[str, deque[_Fault]], key: str) -> _Fault | None:
        for name in (key, "*"):
            faults = table.get(name)
            if faults:
                fault = faults[0]
                fault.remaining -= 1
                if fault.remaining <= 0:
                    faults.popleft()
                return fault
        return None

    def _injected_error(self, key: str) -> _ApiError | None:
        fault = self._take_fault(self._faults, key) if self._faults else None
        if fault is not None:
            return _make_error(fault.status, fault.description, fault.retry_after)
        if self._error_rates:
            for name in (key, "*"):
                rate = self._error_rates.get(name)
                if rate is not None:
                    status = rate.draw()
                    if status is not None:
                        return _make_error(status, None, rate.retry_after)
        return None

    # ---------------------------------------------------------------------------- users

    def _user(self, user_id: int, first_name: str | None, language_code: str | None) -> JSON:
        user = self._users.get(user_id)
        if user is None:
            user = {
                "id": user_id,
                "is_bot": False,
                "first_name": first_name or "Test",
                "language_code": language_code or "nl",
            }
            self._users[user_id] = user
        else:
            if first_name is not None:
                user["first_name"] = first_name
            if language_code is not None:
                user["language_code"] = language_code
        return user

    def _chat(self, chat_id: int) -> JSON:
        if chat_id > 0:
            user = self._users.get(chat_id)
            chat: JSON = {"id": chat_id, "type": "private"}
            if user is not None:
                chat["first_name"] = user["first_name"]
            return chat
        return {"id": chat_id, "type": "group", "title": f"Group {-chat_id}"}

    def _next_message_id(self, chat_id: int) -> int:
        # Private chats number messages per chat, shared by both sides.
        message_id = self._chat_counters.get(chat_id, 0) + 1
        self._chat_counters[chat_id] = message_id
        return message_id

    def _user_message(
        self,
        user_id: int,
        content: JSON,
        first_name: str | None = None,
        language_code: str | None = None,
    ) -> int:
        user = self._user(user_id, first_name, language_code)
        message = {
            "message_id": self._next_message_id(user_id),
            "from": user,
            "chat": self._chat(user_id),
            "date": int(time.time()),
            **content,
        }
        self._messages[user_id, message["message_id"]] = message
        return self.push_raw_update({"message": message})

    def user_sends_text(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str = "Test",
        language_code: str = "nl",
        entities: list[JSON] | None = None,
    ) -> int:
        """Queue a private text message; a leading ``/command`` gets a bot_command entity;
        ``entities`` adds formatting (``{"type": "bold", "offset": 0, "length": 4}``)."""
        content: JSON = {"text": text}
        if entities:
            content["entities"] = entities
        elif text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
            ]
        return self._user_message(user_id, content, first_name, language_code)

    def user_presses(self, user_id: int, message_id: int, data: str) -> int:
        """Queue a callback_query for an inline button on the bot's message ``message_id``."""
        message = self._messages.get((user_id, message_id))
        if message is None or not message["from"].get("is_bot"):
            raise AssertionError(
                f"the bot sent no message {message_id} to chat {user_id}; it sent "
                f"{[m['message_id'] for m in self._bot_messages.get(user_id, ())]}"
            )
        query_id = f"{user_id}{self._next_update_id:012d}"
        self._callback_queries.add(query_id)
        return self.push_raw_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self._user(user_id, None, None),
                    "message": _wire_message(message),
                    "chat_instance": str(-user_id),
                    "data": data,
                }
            }
        )

    def user_shares_location(self, user_id: int, lat: float, lon: float) -> int:
        return self._user_message(user_id, {"location": {"latitude": lat, "longitude": lon}})

    def user_sends_sticker(self, user_id: int) -> int:
        file_id, unique = self._new_file(b"RIFF-fake-webp", "stickers/file.webp")
        sticker = {
            "file_id": file_id,
            "file_unique_id": unique,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
            "file_size": 14,
        }
        return self._user_message(user_id, {"sticker": sticker})

    def user_sends_photo(self, user_id: int, caption: str | None = None) -> int:
        content: JSON = {"photo": self._photo_sizes(b"\xff\xd8\xff\xe0fake-jpeg")}
        if caption is not None:
            content["caption"] = caption
        return self._user_message(user_id, content)

    def user_sends_voice(self, user_id: int, duration: int = 3) -> int:
        data = b"OggS-fake-voice"
        file_id, unique = self._new_file(data, "voice/file.oga")
        voice = {
            "file_id": file_id,
            "file_unique_id": unique,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": len(data),
        }
        return self._user_message(user_id, {"voice": voice})

    def user_sends_contact(self, user_id: int, phone: str, *, of_user: int | None = None) -> int:
        """The user's own number (Telegram's contact button), or with `of_user` the contact card
        of someone else."""
        user = self._user(user_id, None, None)
        owner = user_id if of_user is None else of_user
        contact = {"phone_number": phone, "first_name": user["first_name"], "user_id": owner}
        return self._user_message(user_id, {"contact": contact})

    def push_raw_update(self, update: JSON) -> int:
        """Queue any update dict; ``update_id`` is assigned unless present. Returns it."""
        update_id = update.get("update_id")
        if update_id is None:
            update_id = self._next_update_id
            update = {"update_id": update_id, **update}
        self._next_update_id = max(self._next_update_id, update_id + 1)
        self._sent_updates[update_id] = update
        self._enqueue(_Queued(update))
        return update_id

    def redeliver(self, update_id: int) -> int:
        """Queue the very same update again (as Telegram does after a lost confirmation)."""
        try:
            update = self._sent_updates[update_id]
        except KeyError:
            raise AssertionError(f"no update {update_id} was ever queued") from None
        self._enqueue(_Queued(update))
        return update_id

    @property
    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        return len(self._queue)

    def is_pending(self, update_id: int) -> bool:
        """Whether ``update_id`` is queued and not yet confirmed by a getUpdates offset."""
        return any(q.update_id == update_id for q in self._queue)

    def _enqueue(self, queued: _Queued) -> None:
        self._queue.append(queued)
        self._update_arrived.set()
        self._notify()

    async def post_to_webhook(
        self, url: str, update: JSON, secret_token: str | None = None
    ) -> tuple[int, str]:
        """POST ``update`` to a webhook like Telegram does; returns (status, body)."""
        if self._client is None:
            self._client = aiohttp.ClientSession()
        headers = {"Content-Type": "application/json"}
        if secret_token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret_token
        if "update_id" not in update:
            update = {"update_id": self._next_update_id, **update}
            self._next_update_id += 1
        async with self._client.post(url, data=json.dumps(update), headers=headers) as response:
            return response.status, await response.text()

    # ---------------------------------------------------------------------------- files

    def _new_file(self, content: bytes, path: str) -> tuple[str, str]:
        number = len(self._files) + 1
        file_id = f"FAKEFILE{number:08d}"
        file_path = path.replace("file.", f"file_{number}.", 1)
        self._files[file_id] = (content, file_path)
        self._file_paths[file_path] = content
        return file_id, f"U{number:08d}"

    def _photo_sizes(self, content: bytes) -> list[JSON]:
        file_id, unique = self._new_file(content, "photos/file.jpg")
        return [
            {
                "file_id": f"{file_id}s",
                "file_unique_id": f"{unique}s",
                "width": 90,
                "height": 90,
                "file_size": len(content),
            },
            {
                "file_id": file_id,
                "file_unique_id": unique,
                "width": 800,
                "height": 800,
                "file_size": len(content),
            },
        ]

    async def _handle_file(self, request: web.Request) -> web.Response:
        content = self._file_paths.get(request.match_info["path"])
        if content is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=content, content_type="application/octet-stream")

    # ---------------------------------------------------------------------------- HTTP

    async def _read_params(self, request: web.Request) -> tuple[JSON, dict[str, UploadedFile]]:
        params: JSON = {}
        files: dict[str, UploadedFile] = {}
        for key, value in request.query.items():
            params[key] = _decode_param(key, value)
        if not request.body_exists:
            return params, files
        content_type = request.content_type
        if content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = UploadedFile(value.filename, value.file.read(), value.content_type)
                else:
                    params[key] = _decode_param(key, str(value))
        return params, files

    async def _handle(self, request: web.Request) -> web.Response:
        at = time.monotonic()
        token = request.match_info["token"]
        raw_method = request.match_info["method"]
        key = raw_method.lower()
        if token not in self._bot_users:
            self.tokens.append(token)
            self._bot_users[token] = self._make_bot_user(token)
        handler = _HANDLERS.get(key)
        method = handler[0] if handler else raw_method
        try:
            params, files = await self._read_params(request)
        except ValueError:
            params, files = {}, {}
            error: _ApiError | None = _ApiError(400, "Bad Request: can't parse JSON")
        else:
            error = None
        if self._delays:
            delay = self._take_fault(self._delays, key)
            if delay is not None and delay.release is not None:
                await delay.release.wait()
            elif delay is not None:
                await asyncio.sleep(delay.delay)
        if error is None:
            error = self._injected_error(key)
        result: Any = None
        if error is None:
            if handler is None:
                error = _ApiError(404, "Not Found: method not found")
            else:
                try:
                    result = handler[1](self, token, params, files)
                    if isinstance(result, Awaitable):
                        result = await result
                except _ApiError as exc:
                    error = exc
        call = Call(method, params, files, at, error.status if error else 200, token)
        self._record(call)
        if error is not None:
            payload: JSON = {
                "ok": False,
                "error_code": error.status,
                "description": error.description,
            }
            if error.parameters:
                payload["parameters"] = error.parameters
            return web.Response(
                status=error.status, body=json.dumps(payload), content_type="application/json"
            )
        return web.Response(
            body=json.dumps({"ok": True, "result": result}, ensure_ascii=False).encode(),
            content_type="application/json",
        )

    # ---------------------------------------------------------------------------- methods

    def _make_bot_user(self, token: str) -> JSON:
        prefix = token.split(":", 1)[0]
        return {
            "id": int(prefix) if prefix.isdigit() else self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _get_me(self, token: str, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        return {
            **self._bot_users[token],
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(
        self, token: str, params: JSON, files: dict[str, UploadedFile]
    ) -> list[JSON]:
        if self.webhook_url:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0.0, min(50.0, float(params.get("timeout") or 0)))
        queue = self._queue
        if offset < 0:
            # Telegram: a negative offset keeps only the last -offset updates.
            while len(queue) > -offset:
                queue.popleft()
        elif offset:
            # An offset confirms every update below it that a poll already handed out.
            # Never-delivered entries survive, so a redelivered old update still arrives.
            if any(q.delivered and q.update_id < offset for q in queue):
                self._queue = queue = deque(
                    q for q in queue if not (q.delivered and q.update_id < offset)
                )
        if not queue and timeout > 0 and not self._closing:
            self._update_arrived.clear()
            try:
                await asyncio.wait_for(self._update_arrived.wait(), timeout)
            except TimeoutError:
                pass
            queue = self._queue
        batch: list[JSON] = []
        last_id: int | None = None
        for queued in queue:
            # Stop at a drop in update_id: the client confirms with last_id + 1, which must
            # not confirm anything it has not seen (matters for redelivered updates).
            if len(batch) >= limit or (last_id is not None and queued.update_id <= last_id):
                break
            queued.delivered = True
            batch.append(queued.update)
            last_id = queued.update_id
        return batch

    def _store_bot_message(self, token: str, chat_id: Any, content: JSON, params: JSON) -> JSON:
        chat_id = _chat_id(chat_id)
        message: JSON = {
            "message_id": self._next_message_id(chat_id),
            "from": self._bot_users[token],
            "chat": self._chat(chat_id),
            "date": int(time.time()),
            **content,
        }
        markup = params.get("reply_markup")
        if markup:
            _check_markup(markup)
            message["reply_markup"] = markup
        reply_to = params.get("reply_to_message_id") or (params.get("reply_parameters") or {}).get(
            "message_id"
        )
        if reply_to:
            replied = self._messages.get((chat_id, int(reply_to)))
            if replied is None:
                raise _ApiError(400, "Bad Request: message to be replied not found")
            message["reply_to_message"] = _wire_message(replied)
        self._messages[chat_id, message["message_id"]] = message
        self._bot_messages.setdefault(chat_id, []).append(message)
        return _wire_message(message)

    def _formatted(self, params: JSON, key: str, entities_key: str, limit: int) -> JSON:
        text = params.get(key)
        if text is None:
            return {}
        text = str(text)
        entities = params.get(entities_key)
        if self.parse_html and str(params.get("parse_mode", "")).lower() == "html":
            text, entities = _parse_html(text)
        if len(text) > limit:
            what = "message" if key == "text" else "message caption"
            raise _ApiError(400, f"Bad Request: {what} is too long")
        content: JSON = {key: text}
        if entities:
            content[entities_key] = entities
        return content

    def _send_message(self, token: str, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        content = self._formatted(params, "text", "entities", 4096)
        if not content.get("text", "").strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if "link_preview_options" in params:
            content["link_preview_options"] = params["link_preview_options"]
        return self._store_bot_message(token, params.get("chat_id"), content, params)

    def _send_photo(self, token: str, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        upload = files.get("photo")
        if upload is None and not params.get("photo"):
            raise _ApiError(400, "Bad Request: there is no photo in the request")
        content: JSON = {
            "photo": self._photo_sizes(upload.content if upload else b""),
            **self._formatted(params, "caption", "caption_entities", 1024),
        }
        return self._store_bot_message(token, params.get("chat_id"), content, params)

    def _send_document(self, token: str, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        upload = files.get("document")
        if upload is None and not params.get("document"):
            raise _ApiError(400, "Bad Request: there is no document in the request")
        data = upload.content if upload else b""
        file_name = (upload.filename if upload else None) or "file"
        file_id, unique = self._new_file(data, f"documents/file.{file_name}")
        document = {
            "file_id": file_id,
            "file_unique_id": unique,
            "file_name": file_name,
            "mime_type": (upload.mime_type if upload else None) or "application/octet-stream",
            "file_size": len(data),
        }
        content: JSON = {
            "document": document,
            **self._formatted(params, "caption", "caption_entities", 1024),
        }
        return self._store_bot_message(token, params.get("chat_id"), content, params)

    def _target(self, params: JSON, verb: str) -> JSON:
        if params.get("inline_message_id"):
            raise _ApiError(400, "Bad Request: inline messages are not supported by the fake")
        chat_id = _chat_id(params.get("chat_id"))
        message = self._messages.get((chat_id, int(params.get("message_id") or 0)))
        if message is None or (chat_id, message["message_id"]) in self.deleted:
            raise _ApiError(400, f"Bad Request: message to {verb} not found")
        return message

    def _edit_message_text(self, token: str, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        message = self._target(params, "edit")
        if message["from"].get("id") != self._bot_users[token]["id"]:
            raise _ApiError(400, "Bad Request: message can't be edited")
        content = self._formatted(params, "text", "entities", 4096)
        if not content.get("text", "").strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if "text" not in message:
            raise _ApiError(400, "Bad Request: there is no text in the message to edit")
        markup = params.get("reply_markup") or None
        if markup:
            _check_markup(markup)
        if (
            content["text"] == message.get("text")
            and content.get("entities") == message.get("entities")
            and markup == message.get("reply_markup")
        ):
            raise _ApiError(400, _NOT_MODIFIED)
        message["text"] = content["text"]
        message.pop("entities", None)
        if "entities" in content:
            message["entities"] = content["entities"]
        # Telegram: an edit without reply_markup removes the inline keyboard.
        if markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        message["edit_date"] = int(time.time())
        return _wire_message(message)

    def _edit_message_reply_markup(
        self, token: str, params: JSON, files: dict[str, UploadedFile]
    ) -> JSON:
        message = self._target(params, "edit")
        markup = params.get("reply_markup") or None
        if markup:
            _check_markup(markup)
        if markup == message.get("reply_markup"):
            raise _ApiError(400, _NOT_MODIFIED)
        if markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        message["edit_date"] = int(time.time())
        return _wire_message(message)

    def _delete_message(self, token: str, params: JSON, files: dict[str, UploadedFile]) -> bool:
        message = self._target(params, "delete")
        self.deleted.add((message["chat"]["id"], message["message_id"]))
        return True

    def _answer_callback_query(
        self, token: str, params: JSON, files: dict[str, UploadedFile]
    ) -> bool:
        if str(params.get("callback_query_id")) not in self._callback_queries:
            raise _ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        return True

    def _true(self, token: str, params: JSON, files: dict[str, UploadedFile]) -> bool:
        return True

    def _send_chat_action(self, token: str, params: JSON, files: dict[str, UploadedFile]) -> bool:
        if not params.get("action"):
            raise _ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    def _set_webhook(self, token: str, params: JSON, files: dict[str, UploadedFile]) -> bool:
        self.webhook_url = str(params.get("url") or "")
        self.webhook_secret_token = params.get("secret_token") or None
        if params.get("drop_pending_updates"):
            self._queue.clear()
        return True

    def _delete_webhook(self, token: str, params: JSON, files: dict[str, UploadedFile]) -> bool:
        self.webhook_url = ""
        self.webhook_secret_token = None
        if params.get("drop_pending_updates"):
            self._queue.clear()
        return True

    def _get_webhook_info(self, token: str, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }

    @staticmethod
    def _commands_key(params: JSON) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _set_my_commands(self, token: str, params: JSON, files: dict[str, UploadedFile]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _ApiError(400, 'Bad Request: parameter "commands" is required')
        self.commands[self._commands_key(params)] = commands
        return True

    def _get_my_commands(
        self, token: str, params: JSON, files: dict[str, UploadedFile]
    ) -> list[JSON]:
        return self.commands.get(self._commands_key(params), [])

    def _delete_my_commands(self, token: str, params: JSON, files: dict[str, UploadedFile]) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    def _get_file(self, token: str, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        file_id = str(params.get("file_id") or "")
        base_id = file_id.removesuffix("s") if file_id not in self._files else file_id
        stored = self._files.get(base_id)
        if stored is None:
            raise _ApiError(400, "Bad Request: invalid file_id")
        content, path = stored
        return {
            "file_id": file_id,
            "file_unique_id": f"U{base_id[-8:]}",
            "file_size": len(content),
            "file_path": path,
        }


def _chat_id(value: Any) -> int:
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        raise _ApiError(400, "Bad Request: chat not found") from None


def _check_markup(markup: Any) -> None:
    # Catch what Telegram rejects, so it fails in tests rather than in production.
    if not isinstance(markup, dict):
        raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", ()):
        for button in row:
            if not button.get("text"):
                raise _ApiError(
                    400, "Bad Request: text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")


def _wire_message(message: JSON) -> JSON:
    """The message as Telegram returns it: only inline keyboards are echoed back."""
    markup = message.get("reply_markup")
    if markup is None or "inline_keyboard" in markup:
        return message
    return {k: v for k, v in message.items() if k != "reply_markup"}


def _make_error(status: int, description: str | None, retry_after: int | None) -> _ApiError:
    parameters = None
    if status == 429:
        retry_after = 1 if retry_after is None else retry_after
        parameters = {"retry_after": retry_after}
        description = description or f"Too Many Requests: retry after {retry_after}"
    description = description or _DEFAULT_DESCRIPTIONS.get(status, f"Error {status}")
    return _ApiError(status, description, parameters)


def _short(params: JSON, width: int = 120) -> str:
    text = json.dumps(params, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[: width - 3] + "..."


_Handler = Callable[[FakeBotAPI, str, JSON, dict[str, UploadedFile]], Any]


def _table(entries: Iterable[tuple[str, _Handler]]) -> dict[str, tuple[str, _Handler]]:
    # Telegram matches method names case-insensitively; keep the canonical name for records.
    return {name.lower(): (name, handler) for name, handler in entries}


_HANDLERS = _table(
    [
        ("getMe", FakeBotAPI._get_me),
        ("getUpdates", FakeBotAPI._get_updates),
        ("sendMessage", FakeBotAPI._send_message),
        ("sendPhoto", FakeBotAPI._send_photo),
        ("sendDocument", FakeBotAPI._send_document),
        ("editMessageText", FakeBotAPI._edit_message_text),
        ("editMessageReplyMarkup", FakeBotAPI._edit_message_reply_markup),
        ("deleteMessage", FakeBotAPI._delete_message),
        ("answerCallbackQuery", FakeBotAPI._answer_callback_query),
        ("sendChatAction", FakeBotAPI._send_chat_action),
        ("setWebhook", FakeBotAPI._set_webhook),
        ("deleteWebhook", FakeBotAPI._delete_webhook),
        ("getWebhookInfo", FakeBotAPI._get_webhook_info),
        ("setMyCommands", FakeBotAPI._set_my_commands),
        ("getMyCommands", FakeBotAPI._get_my_commands),
        ("deleteMyCommands", FakeBotAPI._delete_my_commands),
        ("getFile", FakeBotAPI._get_file),
        ("close", FakeBotAPI._true),
        ("logOut", FakeBotAPI._true),
    ]
)
