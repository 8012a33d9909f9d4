"""A button press read straight from Telegram's JSON is the same as the one PTB reads: who, which
chat, the event, the query to answer, and the pressed message's text as HTML."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from telegram import Update

from bot.transport.inbound import Inbound, from_update, read

ENTITY_TYPES = ["bold", "italic", "underline", "strikethrough", "code", "spoiler", "text_link",
                "pre", "blockquote", "url"]  # fmt: skip


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@st.composite
def presses(draw: st.DrawFn) -> dict[str, Any]:
    text = draw(st.text(min_size=1, max_size=80))
    size = utf16_length(text)
    entities = []
    for _ in range(draw(st.integers(0, 3))):
        offset = draw(st.integers(0, size - 1))
        entity: dict[str, Any] = {
            "type": draw(st.sampled_from(ENTITY_TYPES)),
            "offset": offset,
            "length": draw(st.integers(1, size - offset)),
        }
        if entity["type"] == "text_link":
            entity["url"] = "https://example.org/?a=1&b=<2>"
        entities.append(entity)
    sender: dict[str, Any] = {"id": draw(st.integers(1, 2**40)), "is_bot": draw(st.booleans()),
                              "first_name": draw(st.text(min_size=1, max_size=20))}  # fmt: skip
    if draw(st.booleans()):
        sender["last_name"] = draw(st.text(max_size=20))
    if draw(st.booleans()):
        sender["language_code"] = draw(st.sampled_from(["nl", "en", "de"]))
    chat_type = draw(st.sampled_from(["private", "private", "group"]))
    message: dict[str, Any] = {
        "message_id": draw(st.integers(1, 10**6)),
        "date": draw(st.sampled_from([0, 1796691266])),  # 0: no longer accessible
        "chat": {"id": sender["id"], "type": chat_type},
        "text": text,
        "entities": entities,
        "reply_markup": {"inline_keyboard": [[{"text": "Ja", "callback_data": "o:yes"}]]},
    }
    if draw(st.booleans()):
        message["from"] = {"id": 1, "is_bot": True, "first_name": "Bot"}
    return {
        "update_id": draw(st.integers(1, 10**9)),
        "callback_query": {
            "id": str(draw(st.integers(1, 10**15))),
            "from": sender,
            "message": message,
            "chat_instance": "-5",
            "data": draw(st.text(max_size=64)),
        },
    }


@given(presses())
def test_a_press_read_from_json_is_what_ptb_reads(data: dict[str, Any]) -> None:
    assert read(data, None) == from_update(Update.de_json(data, None))


def test_a_press_without_its_message_is_not_answered_as_a_person() -> None:
    person = {"id": 5, "is_bot": False, "first_name": "A"}
    press = {"id": "7", "chat_instance": "x", "data": "q", "from": person}
    data = {"update_id": 3, "callback_query": press}
    assert read(data, None) == Inbound(3, query_id="7")


def test_an_odd_press_is_left_to_ptb_which_refuses_it() -> None:
    data = {"update_id": 4, "callback_query": {"id": "7", "from": "not a user"}}
    try:
        read(data, None)
    except Exception:
        return
    raise AssertionError("PTB read a press without a sender")
