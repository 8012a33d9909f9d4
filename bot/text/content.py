"""All content loaded at start: dialog definitions, shared messages and human contacts.

Content is data in `dialogs/`; this module validates it (failing the start with clear lines) and
binds it to a translator, so features ask for `texts.get("menu_title")` instead of writing text.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.distress import DISTRESS_FILE, Detector, DistressFileError, build_detector
from bot.engine.spec import DIALOGS_DIR, Dialog, DialogError, load_yaml, parse_dialog
from bot.text.i18n import Translator


@dataclass(frozen=True)
class Contact:
    """A human to turn to. Phone numbers are data, never invented: absent when not known."""

    id: str
    label: str
    text: str
    phones: tuple[str, ...] = ()


@dataclass(frozen=True)
class Content:
    messages: Mapping[str, str]
    contacts: Mapping[str, Contact]
    dialogs: Mapping[str, Dialog]
    # Signs of distress in typed text and the contacts of each crisis answer (distress.yaml).
    distress: Detector

    def dialog_for_command(self, command: str) -> Dialog | None:
        for dialog in self.dialogs.values():
            if dialog.command == command:
                return dialog
        return None


class Texts:
    """Content bound to one caregiver's language: the only way features produce user text."""

    def __init__(self, content: Content, translator: Translator) -> None:
        self.content = content
        self.translator = translator

    @property
    def locale(self) -> str:
        return self.translator.locale

    def tr(self, source: str) -> str:
        return self.translator.gettext(source) if source else ""

    def get(self, key: str, /, **values: Any) -> str:
        """The shared message `key`, translated; `{placeholders}` filled with escaped values."""
        text = self.tr(self.content.messages[key])
        if values:
            text = text.format(**{k: html.escape(str(v), quote=False) for k, v in values.items()})
        return text

    def get_n(self, key: str, n: int, /, **values: Any) -> str:
        """`get` for a message with a number in it: `<key>_one` when `n` is 1 ("1 persoon",
        "2 personen"; Dutch and English both have just these two forms). The `_one` message
        must exist; `n` itself is passed as a value only when the caller names it."""
        return self.get(f"{key}_one" if n == 1 else key, **values)

    def dialog_message(self, dialog: Dialog, key: str, /, **values: Any) -> str:
        """A dialog's own message if it defines `key`, else the shared one."""
        source = dialog.messages.get(key)
        if source is None:
            return self.get(key, **values)
        text = self.tr(source)
        return text.format(**{k: html.escape(str(v), quote=False) for k, v in values.items()})

    def contact_lines(self, contact_ids: Iterable[str]) -> list[str]:
        lines = []
        for cid in contact_ids:
            contact = self.content.contacts[cid]
            line = f"• <b>{self.tr(contact.label)}</b>"
            if contact.phones:
                line += ": " + f" {self.get('phone_or')} ".join(contact.phones)
            lines.append(f"{line}\n  {self.tr(contact.text)}")
        return lines


def _contacts(data: Any, source: str) -> dict[str, Contact]:
    problems: list[str] = []
    contacts: dict[str, Contact] = {}
    raw = data.get("contacts") if isinstance(data, dict) else None
    if not isinstance(raw, dict) or not raw:
        raise DialogError(f"{source}: contacts: expected a mapping of id -> contact")
    for cid, item in raw.items():
        path = f"contacts.{cid}"
        if not isinstance(item, dict) or not item.get("label") or not item.get("text"):
            problems.append(f"{source}: {path}: needs a label and a text")
            continue
        phones = item.get("phones") or []
        if not isinstance(phones, list) or not all(isinstance(p, str) for p in phones):
            problems.append(f"{source}: {path}.phones: expected a list of numbers as text")
            phones = []
        contacts[cid] = Contact(
            id=cid,
            label=item["label"],
            text=item["text"],
            phones=tuple(phones),
        )
    if problems:
        raise DialogError("\n".join(problems))
    return contacts


def load_content(directory: Path = DIALOGS_DIR, actions: Iterable[str] = ()) -> Content:
    """Load and validate every file in `directory`; raise DialogError listing all problems.

    A file with `steps` is a dialog. Any other file may carry a `messages` mapping: a feature
    keeps its texts in its own file (e.g. `steunpunt.yaml`), merged into the shared messages.
    """
    if not directory.is_dir():
        raise DialogError(f"{directory}: dialogs folder not found")
    contacts_data = load_yaml(directory / "contacts.yaml")
    contacts = _contacts(contacts_data, "contacts.yaml")
    try:
        distress = build_detector(load_yaml(directory / DISTRESS_FILE), list(contacts))
    except DistressFileError as exc:
        raise DialogError(str(exc)) from exc
    messages: dict[str, str] = {}
    dialogs: dict[str, Dialog] = {}
    problems: list[str] = []
    action_names = list(actions)
    for path in sorted(directory.glob("*.yaml")):
        if path.name == "contacts.yaml":
            continue
        try:
            data = load_yaml(path)
        except DialogError as exc:
            problems.append(str(exc))
            continue
        if isinstance(data, dict) and "steps" in data:
            try:
                dialog = parse_dialog(data, path.name, action_names, contacts)
            except DialogError as exc:
                problems.append(str(exc))
                continue
            if dialog.id in dialogs:
                problems.append(f"{path.name}: id: dialog id {dialog.id!r} is used twice")
            dialogs[dialog.id] = dialog
            continue
        raw = data.get("messages") if isinstance(data, dict) else None
        if raw is None:
            continue
        if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
            problems.append(f"{path.name}: messages: expected a mapping of name -> text")
            continue
        for key, value in raw.items():
            if key in messages:
                problems.append(f"{path.name}: messages.{key}: defined in another file too")
            # Extraction strips texts; so does loading, or a stray space would miss its translation.
            messages[key] = value.strip()
    if "messages.yaml" not in {p.name for p in directory.glob("*.yaml")}:
        problems.append("messages.yaml: file not found")
    if problems:
        raise DialogError("\n".join(problems))
    return Content(
        messages=messages,
        contacts=contacts,
        dialogs=dialogs,
        distress=distress,
    )
