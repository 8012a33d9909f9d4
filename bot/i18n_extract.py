"""Extracting translatable texts from dialog YAML files and code, and keeping catalogs in step.

`python -m bot.i18n_extract update` adds new texts to both catalogs (Dutch copies the source,
English gets an empty entry to translate) and removes texts no longer used; `check` lists gaps.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import yaml
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir, extract_python
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ("nl", "en")
TRANSLATABLE_KEYS = frozenset(
    {"text", "label", "title", "intro", "meaning", "next_steps", "error", "summary", "help",
     "description", "button", "prompt", "note", "done"}
)  # fmt: skip
PLACEHOLDER_RE = re.compile(r"\{(\w+)\}")


def _walk(node: yaml.Node, path: str, translatable: bool) -> Iterator[tuple[int, str, str]]:
    if isinstance(node, yaml.ScalarNode):
        if translatable and node.tag == "tag:yaml.org,2002:str" and node.value.strip():
            yield node.start_mark.line + 1, node.value.strip(), path
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _walk(item, f"{path}[{i}]", translatable)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = str(key.value)
            inner = translatable or name == "messages"
            if name in TRANSLATABLE_KEYS and not isinstance(value, yaml.MappingNode):
                inner = True
            yield from _walk(value, f"{path}.{name}".lstrip("."), inner)


def extract_dialogs(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, None, str, list[str]]]:
    """Babel extractor for dialog YAML: texts under translatable keys and under `messages`."""
    node = yaml.compose(fileobj.read().decode("utf-8"))
    if node is None:
        return
    for line, text, path in _walk(node, "", False):
        yield line, None, text, [path]


def iter_translatable(path: Path) -> Iterator[str]:
    with path.open("rb") as handle:
        for _line, _func, text, _comments in extract_dialogs(handle, (), (), {}):
            yield text


def collect_messages(root: Path = ROOT) -> dict[str, list[str]]:
    """msgid -> locations, from `bot/**.py` (_ and N_) and `dialogs/**.yaml`."""
    found: dict[str, list[str]] = {}
    sources = [
        ("bot", [("**.py", extract_python)], {}),
        ("dialogs", [("**.yaml", extract_dialogs)], {}),
    ]
    for folder, method_map, options_map in sources:
        directory = root / folder
        if not directory.is_dir():
            continue
        for filename, line, message, _comments, _ctx in extract_from_dir(
            str(directory),
            method_map,
            options_map,
            keywords={"_": None, "N_": None, "gettext": None},
        ):
            if isinstance(message, str) and message:
                found.setdefault(message, []).append(f"{folder}/{filename}:{line}")
    return found


def _read(locale: str, root: Path) -> Catalog:
    path = root / "locales" / locale / "LC_MESSAGES" / "bot.po"
    if not path.exists():
        return Catalog(locale=locale, domain="bot", project="mantelzorgbot")
    with path.open("rb") as handle:
        return read_po(handle, locale=locale, domain="bot")


def update_catalogs(root: Path = ROOT) -> dict[str, dict[str, int]]:
    messages = collect_messages(root)
    report: dict[str, dict[str, int]] = {}
    for locale in LOCALES:
        old = _read(locale, root)
        new = Catalog(locale=locale, domain="bot", project="mantelzorgbot", fuzzy=False)
        added = 0
        for msgid in sorted(messages):
            previous = old.get(msgid)
            string = previous.string if previous is not None and not previous.fuzzy else ""
            if previous is None:
                added += 1
            if locale == "nl" and not string:
                string = msgid
            locations = [
                (loc.rsplit(":", 1)[0], int(loc.rsplit(":", 1)[1])) for loc in messages[msgid]
            ]
            new.add(msgid, string, locations=locations)
        removed = sum(1 for m in old if m.id and m.id not in messages)
        path = root / "locales" / locale / "LC_MESSAGES" / "bot.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, new, width=100, sort_output=True, omit_header=False)
        untranslated = sum(1 for m in new if m.id and not m.string)
        report[locale] = {"added": added, "removed": removed, "untranslated": untranslated}
    return report


def catalog_problems(root: Path = ROOT) -> list[str]:
    """Every gap: missing or untranslated texts, stale entries, placeholder mismatches."""
    messages = collect_messages(root)
    problems: list[str] = []
    for locale in LOCALES:
        catalog = _read(locale, root)
        for msgid, locations in sorted(messages.items()):
            entry = catalog.get(msgid)
            where = locations[0]
            if entry is None:
                problems.append(f"{locale}: not in the catalog ({where}): {msgid[:70]!r}")
            elif not entry.string or entry.fuzzy:
                problems.append(f"{locale}: not translated ({where}): {msgid[:70]!r}")
            elif set(PLACEHOLDER_RE.findall(msgid)) != set(
                PLACEHOLDER_RE.findall(str(entry.string))
            ):
                problems.append(f"{locale}: placeholders differ ({where}): {msgid[:70]!r}")
        for entry in catalog:
            if entry.id and entry.id not in messages:
                problems.append(f"{locale}: no longer used, remove it: {str(entry.id)[:70]!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["update"]:
        for locale, counts in update_catalogs().items():
            print(f"{locale}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        return 0
    if args == ["check"]:
        problems = catalog_problems()
        print("\n".join(problems) or "catalogs complete")
        return 1 if problems else 0
    print("usage: python -m bot.i18n_extract update|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
