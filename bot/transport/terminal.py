"""Terminal adapter (`python -m bot chat`): the dialogs and scheduled messages without Telegram.

Every button on screen has its own number (a button labelled with a number keeps that number);
typing it, or the button's text, presses it. When the bot's last message asks for typed input
(`OutMessage.expects`), typed numbers are that input and buttons are pressed with `#number`.
Files the bot sends are written to `FILES_DIR` and their path shown. Works with piped input too,
e.g. `printf '/start\n/zelftest\n' | python -m bot chat`.
"""

from __future__ import annotations

import asyncio
import html
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from sqlalchemy import select

from bot.app.dispatch import BotCore, Incoming
from bot.db.models import Caregiver
from bot.engine.flow import Event
from bot.engine.output import Button, OutMessage, Reply
from bot.text.content import Texts
from bot.text.i18n import choose_locale
from bot.transport.sender import SendOutcome

TERMINAL_USER_ID = 1
FILES_DIR = Path("mantelzorgbot-files")  # beside the SQLite file of the chat
_TAG_RE = re.compile(r"</?(b|i|u|s|code|pre|a)( [^>]*)?>")


def plain(text: str) -> str:
    return html.unescape(_TAG_RE.sub("", text))


@dataclass(frozen=True)
class _Shown:
    button: Button
    message: int  # serial number of the message it is under


