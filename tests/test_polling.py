"""Polling in `run` (bot/transport/polling.py) through the real PTB stack and the fake Bot API:
a slow reply holds up nobody else, a caregiver's own messages are still handled in order, and an
update is confirmed to Telegram only once it is handled. On SQLite and PostgreSQL."""

from __future__ import annotations

from tests.conversation import TelegramUser
from tests.fakebotapi import FakeBotAPI
from tests.harness import BotHarness


def reply_held(fake: FakeBotAPI) -> bool:
    return fake.delays_left("sendMessage") == 0


async def test_a_slow_reply_holds_up_nobody_else_and_stays_unconfirmed_until_it_is_sent(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    anna, ben = TelegramUser(fake, harness, 601), TelegramUser(fake, harness, 602)
    slow_telegram = fake.hold_next("sendMessage")
    first = anna.starts_saying("/taal")
    await fake.wait_for(reply_held)  # Anna's reply is on its way and Telegram is slow
    await ben.says("/taal")
    assert "In welke taal" in ben.last_text
    assert anna.messages() == []
    assert fake.is_pending(first)  # not confirmed: after a crash now it would come again
    slow_telegram.set()
    await harness.processed(first)
    assert "In welke taal" in anna.last_text
    await fake.wait_for(lambda f: not f.is_pending(first))


async def test_a_caregivers_next_message_waits_for_the_reply_to_their_first(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    anna, ben = TelegramUser(fake, harness, 603), TelegramUser(fake, harness, 604)
    slow_telegram = fake.hold_next("sendMessage")
    anna.starts_saying("/taal")
    await fake.wait_for(reply_held)
    second = anna.starts_saying("/start")
    await ben.says("/taal")  # fetched after Anna's second message, so that one is in hand too
    assert anna.messages() == []  # her second waits for the reply to her first
    slow_telegram.set()
    await harness.processed(second)
    language, *start = anna.messages()
    assert "In welke taal" in language["text"]
    assert len(start) == 2  # /start's two messages, after the first reply
