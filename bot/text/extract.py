"""Finding the translatable texts in dialog YAML and code, and keeping the catalogs in step.

`python -m bot.text.extract update` adds new texts to both catalogs (Dutch copies its source,
English gets an empty entry to translate) and drops unused ones; `check` lists every gap.
"""

from __future__ import annotations

import argparse
import os
import string
import sys
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import IO, Any

import yaml
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir, extract_python
from babel.messages.pofile import write_po

from bot.text.i18n import DOMAIN, SUPPORTED_LOCALES, catalog_path, read_catalog

ROOT = Path(__file__).resolve().parent.parent.parent
PROJECT = "mantelzorg-bot"

# Mapping keys whose string value, or each string of whose list value, is shown to caregivers.
TRANSLATABLE_KEYS = frozenset(
    {
        "text",
        "label",
        "title",
        "intro",
        "meaning",
        "next_steps",
        "error",
        "summary",
        "help",
        "description",
        "button",
        "prompt",
        "note",
        "done",
        "optional",
    }
)
# Every string anywhere below these keys is a text (shared and per-dialog messages, a typed
# step's texts per reason).
MESSAGES_KEY = "messages"
ALL_KEYS = frozenset({MESSAGES_KEY, "errors"})

_STR_TAG = "tag:yaml.org,2002:str"


class _Scope(Enum):
    NONE = "no texts here"
    VALUE = "a string, or each string of a list, is a text"
    ALL = "every string below is a text"


def _walk(node: yaml.Node, path: str, scope: _Scope) -> Iterator[tuple[yaml.Node, str]]:
    """The translatable string scalars below `node`, with their YAML path."""
    if isinstance(node, yaml.ScalarNode):
        if scope is not _Scope.NONE and node.tag == _STR_TAG:
            yield node, path
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(item, f"{path}[{index}]", scope)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else ""
            if scope is _Scope.ALL or name in ALL_KEYS:
                inner = _Scope.ALL
            elif name in TRANSLATABLE_KEYS:
                inner = _Scope.VALUE
            else:
                # Also below a translatable key: a mapping there holds ids and values of its own.
                inner = _Scope.NONE
            yield from _walk(value, f"{path}.{name}" if path else name, inner)


def _texts(node: yaml.Node) -> Iterator[tuple[int | None, str, str]]:
    for scalar, path in _walk(node, "", _Scope.NONE):
        # Loading strips texts too (bot/text/content.py, bot/engine/spec.py): the msgid must match.
        text = scalar.value.strip()
        if text:
            line = scalar.start_mark.line + 1 if scalar.start_mark else None
            yield line, text, path


