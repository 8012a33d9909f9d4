"""The fake Bot API works with the real python-telegram-bot stack (default httpx request)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    EndPointNotFound,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakebotapi import FakeBotAPI

# RetryAfter warns that `retry_after` becomes a timedelta in PTB 23; not our concern here.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

TOKEN = "123:ABC"
USER = 42


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=fake.base_url, base_file_url=fake.base_file_url) as client:
        yield client


KEYBOARD = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Ja", callback_data="yes"),
            InlineKeyboardButton("Nee", callback_data="no"),
        ]
    ]
)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None and update.message.text is not None
    await update.message.reply_text(f"echo: {update.message.text}", reply_markup=KEYBOARD)


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("ok")
    await query.edit_message_text(f"you chose {query.data}")


@pytest.fixture
async def app(fake: FakeBotAPI) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    application = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, echo))
    application.add_handler(CallbackQueryHandler(pressed))
    await application.initialize()
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0, timeout=1)
    try:
        yield application
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()


async def test_echo_and_button_round_trip(fake: FakeBotAPI, app: Application) -> None:  # type: ignore[type-arg]
    assert fake.calls_to("getMe"), "PTB calls getMe on initialize"
    assert fake.tokens == [TOKEN]

    fake.user_sends_text(USER, "hallo")
    reply = await fake.wait_for_message(USER)
    assert reply["text"] == "echo: hallo"
    assert reply["chat"] == {"id": USER, "type": "private", "first_name": "Test"}
    assert reply["reply_markup"]["inline_keyboard"][0][0] == {"text": "Ja", "callback_data": "yes"}
    # The user's message took id 1, the bot's reply id 2: one counter per chat, as in Telegram.
    assert reply["message_id"] == 2
    call = fake.calls_to("sendMessage")[0]
    assert call.params["chat_id"] == USER and isinstance(call.params["reply_markup"], dict)

    fake.user_presses(USER, reply["message_id"], "yes")
    await fake.wait_for_calls("editMessageText", 1)
    answer = fake.calls_to("answerCallbackQuery")[0]
    assert answer.params["text"] == "ok"
    edited = fake.last_message(USER)
    assert edited["text"] == "you chose yes"
    assert "reply_markup" not in edited, "an edit without markup removes the keyboard"
    assert "edit_date" in edited
    assert [m["message_id"] for m in fake.sent_messages(USER)] == [2]


async def test_commands_get_an_entity_and_unknown_press_is_refused(
    fake: FakeBotAPI,
    app: Application,  # type: ignore[type-arg]
) -> None:
    update_id = fake.user_sends_text(USER, "/start now", first_name="Anna")
    entities = fake._sent_updates[update_id]["message"]["entities"]
    assert entities == [{"type": "bot_command", "offset": 0, "length": 6}]
    await fake.wait_for_message(USER)
    with pytest.raises(AssertionError, match="no message 99"):
        fake.user_presses(USER, 99, "yes")


async def test_other_update_kinds_parse_in_ptb(fake: FakeBotAPI, app: Application) -> None:  # type: ignore[type-arg]
    seen: list[Update] = []

    async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update)

    app.add_handler(MessageHandler(filters.UpdateType.MESSAGE & ~filters.TEXT, record), group=1)
    fake.user_shares_location(USER, 52.37, 4.89)
    fake.user_sends_sticker(USER)
    fake.user_sends_photo(USER)
    fake.user_sends_voice(USER)
    fake.user_sends_contact(USER, "+31612345678")
    fake.push_raw_update(
        {"edited_message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}
    )
    await fake.wait_for(lambda f: len(seen) == 5, message="five non-text messages")
    messages = [u.message for u in seen]
    assert all(isinstance(m, Message) for m in messages)
    assert messages[0].location.latitude == 52.37  # type: ignore[union-attr]
    assert messages[1].sticker is not None and messages[2].photo and messages[3].voice
    assert messages[4].contact.phone_number == "+31612345678"  # type: ignore[union-attr]


async def test_long_poll_returns_promptly_when_an_update_arrives(fake: FakeBotAPI) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"{fake.base_url}{TOKEN}/getUpdates"

        async def poll(**params: int) -> list[dict]:  # type: ignore[type-arg]
            async with session.post(url, json=params) as response:
                return (await response.json())["result"]

        started = time.monotonic()
        assert await poll(timeout=0) == []
        waiting = asyncio.create_task(poll(timeout=10))
        await fake.wait_for_calls("getUpdates", 1)  # only the first poll is recorded so far
        await asyncio.sleep(0.05)  # let the poll reach its wait
        update_id = fake.user_sends_text(USER, "ping")
        batch = await asyncio.wait_for(waiting, 2)
        assert [u["update_id"] for u in batch] == [update_id]
        assert time.monotonic() - started < 2

        # Not confirmed yet: delivered again. Confirmed by offset: gone.
        assert [u["update_id"] for u in await poll(timeout=0)] == [update_id]
        assert await poll(offset=update_id + 1, timeout=0) == []
        assert fake.pending_updates == 0

        # Redelivery hands out the very same update again, in its own batch.
        second = fake.user_sends_text(USER, "pong")
        fake.redeliver(update_id)
        first_batch = await poll(offset=update_id + 1, timeout=0)
        assert [u["update_id"] for u in first_batch] == [second]
        again = await poll(offset=second + 1, timeout=0)
        assert again == [fake._sent_updates[update_id]]
        assert await poll(offset=update_id + 1, timeout=0) == []

        # limit is honoured; a timed-out empty poll takes about its timeout.
        for text in ("a", "b", "c"):
            fake.user_sends_text(USER, text)
        assert len(await poll(limit=2, timeout=0)) == 2
        fake._queue.clear()
        started = time.monotonic()
        assert await poll(timeout=1) == []
        assert 0.9 < time.monotonic() - started < 2


async def test_retry_after_forbidden_and_other_errors(fake: FakeBotAPI, bot: Bot) -> None:
    fake.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(RetryAfter) as excinfo:
        await bot.send_message(USER, "hoi")
    # PTB 22 gives int seconds, a later major version a timedelta: accept both.
    retry_after = excinfo.value.retry_after
    assert getattr(retry_after, "total_seconds", lambda: retry_after)() == 7

    fake.fail_next("SENDMESSAGE", 403)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER, "hoi")

    fake.fail_next("sendMessage", 400, description="Bad Request: chat not found")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(USER, "hoi")
    fake.fail_next("*", 502)
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "hoi")
    fake.fail_next("sendMessage", 500, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.send_message(USER, "hoi")

    sent = await bot.send_message(USER, "eindelijk")
    assert sent.message_id == 1, "failed calls create no messages"
    statuses = [c.status for c in fake.calls_to("sendMessage")]
    assert statuses == [429, 403, 400, 502, 500, 500, 200]
    assert len(fake.sent_messages(USER)) == 1

    # Unknown methods get Telegram's 404, which PTB's do_api_request reports as this.
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": USER})
    assert fake.calls[-1].status == 404 and fake.calls[-1].method == "sendTelepathy"


async def test_error_rate_is_seeded_and_delay_provokes_timeouts(fake: FakeBotAPI, bot: Bot) -> None:
    async def outcomes() -> list[str]:
        results = []
        for _ in range(40):
            try:
                await bot.send_chat_action(USER, "typing")
                results.append("ok")
            except RetryAfter:
                results.append("429")
            except NetworkError:
                results.append("500")
        return results

    fake.error_rate("sendChatAction", {429: 0.2, 500: 0.2}, seed=3)
    first = await outcomes()
    fake.error_rate("sendChatAction", {429: 0.2, 500: 0.2}, seed=3)
    assert await outcomes() == first
    assert {"ok", "429", "500"} <= set(first)
    fake.error_rate("sendChatAction", {})

    fake.delay_next("sendMessage", 0.5)
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "traag", read_timeout=0.1)
    # Like a slow Telegram, the message was still sent once the delay was over.
    await fake.wait_for_message(USER)
    assert fake.last_message(USER)["text"] == "traag"


async def test_uploads_html_and_edits(fake: FakeBotAPI, bot: Bot) -> None:
    data = b"%PDF-1.4 zorgplan"
    message = await bot.send_document(
        USER,
        InputFile(data, filename="zorgplan.pdf"),
        caption="Je <b>zorgplan</b>",
        parse_mode=ParseMode.HTML,
    )
    assert message.document is not None and message.document.file_name == "zorgplan.pdf"
    assert message.caption == "Je zorgplan" and message.caption_entities[0].type == "bold"
    upload = fake.calls_to("sendDocument")[0].files["document"]
    assert (upload.filename, upload.content, upload.mime_type) == (
        "zorgplan.pdf",
        data,
        "application/pdf",
    )
    file = await bot.get_file(message.document.file_id)
    assert bytes(await file.download_as_bytearray()) == data

    photo = await bot.send_photo(USER, InputFile(b"\xff\xd8jpeg", filename="p.jpg"), caption="foto")
    assert photo.photo and photo.caption == "foto"

    sent = await bot.send_message(
        USER,
        "Hoi <i>Anna</i> &amp; 👋 <b>jij</b>",
        parse_mode=ParseMode.HTML,
        reply_markup=KEYBOARD,
    )
    assert sent.text == "Hoi Anna & 👋 jij"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("italic", 4, 4),
        ("bold", 14, 3),  # the emoji counts as two UTF-16 units
    ]
    assert sent.reply_markup == KEYBOARD
    with pytest.raises(BadRequest, match=r"(?i)unsupported start tag"):
        await bot.send_message(USER, "regel<br>regel", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)find end tag"):
        await bot.send_message(USER, "<b>open", parse_mode=ParseMode.HTML)

    assert await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=None)
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=None)
    assert await bot.delete_message(USER, sent.message_id)
    assert fake.is_deleted(USER, sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", USER, sent.message_id)
    assert [m["message_id"] for m in fake.sent_messages(USER)] == [1, 2, 3]


async def test_webhook_commands_and_misc(fake: FakeBotAPI, bot: Bot) -> None:
    received: list[tuple[str | None, dict]] = []  # type: ignore[type-arg]

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        url = f"http://127.0.0.1:{port}/hook"
        fake.user_sends_text(USER, "queued")
        assert await bot.set_webhook(url, secret_token="s3cret")
        assert (fake.webhook_url, fake.webhook_secret_token) == (url, "s3cret")
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 1
        status, body = await fake.post_to_webhook(url, {"message": {"text": "x"}}, "s3cret")
        assert (status, body) == (200, "ok")
        assert received[0][0] == "s3cret" and "update_id" in received[0][1]
        assert await bot.delete_webhook(drop_pending_updates=True)
        assert fake.pending_updates == 0 and fake.webhook_url == ""
    finally:
        await runner.cleanup()

    await bot.set_my_commands([("start", "Begin"), ("help", "Hulp")], language_code="nl")
    commands = await bot.get_my_commands(language_code="nl")
    assert [c.command for c in commands] == ["start", "help"]
    assert await bot.get_my_commands() == ()
    await bot.delete_my_commands(language_code="nl")
    assert await bot.get_my_commands(language_code="nl") == ()
    assert await bot.send_chat_action(USER, "typing")
    assert await bot.log_out() and await bot.close()


async def test_wait_for_fails_with_the_recent_calls(fake: FakeBotAPI, bot: Bot) -> None:
    await bot.send_message(USER, "enige bericht")
    with pytest.raises(AssertionError, match=r"(?s)2 call\(s\) to sendMessage.*enige bericht"):
        await fake.wait_for_calls("sendMessage", 2, timeout=0.2)
    with pytest.raises(AssertionError, match="sent nothing to chat 7"):
        fake.last_message(7)
