"""What the engine and the features say back: channel-agnostic messages with buttons.

Adapters (Telegram, terminal, tests) render these; nothing here knows about Telegram.
Texts are already translated and use Telegram's HTML subset (<b>, <i>), escaped where dynamic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.engine.codec import ANY, ButtonCodec


@dataclass(frozen=True)
class Button:
    label: str
    data: str
    url: str = ""  # a link button: opens `url` instead of sending `data`
    # A Telegram Web App button: opens this https page inside Telegram, which hands it the
    # signed user data (Mini App `initData`); channels without Web Apps show it as a link.
    web_app: str = ""


@dataclass(frozen=True)
class OutMessage:
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    # Preview-safe: when True the first line must not reveal scores or worries (lock screens).
    image: bytes | None = None
    document: tuple[str, bytes] | None = None
    # A photo or document Telegram already has, by its file id (e.g. attached to a staff notice);
    # `text` is then its caption.
    photo_id: str = ""
    document_id: str = ""
    # A keyboard under the input field with one button that shares the user's location (this
    # label); `remove_keyboard` takes it away again. Only on messages without `buttons`.
    location_button: str = ""
    # The same for sharing the user's phone number (Telegram's contact button).
    contact_button: str = ""
    remove_keyboard: bool = False
    # What the message asks the caregiver to type, if anything: "text", "number", "date", "time",
    # "datetime", "location" or "contact". Telegram ignores it; the terminal then takes typed
    # numbers as that input instead of as a button's number.
    expects: str = ""


@dataclass
class Reply:
    """Everything one incoming event produces."""

    messages: list[OutMessage] = field(default_factory=list)
    # Short text shown by Telegram as a toast when a button press is answered.
    toast: str | None = None
    # When a button press was accepted: the label to show on the pressed message (its buttons go).
    pressed_label: str | None = None

    def add(self, *messages: OutMessage) -> Reply:
        self.messages.extend(messages)
        return self


# Buttons that run a command, exactly as if it was typed: m:<command>.
COMMANDS = ButtonCodec("m", {ANY: ()})


def command_button(label: str, command: str) -> Button:
    """A button that runs `command` (without its slash), e.g. the menu or /steunpunt."""
    return Button(label, COMMANDS.pack(command))


def rows(*buttons: Button) -> tuple[tuple[Button, ...], ...]:
    """One button per row: long Dutch labels stay readable on a small screen."""
    return tuple((b,) for b in buttons)