def extract_dialogs(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[tuple[int, None, str, list[str]]]:
    """Babel extractor for dialog YAML: (line, None, text, [its YAML path, for translators])."""
    source = fileobj.read().decode(options.get("encoding", "utf-8"))
    root = yaml.compose(source, Loader=yaml.SafeLoader)
    if root is None:
        return
    for line, text, path in _texts(root):
        yield line or 0, None, text, [path]


def iter_translatable(data: Any) -> Iterator[str]:
    """The translatable texts of already-loaded YAML data, by the same rules as the extractor."""
    # Representing the data as YAML nodes keeps one implementation of the rules, so the engine
    # and the catalogs cannot disagree on what is a text.
    node = yaml.SafeDumper(None, sort_keys=False).represent_data(data)  # type: ignore[arg-type]
    for _line, text, _path in _texts(node):
        yield text


# babel.cfg holds the same mapping for `pybabel extract`; here the extractors are callables, so
# extraction works without the installed entry point.
METHOD_MAP: Any = (("bot/**.py", extract_python), ("dialogs/**.yaml", extract_dialogs))
KEYWORDS: Mapping[str, None] = {"_": None, "N_": None, "gettext": None}
_SOURCE_DIRS = frozenset({"bot", "dialogs"})


@dataclass
class Occurrences:
    locations: list[str] = field(default_factory=list)  # "dialogs/selfcheck.yaml:12"
    comments: list[str] = field(default_factory=list)  # YAML paths, for translators


def extract_all(root: Path | None = None) -> dict[str, Occurrences]:
    """Every msgid in `bot/**.py` (_, N_, gettext) and `dialogs/**.yaml`, with where it occurs."""
    root = root or ROOT

    def only_sources(dirpath: str) -> bool:
        # Descend only into bot/ and dialogs/: the tree may also hold a virtualenv or caches.
        parts = Path(os.path.relpath(dirpath, root)).parts
        return parts[0] in _SOURCE_DIRS and not parts[-1].startswith((".", "_"))

    found: dict[str, Occurrences] = {}
    for filename, line, message, comments, _context in extract_from_dir(
        root, METHOD_MAP, keywords=KEYWORDS, directory_filter=only_sources
    ):
        # A call like gettext(variable) has no literal to translate.
        if isinstance(message, str) and message:
            where = found.setdefault(message, Occurrences())
            where.locations.append(f"{Path(filename).as_posix()}:{line}")
            where.comments.extend(c for c in comments if c not in where.comments)
    return found


def collect_messages(root: Path | None = None) -> dict[str, list[str]]:
    """msgid -> locations ("dialogs/selfcheck.yaml:12") of every translatable text."""
    return {msgid: found.locations for msgid, found in extract_all(root).items()}


def _open_catalog(locale: str, root: Path) -> Catalog:
    if catalog_path(locale, root / "locales").exists():
        return read_catalog(locale, root / "locales")
    return Catalog(locale=locale, domain=DOMAIN, project=PROJECT, fuzzy=False)


def _entries(catalog: Catalog) -> dict[str, tuple[object, ...]]:
    """What `update` may change in an entry; the file is rewritten only if any of it changed."""
    return {
        str(m.id): (m.string, sorted(m.flags), m.locations, m.auto_comments, m.user_comments)
        for m in catalog
        if m.id
    }


def _location(location: str) -> tuple[str, int]:
    filename, _, line = location.rpartition(":")
    return filename, int(line)


def update_catalogs(root: Path | None = None) -> dict[str, dict[str, int]]:
    """Bring `locales/{nl,en}/LC_MESSAGES/bot.po` in step with the texts in code and dialogs.

    New texts are added (Dutch: msgstr = msgid; English: empty, to translate), texts no longer
    used are dropped without `#~` leftovers, existing translations and translator comments stay.
    A changed Dutch text is simply a new msgid: its English translation has to be written anew.
    Returns, per locale, how many entries were added, removed, and are left untranslated.
    """
    root = root or ROOT
    found = extract_all(root)
    report: dict[str, dict[str, int]] = {}
    for locale in SUPPORTED_LOCALES:
        path = catalog_path(locale, root / "locales")
        catalog = _open_catalog(locale, root)
        before = _entries(catalog)
        previous = {str(m.id): m for m in catalog if m.id}
        removed = len((set(previous) | set(catalog.obsolete)) - set(found))
        catalog.obsolete.clear()
        for msgid in previous:
            del catalog[msgid]
        for msgid, where in sorted(found.items()):
            translation, flags, user_comments = "", set[str](), list[str]()
            if msgid in previous:
                old = previous[msgid]
                translation, flags = str(old.string), set(old.flags)
                user_comments = old.user_comments
            if locale == "nl" and (not translation or "fuzzy" in flags):
                # Dutch is the source language: its translation is the msgid itself.
                translation = msgid
                flags.discard("fuzzy")
            catalog.add(
                msgid,
                translation,
                locations=[_location(location) for location in where.locations],
                flags=flags,
                auto_comments=where.comments,
                user_comments=user_comments,
            )
        after = _entries(catalog)
        if after != before or removed or not path.exists():
            # Stamped only on a real change, so running `update` twice leaves the file alone.
            catalog.revision_date = datetime.now(UTC)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as handle:
                write_po(handle, catalog, width=100, sort_output=True, ignore_obsolete=True)
        report[locale] = {
            "added": len(set(found) - set(previous)),
            "removed": removed,
            "untranslated": sum(1 for m in catalog if m.id and (not m.string or m.fuzzy)),
        }
    return report


@dataclass(frozen=True)
class CatalogProblem:
    locale: str
    kind: str  # "missing", "untranslated", "fuzzy", "unused" or "placeholders"
    msgid: str
    location: str  # where the text is used, or for "unused" where it sits in the catalog
    detail: str = ""

    def __str__(self) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.locale}: {self.kind}{detail}: {self.location}: {self.msgid!r}"