class TerminalChat:
    """One caregiver (Telegram user id 1) talking to the core in a terminal.

    Pitfall: only the buttons of the latest reply (or message sent by the bot itself) with
    buttons can be pressed, as if older ones had scrolled away; a press that Telegram answers by
    removing the pressed message's buttons removes them here too.
    """

    def __init__(
        self,
        core: BotCore,
        out: TextIO = sys.stdout,
        language_code: str = "nl",
        files_dir: Path = FILES_DIR,
    ) -> None:
        self.core = core
        self.out = out
        self.language_code = language_code
        self.files_dir = files_dir
        self.keys: dict[str, _Shown] = {}
        self.expects = ""  # what the bot's last message asks to type ("" for nothing)
        self.interactive = False
        self._serial = 0
        self._pressed: int | None = None

    def event_for(self, line: str) -> Event:
        text = line.strip()
        self._pressed = None
        key = text[1:] if text.startswith("#") else ("" if self.expects else text)
        shown = self.keys.get(key)
        if shown is None:
            wanted = text.casefold()
            labelled = (s for s in self.keys.values() if plain(s.button.label).casefold() == wanted)
            shown = next(labelled, None)
        if shown is not None:
            self._pressed = shown.message
            return Event("button", shown.button.data)
        if text.startswith("/"):
            command, _, args = text[1:].partition(" ")
            return Event("command", command.lower(), args.strip())
        if self.expects == "contact":  # no contact button here: the number typed is shared
            return Event("contact", text.strip())
        return Event("text", text)

    async def texts(self) -> Texts:
        """Texts in the language the caregiver chose (`/taal`), else the terminal's."""
        async with self.core.db.transaction() as session:
            locale = await session.scalar(
                select(Caregiver.locale).where(Caregiver.telegram_user_id == TERMINAL_USER_ID)
            )
        return self.core.texts_for(choose_locale(locale, self.language_code))

    async def show(self, reply: Reply, *, pushed: bool = False) -> None:
        """Print a reply (`pushed`: a message the bot sends by itself) and number its buttons."""
        texts = await self.texts()
        if pushed and self.interactive:
            self.out.write("\n")
        if any(m.buttons for m in reply.messages):
            self.keys.clear()
        elif not pushed and reply.pressed_label is not None and self._pressed is not None:
            self.keys = {k: s for k, s in self.keys.items() if s.message != self._pressed}
        if reply.toast:
            self.out.write(f"({plain(reply.toast)})\n")
        for message in reply.messages:
            self._serial += 1
            self.out.write("\n" + plain(message.text) + "\n")
            await self._write_files(texts, message)
            if message.location_button:
                self.out.write(plain(texts.get("chat_location_unavailable")) + "\n")
            if message.contact_button:
                self.out.write(plain(texts.get("chat_contact_unavailable")) + "\n")
            self._write_buttons(message)
            self.expects = message.expects
        if pushed and self.interactive:
            self.out.write("> ")
        self.out.flush()

    def _write_buttons(self, message: OutMessage) -> None:
        buttons = [b for row in message.buttons for b in row if not (b.url or b.web_app)]
        # A button labelled "7" is pressed with 7: numbered labels keep their number when free.
        for button in buttons:
            label = plain(button.label)
            if label.isdigit() and label not in self.keys:
                self.keys[label] = _Shown(button, self._serial)
        for button in buttons:
            if not any(s.button is button for s in self.keys.values()):
                free = next(str(n) for n in range(1, len(self.keys) + 2) if str(n) not in self.keys)
                self.keys[free] = _Shown(button, self._serial)
        key_of = {id(s.button): k for k, s in self.keys.items()}
        marker = "#" if message.expects else ""
        for row in message.buttons:
            parts = []
            for button in row:
                label = plain(button.label)
                if button.url or button.web_app:
                    parts.append(f"{label}: {button.url or button.web_app}")
                elif key_of[id(button)] == label:
                    parts.append(f"[{marker}{label}]")
                else:
                    parts.append(f"[{marker}{key_of[id(button)]}] {label}")
            self.out.write("  " + "   ".join(parts) + "\n")

    async def _write_files(self, texts: Texts, message: OutMessage) -> None:
        files: list[tuple[str, bytes]] = []
        if message.image is not None:
            files.append((f"afbeelding-{self._serial}.png", message.image))
        if message.document is not None:
            files.append(message.document)
        for name, data in files:
            path = await asyncio.to_thread(self._save, name, data)
            self.out.write(plain(texts.get("chat_file_saved", path=str(path))) + "\n")

    def _save(self, name: str, data: bytes) -> Path:
        self.files_dir.mkdir(parents=True, exist_ok=True)
        safe = Path(name).name or "bestand"
        path = self.files_dir / safe
        stem, suffix = path.stem, path.suffix
        copy = 2
        while path.exists():  # never overwrite an earlier export or chart
            path = self.files_dir / f"{stem}-{copy}{suffix}"
            copy += 1
        path.write_bytes(data)
        return path

    async def say(self, line: str) -> Reply | None:
        incoming = Incoming(
            user_id=TERMINAL_USER_ID,
            chat_id=TERMINAL_USER_ID,
            event=self.event_for(line),
            language_code=self.language_code,
        )
        reply = await self.core.handle(incoming)
        if reply is not None:
            await self.show(reply)
        return reply

    async def run(self, stdin: TextIO = sys.stdin) -> None:
        texts = self.core.texts_for(self.language_code)
        self.out.write(plain(texts.get("chat_intro")) + "\n")
        self.interactive = stdin.isatty()
        while True:
            if self.interactive:
                self.out.write("> ")
                self.out.flush()
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                break
            if line.strip():
                if not self.interactive:
                    self.out.write(f"\n> {line.strip()}\n")
                await self.say(line)


class TerminalSender:
    """What the scheduler sends through in the terminal (check-ins, reminders, follow-ups): the
    terminal user's messages are shown in the chat; nobody else is in this terminal."""

    def __init__(self, chat: TerminalChat) -> None:
        self.chat = chat

    async def send(self, chat_id: int, message: OutMessage, *, bulk: bool = False) -> SendOutcome:
        if chat_id != TERMINAL_USER_ID:
            return SendOutcome("failed", error="not_in_this_terminal")
        await self.chat.show(Reply([message]), pushed=True)
        return SendOutcome("sent", message_id=self.chat._serial)

    async def edit(self, chat_id: int, message_id: int, message: OutMessage) -> SendOutcome:
        # A terminal cannot change what it printed: the new version is printed below.
        return await self.send(chat_id, message)
