"""The optional speedups (bot/speedups.py) change nothing but speed: the Bot API's answers parse
the same, a broken answer is the same error, and SPEEDUPS=0 switches them off."""

from __future__ import annotations

import asyncio

import pytest
from telegram.error import TelegramError
from telegram.request import BaseRequest

from bot import speedups
from bot.transport.aiohttp_request import AiohttpRequest

ANSWER = '{"ok":true,"result":{"message_id":7,"text":"Hoe gaat het? \\u00e9\\ud83d\\ude00"}}'


def test_answers_parse_as_with_ptb_and_a_broken_one_is_the_same_error() -> None:
    payload = ANSWER.encode()
    assert AiohttpRequest.parse_json_payload(payload) == BaseRequest.parse_json_payload(payload)
    for broken in (b"<html>502 Bad Gateway</html>", b'{"ok": tru', b"\xff\xfe"):
        with pytest.raises(TelegramError, match="Invalid server response"):
            AiohttpRequest.parse_json_payload(broken)


def test_speedups_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    async def loop_name() -> str:
        return type(asyncio.get_running_loop()).__module__

    monkeypatch.setenv("SPEEDUPS", "0")
    assert speedups.json_loads() is None
    assert speedups.run(loop_name()).startswith("asyncio")
    monkeypatch.delenv("SPEEDUPS")
    uvloop = pytest.importorskip("uvloop")
    assert speedups.run(loop_name()) == uvloop.Loop.__module__