def _catalogs(root: Path) -> dict[str, Catalog]:
    return {locale: _open_catalog(locale, root) for locale in SUPPORTED_LOCALES}


def _gap(entry: Message | None) -> str | None:
    if entry is None:
        return "missing"
    if not entry.string:
        return "untranslated"
    return "fuzzy" if entry.fuzzy else None


def _missing(
    found: Mapping[str, Occurrences], catalogs: Mapping[str, Catalog]
) -> list[CatalogProblem]:
    problems = []
    for locale, catalog in catalogs.items():
        for msgid, where in sorted(found.items()):
            kind = _gap(catalog.get(msgid))
            if kind:
                problems.append(CatalogProblem(locale, kind, msgid, ", ".join(where.locations)))
    return problems


def _unused(
    found: Mapping[str, Occurrences], catalogs: Mapping[str, Catalog], root: Path
) -> list[CatalogProblem]:
    problems = []
    for locale, catalog in catalogs.items():
        path = catalog_path(locale, root / "locales").relative_to(root).as_posix()
        stale = [m for m in catalog if m.id and m.id not in found]
        stale += [m for m in catalog.obsolete.values() if m.id not in found]
        for entry in stale:
            location = f"{path}:{entry.lineno}" if entry.lineno else path
            problems.append(CatalogProblem(locale, "unused", str(entry.id), location))
    return problems


def placeholders(text: str) -> set[str] | None:
    """The `{names}` that str.format fills in `text`; None when its braces do not parse."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return None


def _placeholder_mismatches(
    found: Mapping[str, Occurrences], catalogs: Mapping[str, Catalog]
) -> list[CatalogProblem]:
    problems = []
    for locale, catalog in catalogs.items():
        for msgid, where in sorted(found.items()):
            entry = catalog.get(msgid)
            if entry is None or not entry.string:
                continue
            source, translation = placeholders(msgid), placeholders(str(entry.string))
            if source is None or translation is None or source != translation:
                detail = f"source {_show(source)}, translation {_show(translation)}"
                problems.append(
                    CatalogProblem(
                        locale, "placeholders", msgid, ", ".join(where.locations), detail
                    )
                )
    return problems


def _show(names: set[str] | None) -> str:
    if names is None:
        return "has unbalanced braces"
    return "{" + "} {".join(sorted(names)) + "}" if names else "none"


def missing_translations(root: Path | None = None) -> list[CatalogProblem]:
    """Extracted texts absent from a catalog, or there with an empty or fuzzy msgstr."""
    root = root or ROOT
    return _missing(extract_all(root), _catalogs(root))


def unused_entries(root: Path | None = None) -> list[CatalogProblem]:
    """Catalog entries (also `#~` ones) whose msgid is no longer extracted."""
    root = root or ROOT
    return _unused(extract_all(root), _catalogs(root), root)


def placeholder_mismatches(root: Path | None = None) -> list[CatalogProblem]:
    """Translations whose `{placeholders}` differ from their msgid's (or whose braces break)."""
    root = root or ROOT
    return _placeholder_mismatches(extract_all(root), _catalogs(root))


def catalog_problems(root: Path | None = None) -> list[CatalogProblem]:
    """All of the above, extracting and reading the catalogs once."""
    root = root or ROOT
    found, catalogs = extract_all(root), _catalogs(root)
    return (
        _missing(found, catalogs)
        + _unused(found, catalogs, root)
        + _placeholder_mismatches(found, catalogs)
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.text.extract",
        description="update: bring the catalogs in step with code and dialogs; "
        "check: list every missing or untranslated text (exit status 1 if any).",
    )
    parser.add_argument("command", choices=("update", "check"))
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="project folder (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if args.command == "update":
        for locale, counts in update_catalogs(args.root).items():
            print(f"{locale}: " + ", ".join(f"{count} {what}" for what, count in counts.items()))
        return 0
    problems = catalog_problems(args.root)
    for problem in problems:
        print(problem)
    print(f"{len(problems)} problem(s)" if problems else "catalogs complete")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
