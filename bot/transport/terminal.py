"""Terminal adapter (`python -m bot chat`): the same dialogs without Telegram.

Buttons are shown numbered; typing the number (or the button's text) presses it. Works with piped
input too, e.g. `printf '/start\n/zelftest\n' | python -m bot chat`.
"""

from __future__ import annotations

import asyncio
import html
import re
import sys
from typing import TextIO

from bot.app.dispatch import BotCore, Incoming
from bot.engine.flow import Event
from bot.engine.output import Button, Reply

TERMINAL_USER_ID = 1
_TAG_RE = re.compile(r"</?(b|i|u|s|code|pre|a)( [^>]*)?>")


def plain(text: str) -> str:
    return html.unescape(_TAG_RE.sub("", text))


class TerminalChat:
    def __init__(self, core: BotCore, out: TextIO = sys.stdout, language_code: str = "nl") -> None:
        self.core = core
        self.out = out
        self.language_code = language_code
        self.buttons: list[Button] = []

    def event_for(self, line: str) -> Event:
        text = line.strip()
        if text.isdigit() and 1 <= int(text) <= len(self.buttons):
            return Event("button", self.buttons[int(text) - 1].data)
        for button in self.buttons:
            if text.casefold() == plain(button.label).casefold():
                return Event("button", button.data)
        if text.startswith("/"):
            command, _, args = text[1:].partition(" ")
            return Event("command", command.lower(), args.strip())
        return Event("text", text)

    def show(self, reply: Reply) -> None:
        if reply.toast:
            self.out.write(f"({plain(reply.toast)})\n")
        for message in reply.messages:
            self.out.write("\n" + plain(message.text) + "\n")
            if message.location_button:
                texts = self.core.texts_for(self.language_code)
                self.out.write(plain(texts.get("chat_location_unavailable")) + "\n")
            if message.buttons:
                shown = [b for row in message.buttons for b in row]
                self.buttons = [b for b in shown if not b.url]
                for number, button in enumerate(self.buttons, start=1):
                    self.out.write(f"  [{number}] {plain(button.label)}\n")
                for link in (b for b in shown if b.url):
                    self.out.write(f"  {plain(link.label)}: {link.url}\n")
        self.out.flush()

    async def say(self, line: str) -> Reply | None:
        incoming = Incoming(
            user_id=TERMINAL_USER_ID,
            chat_id=TERMINAL_USER_ID,
            event=self.event_for(line),
            language_code=self.language_code,
        )
        reply = await self.core.handle(incoming)
        if reply is not None:
            self.show(reply)
        return reply

    async def run(self, stdin: TextIO = sys.stdin) -> None:
        texts = self.core.texts_for(self.language_code)
        self.out.write(plain(texts.get("chat_intro")) + "\n")
        interactive = stdin.isatty()
        while True:
            if interactive:
                self.out.write("> ")
                self.out.flush()
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                break
            if line.strip():
                if not interactive:
                    self.out.write(f"\n> {line.strip()}\n")
                await self.say(line)
