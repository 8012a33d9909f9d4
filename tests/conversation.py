"""Tests read as a conversation: `await user.says("/start")`, `await user.taps("Ja")`.

`CoreUser` talks to the channel-agnostic core directly (fast, for feature tests);
`TelegramUser` plays a caregiver against the real PTB stack through the fake Bot API.
"""

from __future__ import annotations

from typing import Any

from bot.app.dispatch import BotCore, Incoming
from bot.engine.flow import Event
from bot.engine.output import Button, OutMessage, Reply
from bot.transport.terminal import plain


def find_button(buttons: list[Button], label: str) -> Button:
    for button in buttons:
        if plain(button.label) == label:
            return button
    for button in buttons:
        if label.casefold() in plain(button.label).casefold():
            return button
    shown = ", ".join(repr(plain(b.label)) for b in buttons)
    raise AssertionError(f"no button {label!r}; the buttons shown are: {shown}")


class CoreUser:
    def __init__(
        self,
        core: BotCore,
        user_id: int = 1000,
        language_code: str | None = "nl",
        display_name: str = "",
    ) -> None:
        self.core = core
        self.user_id = user_id
        self.language_code = language_code
        self.display_name = display_name or f"User {user_id}"
        self.replies: list[Reply] = []
        self.buttons: list[Button] = []
        self.all_buttons: list[Button] = []

    async def send(self, event: Event, update_id: int | None = None) -> Reply | None:
        reply = await self.core.handle(
            Incoming(
                self.user_id,
                self.user_id,
                event,
                self.language_code,
                update_id,
                display_name=self.display_name,
            )
        )
        if reply is not None:
            self.replies.append(reply)
            for message in reply.messages:
                if message.buttons:
                    self.buttons = [b for row in message.buttons for b in row]
                    self.all_buttons.extend(self.buttons)
        return reply

    async def says(self, text: str) -> Reply | None:
        if text.startswith("/"):
            command, _, args = text[1:].partition(" ")
            return await self.send(Event("command", command, args))
        return await self.send(Event("text", text))

    async def taps(self, label: str) -> Reply | None:
        return await self.send(Event("button", find_button(self.buttons, label).data))

    async def presses_data(self, data: str) -> Reply | None:
        return await self.send(Event("button", data))

    async def sends(self, kind: str) -> Reply | None:
        return await self.send(Event("unsupported", kind))

    @property
    def last(self) -> Reply:
        return self.replies[-1]

    @property
    def last_text(self) -> str:
        return "\n".join(plain(m.text) for m in self.last.messages)

    @property
    def last_message(self) -> OutMessage:
        return self.last.messages[-1]


async def onboarded(core: BotCore, user_id: int = 900, display_name: str = "") -> CoreUser:
    """A caregiver who chose Dutch and gave consent."""
    user = CoreUser(core, user_id, display_name=display_name)
    await user.says("/start")
    await user.taps("Nederlands")
    await user.taps("Ja, dat mag")
    return user


async def invitation(
    core: BotCore, *, steunpunt_key: str | None = None, location_key: str | None = None
) -> str:
    """A fresh staff invitation's /start payload, as the operator's `staff invite` makes it."""
    from bot.features.staff.handlers import INVITE_PREFIX, create_invite

    async with core.db.transaction() as session:
        token, _ = await create_invite(
            session, core.clock.now(), steunpunt_key=steunpunt_key, location_key=location_key
        )
    return f"{INVITE_PREFIX}_{token}"


async def staff_user(
    core: BotCore,
    user_id: int,
    *,
    steunpunt_key: str | None = None,
    location_key: str | None = None,
    display_name: str = "",
) -> CoreUser:
    """A user who opened a staff invitation link (onboarded as a caregiver first)."""
    user = await onboarded(core, user_id, display_name)
    payload = await invitation(core, steunpunt_key=steunpunt_key, location_key=location_key)
    await user.says(f"/start {payload}")
    assert "medewerker" in user.last_text, user.last_text
    return user


class TelegramUser:
    """A caregiver in Telegram: pushes updates into the fake Bot API and waits for the bot."""

    def __init__(
        self,
        fake: Any,
        harness: Any,
        user_id: int,
        language_code: str = "nl",
        first_name: str = "Test",
    ) -> None:
        self.fake = fake
        self.harness = harness
        self.user_id = user_id
        self.language_code = language_code
        self.first_name = first_name
        self.seen = 0

    async def _await(self, update_id: int) -> None:
        await self.harness.processed(update_id)

    async def says(self, text: str) -> None:
        update_id = self.fake.user_sends_text(
            self.user_id, text, first_name=self.first_name, language_code=self.language_code
        )
        await self._await(update_id)

    def starts_saying(self, text: str) -> int:
        """Sends `text` without waiting for the bot; the update id (`harness.processed`)."""
        return int(
            self.fake.user_sends_text(
                self.user_id, text, first_name=self.first_name, language_code=self.language_code
            )
        )

    async def sends(self, kind: str) -> None:
        update_id = getattr(self.fake, f"user_sends_{kind}")(self.user_id)
        await self._await(update_id)

    def messages(self) -> list[dict[str, Any]]:
        return self.fake.sent_messages(self.user_id)

    def new_messages(self) -> list[dict[str, Any]]:
        messages = self.messages()
        fresh, self.seen = messages[self.seen :], len(messages)
        return fresh

    @property
    def last_text(self) -> str:
        return self.messages()[-1].get("text") or self.messages()[-1].get("caption") or ""

    def _keyboard_message(self) -> dict[str, Any]:
        for message in reversed(self.messages()):
            if (message.get("reply_markup") or {}).get("inline_keyboard"):
                return message
        raise AssertionError("the bot has shown no buttons")

    async def taps(self, label: str) -> None:
        message = self._keyboard_message()
        rows = message["reply_markup"]["inline_keyboard"]
        buttons = [Button(b["text"], b.get("callback_data", "")) for row in rows for b in row]
        button = find_button(buttons, label)
        update_id = self.fake.user_presses(self.user_id, message["message_id"], button.data)
        await self._await(update_id)

    async def presses(self, message_id: int, data: str) -> None:
        update_id = self.fake.user_presses(self.user_id, message_id, data)
        await self._await(update_id)


def after_preview(text: str) -> str:
    """A pushed message without its two neutral lock-screen lines (see tests/test_previews.py):
    where it says what it is about."""
    return "\n".join([line for line in plain(text).splitlines() if line.strip()][2:])
