"""Hardened edges: flood protection, logs without content, and random updates through the stack."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.clock import FakeClock
from bot.db.models import Answer
from bot.logs import configure_logging
from bot.transport.flood import FloodGuard
from tests.conversation import TelegramUser
from tests.fakebotapi import FakeBotAPI
from tests.harness import BotHarness


@pytest.fixture
async def harness(fake: FakeBotAPI, sqlite_url: str, clock: FakeClock) -> AsyncIterator[BotHarness]:
    bot = BotHarness(fake, sqlite_url, clock)
    await bot.start()
    yield bot
    await bot.stop()


def test_flood_guard_lets_the_limit_through_then_notifies_once_then_drops() -> None:
    now = [0.0]
    guard = FloodGuard(limit=5, window=60.0, clock=lambda: now[0])
    assert [guard.check(1) for _ in range(5)] == ["ok"] * 5
    assert guard.check(1) == "notify"
    assert guard.check(1) == "drop"
    assert guard.check(2) == "ok"  # others are not affected
    now[0] = 61.0
    assert guard.check(1) == "ok"  # a minute later the user is heard again


async def test_a_flooding_user_gets_one_polite_notice_and_others_are_not_affected(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    flooder, other = TelegramUser(fake, harness, 701), TelegramUser(fake, harness, 702)
    for _ in range(45):
        await flooder.says("hallo?")
    texts = [m["text"] for m in flooder.messages()]
    notices = [t for t in texts if "veel berichten snel achter elkaar" in t]
    assert len(notices) == 1
    assert len(texts) <= 2 * 30 + 1  # at most the limit was handled (a reply may be 2 messages)
    await other.says("/hulp")
    assert "0800-0113" in other.last_text


async def test_a_whole_conversation_leaves_no_typed_text_or_answer_in_the_logs(
    fake: FakeBotAPI, harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    configure_logging("DEBUG")
    caplog.set_level(logging.DEBUG)
    user = TelegramUser(fake, harness, 703)
    secret_words = "mijn moeder heeft alzheimer en ik slaap slecht"
    await user.says("/start")
    await user.taps("Nederlands")
    await user.taps("Ja, dat mag")
    await user.says("/zelftest")
    await user.says(secret_words)
    for answer in ["Ja, vaak", "Soms", "Nee"]:
        await user.taps(answer)
    fake.fail_next("sendMessage", 400, description="Bad Request: something")
    await user.taps("Ja, vaak")
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert caplog.records  # the conversation was logged ...
    for typed in (secret_words, "Ja, vaak", "Vraag 3 van 10", "Heb je door het zorgen"):
        assert typed not in logged  # ... without what was typed, answered or asked
    logging.getLogger().setLevel(logging.WARNING)


def _update(kind: str, user_id: int, text: str, data: str) -> dict[str, Any]:
    base: dict[str, Any] = {
        "message_id": 1, "date": 0, "chat": {"id": user_id, "type": "private"},
        "from": {"id": user_id, "is_bot": False, "first_name": "F"},
    }  # fmt: skip
    if kind == "text":
        return {"message": {**base, "text": text}}
    if kind == "command":
        command = [{"type": "bot_command", "offset": 0, "length": 1}]
        return {"message": {**base, "text": "/" + text, "entities": command}}
    if kind == "no_sender":
        return {"message": {k: v for k, v in base.items() if k != "from"} | {"text": text}}
    if kind == "group":
        return {
            "message": {**base, "chat": {"id": -5, "type": "group", "title": "g"}, "text": text}
        }
    if kind == "edited":
        return {"edited_message": {**base, "text": text}}
    if kind == "callback":
        return {"callback_query": {"id": "cq", "from": base["from"], "chat_instance": "x",
                                   "data": data}}  # fmt: skip
    if kind == "unknown_type":
        return {"future_update_kind": {"anything": text}}
    if kind == "location":
        return {"message": {**base, "location": {"latitude": 91.5, "longitude": -200.0}}}
    kicked = {"status": "kicked", "user": base["from"], "until_date": 0}
    member = {"chat": base["chat"], "from": base["from"], "date": 0,
              "old_chat_member": {"status": "member", "user": base["from"]},
              "new_chat_member": kicked}  # fmt: skip
    return {"my_chat_member": member}


KINDS = ["text", "command", "no_sender", "group", "edited", "callback", "unknown_type", "location",
         "member"]  # fmt: skip


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kind=st.sampled_from(KINDS),
    user_id=st.integers(min_value=1, max_value=3),
    text=st.one_of(st.text(max_size=50), st.text(min_size=4000, max_size=6000)),
    data=st.one_of(
        st.text(max_size=64), st.just("q:selfcheck:0:0"), st.just("o:consent:yes:zelftest")
    ),
)
async def test_random_updates_never_crash_the_bot_or_corrupt_state(
    fake: FakeBotAPI, harness: BotHarness, kind: str, user_id: int, text: str, data: str
) -> None:
    errors: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = errors.append  # type: ignore[method-assign]
    handler.setLevel(logging.ERROR)
    logging.getLogger().addHandler(handler)
    try:
        await harness.processed(fake.push_raw_update(_update(kind, user_id, text, data)))
    finally:
        logging.getLogger().removeHandler(handler)
    assert not errors, [r.getMessage() for r in errors]
    assert harness.core is not None
    async with harness.core.db.transaction() as session:
        # Answers only exist with a consistent, known value for a known question.
        for value, question in (
            await session.execute(select(Answer.value, Answer.question_id))
        ).all():
            options = harness.core.content.dialogs["selfcheck"].steps[question].options
            assert value in {o.value for o in options}
        assert await session.scalar(select(func.count()).select_from(Answer)) is not None


async def test_an_update_that_fails_on_a_bug_still_gets_an_answer_and_nobody_else_suffers(
    fake: FakeBotAPI, harness: BotHarness
) -> None:
    assert harness.core is not None

    async def broken(ctx: Any, event: Any) -> Any:
        raise RuntimeError("a bug in one feature")

    harness.core.registry.commands["kapot"] = broken
    anna, bert = TelegramUser(fake, harness, 7301), TelegramUser(fake, harness, 7302)
    await anna.says("/kapot")
    assert "daar ging bij mij iets mis" in anna.last_text
    assert "inline_keyboard" in anna.messages()[-1]["reply_markup"]  # the menu, a way on
    await bert.says("/start")  # everybody else goes on as usual
    assert "In welke taal" in bert.last_text or "Nederlands" in str(bert.messages()[-1])
