"""The one codec for button data: typed fields, at most 64 bytes, and anything not of a declared
shape recognised as not ours."""

from __future__ import annotations

import pytest

from bot.engine.codec import ANY, ButtonCodec, ButtonDataError, Optional

CHECKIN = ButtonCodec("c", {"sc": (int, ("0", "1", "2")), "chg": (), "note": (str, Optional(str))})


def test_a_press_comes_back_with_its_typed_values() -> None:
    data = CHECKIN.pack("sc", 7, "2")
    assert data == "c:sc:7:2"
    pressed = CHECKIN.unpack(data)
    assert pressed is not None and pressed.action == "sc"
    assert pressed.number(0) == 7 and pressed.text(1) == "2"
    assert CHECKIN.unpack(CHECKIN.pack("chg")) is not None


def test_an_optional_last_field_may_be_left_out() -> None:
    assert CHECKIN.unpack("c:note:a") is not None
    pressed = CHECKIN.unpack("c:note:a:b")
    assert pressed is not None and pressed.text(1) == "b"
    assert CHECKIN.unpack("c:note:a").text(1) == ""  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "data",
    ["", "c", "c:", "x:sc:7:2", "c:sc", "c:sc:7", "c:sc:seven:2", "c:sc:7:9", "c:sc:7:2:1",
     "c:sc:-1:2", "c:chg:1", "c:what", "c:note", "c:note::", "c:sc:7:2 "],
)  # fmt: skip
def test_forged_stale_or_foreign_data_is_not_ours(data: str) -> None:
    assert CHECKIN.unpack(data) is None


def test_what_cannot_be_a_button_is_refused_when_packed() -> None:
    with pytest.raises(ButtonDataError, match="over 64 bytes"):
        CHECKIN.pack("note", "x" * 70)
    with pytest.raises(ButtonDataError, match="is not"):
        CHECKIN.pack("note", "a:b")  # the separator inside a value
    with pytest.raises(ButtonDataError, match="is not"):
        CHECKIN.pack("sc", 7, "9")
    with pytest.raises(ButtonDataError, match="unknown action"):
        CHECKIN.pack("nope")


def test_any_action_names_a_dialog_or_a_command() -> None:
    engine = ButtonCodec("q", {ANY: (int, str)})
    pressed = engine.unpack(engine.pack("selfcheck", 3, "back"))
    assert pressed is not None and (pressed.action, pressed.number(0)) == ("selfcheck", 3)
    commands = ButtonCodec("m", {ANY: ()})
    assert commands.pack("zelftest") == "m:zelftest"
    assert commands.unpack("m:") is None and commands.unpack("m:a:b") is None


def test_every_button_prefix_of_the_bot_is_claimed_once() -> None:
    from bot.features import load

    _, registry = load()
    prefixes = [*registry.buttons, *registry.staff_buttons]
    assert len(prefixes) == len(set(prefixes)) >= 15
