"""The Sender's lean Bot API calls (answerCallbackQuery, editMessageText, sendMessage without PTB
objects): the same requests, and Telegram's errors still mean what the Sender needs (RetryAfter
waits and retries, Forbidden is blocked, BadRequest is final, 5xx and timeouts are retried)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from bot.engine.output import Button, OutMessage
from bot.transport.aiohttp_request import AiohttpRequest
from bot.transport.sender import Sender
from tests.fakebotapi import FakeBotAPI

TOKEN = "123456:TEST-token-for-the-fake-api-00000"
USER = 4242
QUESTION = OutMessage("Hoe gaat het?", ((Button("Goed", "q:1"), Button("Slecht", "q:2")),))


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    request = AiohttpRequest(connection_pool_size=8, read_timeout=0.3)
    async with Bot(TOKEN, base_url=fake.base_url, request=request) as client:
        yield client


def sender_for(bot: Bot, blocked: list[int] | None = None) -> Sender:
    async def on_blocked(chat_id: int) -> None:
        assert blocked is not None
        blocked.append(chat_id)

    return Sender(bot, rate=1000, on_blocked=on_blocked, max_attempts=3, backoff=0)


async def test_a_question_goes_out_as_before_and_its_id_comes_back(
    fake: FakeBotAPI, bot: Bot
) -> None:
    fake.user_sends_text(USER, "/start")
    outcome = await sender_for(bot).send(USER, QUESTION)
    sent = fake.last_message(USER)
    assert outcome.status == "sent" and outcome.message_id == sent["message_id"]
    assert sent["text"] == "Hoe gaat het?"
    assert sent["reply_markup"] == {"inline_keyboard": [[
        {"text": "Goed", "callback_data": "q:1"}, {"text": "Slecht", "callback_data": "q:2"},
    ]]}  # fmt: skip
    params = fake.calls_to("sendMessage")[-1].params
    assert params["parse_mode"] == "HTML"
    assert params["link_preview_options"] == {"is_disabled": True}


async def test_retry_after_waits_and_sends_once(fake: FakeBotAPI, bot: Bot) -> None:
    fake.user_sends_text(USER, "/start")
    fake.fail_next("sendMessage", 429, retry_after=0)
    outcome = await sender_for(bot).send(USER, QUESTION)
    assert outcome.status == "sent"
    assert [c.status for c in fake.calls_to("sendMessage")] == [429, 200]
    assert len(fake.sent_messages(USER)) == 1


async def test_forbidden_is_blocked_and_not_retried(fake: FakeBotAPI, bot: Bot) -> None:
    fake.user_sends_text(USER, "/start")
    blocked: list[int] = []
    fake.fail_next("sendMessage", 403)
    outcome = await sender_for(bot, blocked).send(USER, QUESTION)
    assert (outcome.status, outcome.error) == ("blocked", "forbidden")
    assert blocked == [USER]
    assert len(fake.calls_to("sendMessage")) == 1


async def test_bad_request_is_final(fake: FakeBotAPI, bot: Bot) -> None:
    fake.user_sends_text(USER, "/start")
    fake.fail_next("sendMessage", 400, description="Bad Request: chat not found")
    outcome = await sender_for(bot).send(USER, QUESTION)
    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error.startswith("bad_request: ")
    assert "chat not found" in outcome.error.lower()
    assert len(fake.calls_to("sendMessage")) == 1


async def test_server_errors_and_timeouts_are_retried(fake: FakeBotAPI, bot: Bot) -> None:
    fake.user_sends_text(USER, "/start")
    fake.fail_next("sendMessage", 502)
    assert (await sender_for(bot).send(USER, QUESTION)).status == "sent"
    fake.delay_next("sendMessage", 1.0)  # longer than the read timeout: TimedOut
    outcome = await Sender(bot, rate=1000, max_attempts=1, backoff=0).send(USER, QUESTION)
    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error.startswith("TimedOut")


async def test_marking_a_pressed_question_edits_it_and_an_error_is_not_raised(
    fake: FakeBotAPI, bot: Bot
) -> None:
    fake.user_sends_text(USER, "/start")
    sender = sender_for(bot)
    sent = await sender.send(USER, QUESTION)
    assert sent.message_id is not None
    await sender.mark_pressed(USER, sent.message_id, "Hoe gaat het?", "Goed")
    edited = fake.message(USER, sent.message_id)
    assert edited["text"] == "Hoe gaat het?\n\n→ Goed"
    assert "reply_markup" not in fake.calls_to("editMessageText")[-1].params
    fake.fail_next("editMessageText", 400, description="Bad Request: message to edit not found")
    await sender.mark_pressed(USER, 999, "Weg", "Goed")  # logged, not raised
    fake.fail_next("editMessageText", 400, description="Bad Request: message is not modified")
    outcome = await sender.edit(USER, sent.message_id, QUESTION)
    assert (outcome.status, outcome.message_id) == ("sent", sent.message_id)


async def test_answering_a_press_sends_its_toast_and_an_old_query_is_no_error(
    fake: FakeBotAPI, bot: Bot
) -> None:
    fake.user_sends_text(USER, "/start")
    sender = sender_for(bot)
    sent = await sender.send(USER, QUESTION)
    assert sent.message_id is not None
    fake.user_presses(USER, sent.message_id, "q:1")
    (press,) = [u for u in await bot.get_updates(timeout=0) if u.callback_query is not None]
    assert press.callback_query is not None
    query_id = press.callback_query.id
    await sender.answer_callback(query_id, "Opgeslagen")
    assert fake.calls_to("answerCallbackQuery")[-1].params == {
        "callback_query_id": query_id, "text": "Opgeslagen"
    }  # fmt: skip
    await sender.answer_callback("no-such-query")  # 400 from Telegram: logged, not raised
    assert fake.calls_to("answerCallbackQuery")[-1].status == 400
