"""The optional speedups (bot/speedups.py) change nothing but speed: the Bot API's answers parse
the same, a broken answer is the same error, and SPEEDUPS=0 switches them off."""

from __future__ import annotations

import asyncio

import pytest
from telegram.error import TelegramError
from telegram.request import BaseRequest

from bot import speedups
from bot.config import SettingsError, load_settings
from bot.transport.aiohttp_request import AiohttpRequest

ANSWER = '{"ok":true,"result":{"message_id":7,"text":"Hoe gaat het? \\u00e9\\ud83d\\ude00"}}'


@pytest.mark.parametrize("fast_json", [True, False])
def test_answers_parse_as_with_ptb_and_a_broken_one_is_the_same_error(fast_json: bool) -> None:
    request = AiohttpRequest(fast_json=fast_json)
    payload = ANSWER.encode()
    assert request.parse_json_payload(payload) == BaseRequest.parse_json_payload(payload)
    for broken in (b"<html>502 Bad Gateway</html>", b'{"ok": tru', b"\xff\xfe"):
        with pytest.raises(TelegramError, match="Invalid server response"):
            request.parse_json_payload(broken)


def test_speedups_are_a_setting_and_can_be_switched_off() -> None:
    async def loop_name() -> str:
        return type(asyncio.get_running_loop()).__module__

    env = {"TELEGRAM_BOT_TOKEN": "123456:TEST-token-for-the-fake-api-000"}
    assert load_settings(env, dotenv=None).speedups
    off = load_settings({**env, "SPEEDUPS": "0"}, dotenv=None)
    assert not off.speedups
    assert speedups.json_loads(enabled=off.speedups) is None
    assert speedups.run(loop_name(), enabled=off.speedups).startswith("asyncio")
    with pytest.raises(SettingsError, match="SPEEDUPS"):
        load_settings({**env, "SPEEDUPS": "yes"}, dotenv=None)
    uvloop = pytest.importorskip("uvloop")
    assert speedups.run(loop_name()) == uvloop.Loop.__module__
