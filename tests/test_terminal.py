"""The terminal demo (`python -m bot chat`) as good as Telegram: every button on screen has its own
number, typed numbers are input where the bot asks for one, files land in a folder, due scheduled
messages appear while chatting, and the location hint follows the chosen language."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.app.dispatch import BotCore
from bot.db.session import Database
from bot.jobs.scheduled import ScheduledMessage
from bot.transport.terminal import TERMINAL_USER_ID, TerminalChat
from tests.conversation import staff_user
from tests.test_evenings import LINDE, add_locations

ROOT = Path(__file__).resolve().parent.parent


class Terminal:
    """`python -m bot chat` in a real process, its input a pipe the test writes to."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.output = ""

    @classmethod
    async def start(cls, cwd: Path) -> Terminal:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "chat",
            env={**os.environ, "PYTHONPATH": str(ROOT), "LANG": "C.UTF-8"}, cwd=cwd,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        return cls(process)

    async def says(self, *lines: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("".join(f"{line}\n" for line in lines).encode())
        await self.process.stdin.drain()

    async def shows(self, text: str, within: float = 30.0) -> str:
        """Wait until the output has `text`; the output so far."""
        assert self.process.stdout is not None

        async def read() -> None:
            assert self.process.stdout is not None
            while text not in self.output:
                chunk = await self.process.stdout.read(4096)
                if not chunk:
                    raise AssertionError(f"chat ended without {text!r}:\n{self.output}")
                self.output += chunk.decode()

        try:
            await asyncio.wait_for(read(), within)
        except TimeoutError:
            raise AssertionError(f"no {text!r} within {within}s:\n{self.output}") from None
        return self.output

    async def ends(self) -> str:
        assert self.process.stdin is not None
        self.process.stdin.close()
        rest, _ = await asyncio.wait_for(self.process.communicate(), 30)
        self.output += rest.decode()
        assert self.process.returncode == 0, self.output
        return self.output


async def test_every_card_on_screen_can_be_saved_files_land_in_a_folder_and_hints_follow_taal(
    tmp_path: Path,
) -> None:
    chat = await Terminal.start(tmp_path)
    await chat.says("/start", "1", "1", "/steunpunt", "5211")
    await chat.shows("[1] ⭐ Bewaar als mijn steunpunt")
    await chat.shows("[3] Ja, in een andere gemeente")  # the question under the card goes on
    await chat.says("3", "Vught")
    await chat.shows("[2] ⭐ Bewaar als mijn steunpunt")  # the second card has its own number
    await chat.says("2")  # the second card: Vught en Boxtel, not Den Bosch
    await chat.says("/steunpunt")
    await chat.says("/mijngegevens")
    await chat.says("/taal", "2", "/steunpunt")
    await chat.shows("[1] 🔎 Find another steunpunt")
    await chat.says("1")
    await chat.shows("Sharing a location only works in Telegram")
    output = await chat.ends()
    mine = output.split("> 2\n", 1)[1].split("> /steunpunt\n")[1].split("> /mijngegevens")[0]
    assert "Mantelzorgpunt Vught en Boxtel" in mine and "Den Bosch" not in mine
    saved = tmp_path / "mantelzorgbot-files"
    [export] = list(saved.glob("mijngegevens-*.json"))
    assert f"mantelzorgbot-files/{export.name}" in output
    data = json.loads(export.read_text(encoding="utf-8"))
    assert data["caregiver_steunpunt"][0]["steunpunt_key"] == "voorbeeld-vught-boxtel"
    assert "Locatie delen kan alleen in Telegram" in output  # Dutch before /taal


async def test_a_due_check_in_appears_while_chatting_and_its_score_buttons_keep_their_numbers(
    tmp_path: Path,
) -> None:
    chat = await Terminal.start(tmp_path)
    await chat.says("/start", "1", "1", "/checkin", "Elke week", "dinsdag", "Avond (19:30)")
    await chat.shows("De eerste komt op")
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'mantelzorgbot.sqlite3'}")
    try:
        async with db.transaction() as session:  # the week is over: the check-in is due now
            row = await session.scalar(select(ScheduledMessage))
            assert row is not None and row.kind == "checkin"
            await session.execute(
                update(ScheduledMessage).values(
                    due_at=datetime.now(UTC), payload={**row.payload, "quiet_ok": True}
                )
            )
    finally:
        await db.dispose()
    await chat.shows("Tijd voor je check-in.")
    await chat.shows("[0]   [1]   [2]")
    await chat.says("8")  # the button labelled 8, not the eighth button ("7")
    await chat.shows("Dat is zwaar")
    output = await chat.ends()
    assert "> 8\n" in output


@pytest.fixture
async def linde_staff(core: BotCore) -> BotCore:
    """The terminal's user is staff of the care home De Linde."""
    await add_locations(core)
    core.bot_username = lambda: "mantelzorg_test_bot"
    await staff_user(core, TERMINAL_USER_ID, location_key=LINDE)
    return core


async def test_a_typed_number_is_the_answer_where_the_bot_asks_for_a_number(
    linde_staff: BotCore, tmp_path: Path
) -> None:
    out = io.StringIO()
    chat = TerminalChat(linde_staff, out, files_dir=tmp_path / "files")
    for line in ("/avond_nieuw", "Familieavond met muziek", "12-12 19:30", "Ja, klopt",
                 "de grote zaal", "Met koffie en een koor."):  # fmt: skip
        await chat.say(line)
    assert out.getvalue().endswith(
        "Typ een getal.\n  [#1] Geen maximum\n  [#2] ◀ Vorige   [#3] Stoppen\n"
    )
    await chat.say("2")  # the guest count, not button 2 ("Stoppen" used to throw it all away)
    assert "Klopt alles?" in out.getvalue() and "Hoogstens 2 gasten." in out.getvalue()
    assert out.getvalue().endswith("  [1] Versturen\n  [2] ◀ Vorige   [3] Stoppen\n")  # plain
    await chat.say("1")
    assert "Verstuurd." in out.getvalue()
    await chat.say("Link en QR-code voor families")
    [qr] = (tmp_path / "files").glob("*.png")
    assert f"(Bestand bewaard: {qr})" in out.getvalue()
