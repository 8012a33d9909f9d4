"""Opening hours as steunpunten write them, shown in English where every word is known, and
otherwise as written, saying so."""

from __future__ import annotations

import pytest

from bot.app.dispatch import BotCore
from bot.text.hours import hours_in_english, opening_hours
from bot.transport.terminal import plain
from tests.conversation import CoreUser
from tests.test_steunpunt import directory  # noqa: F401 (a fixture)


@pytest.mark.parametrize(
    ("dutch", "english"),
    [
        ("ma t/m vr 9.00-17.00", "Mon to Fri 9:00-17:00"),
        ("ma, di en do 9.00-12.30", "Mon, Tue and Thu 9:00-12:30"),
        ("ma-vr 9-17 uur", "Mon-Fri 9:00-17:00"),
        (
            "dinsdag 10:00 - 12:00, vrijdag op afspraak",
            "Tuesday 10:00-12:00, Friday by appointment",
        ),
        ("za en zo gesloten", "Sat and Sun closed"),
    ],
)
def test_the_usual_dutch_forms_read_in_english(dutch: str, english: str) -> None:
    assert hours_in_english(dutch) == english
    assert opening_hours(dutch, "en") == (english, False)
    assert opening_hours(dutch, "nl") == (dutch, False)


@pytest.mark.parametrize("dutch", ["bel voor een afspraak", "ma 9-12 (behalve in de zomer)", ""])
def test_anything_else_is_shown_as_written_and_said_to_be_dutch(dutch: str) -> None:
    assert hours_in_english(dutch) is None
    assert opening_hours(dutch, "en") == (dutch, True)


@pytest.mark.usefixtures("directory")
async def test_an_english_reader_sees_the_steunpunt_hours_in_english(core: BotCore) -> None:
    user = CoreUser(core, 1500, language_code="en")
    await user.says("/start")
    await user.taps("English")
    await user.taps("Yes")
    await user.says("/steunpunt")
    await user.says("5211 ab")
    card = next(plain(m.text) for m in user.last.messages if "Open" in plain(m.text))
    assert "Open: Mon to Fri 9:00-17:00" in card
