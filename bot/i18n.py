"""Translations through Babel gettext catalogs (`locales/<lang>/LC_MESSAGES/bot.po`).

Dutch is the source language: msgids are the Dutch texts of `dialogs/*.yaml`. Catalogs are
compiled in memory at first use, so no .mo files need to be built or committed.
"""

from __future__ import annotations

import gettext
import logging
from datetime import date, datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

log = logging.getLogger(__name__)

SUPPORTED_LOCALES = ("nl", "en")
DEFAULT_LOCALE = "nl"
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "bot"
_BABEL_LOCALES = {"nl": "nl_NL", "en": "en_GB"}
_DATETIME_PATTERNS = {"nl": "EEEE d MMMM y 'om' HH:mm", "en": "EEEE d MMMM y 'at' HH:mm"}
_strict = False
_warned: set[tuple[str, str]] = set()


def N_(message: str) -> str:
    """Mark a string for extraction without translating it here."""
    return message


class MissingTranslation(LookupError):
    def __init__(self, locale: str, msgid: str) -> None:
        super().__init__(f"no {locale} translation for {msgid[:80]!r}")
        self.locale = locale
        self.msgid = msgid


def set_strict(enabled: bool) -> None:
    """In strict mode (tests) a text missing from a catalog raises instead of falling back."""
    global _strict
    _strict = enabled


def choose_locale(stored: str | None, telegram_language_code: str | None) -> str:
    """The stored preference, else Telegram's language (primary subtag), else Dutch."""
    if stored in SUPPORTED_LOCALES:
        return stored
    if telegram_language_code:
        primary = telegram_language_code.replace("_", "-").split("-", 1)[0].lower()
        if primary in SUPPORTED_LOCALES:
            return primary
    return DEFAULT_LOCALE


def catalog_path(locale: str, root: Path = LOCALES_DIR) -> Path:
    return root / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


class Translator:
    def __init__(self, locale: str, translations: gettext.GNUTranslations, known: frozenset[str]):
        self.locale = locale
        self.babel_locale = Locale.parse(_BABEL_LOCALES[locale])
        self._translations = translations
        self._known = known

    def gettext(self, msgid: str) -> str:
        if not msgid:
            return ""
        if msgid not in self._known:
            if _strict:
                raise MissingTranslation(self.locale, msgid)
            if (self.locale, msgid) not in _warned:
                _warned.add((self.locale, msgid))
                log.warning(
                    "missing %s translation for a text of %d characters", self.locale, len(msgid)
                )
            return msgid
        return self._translations.gettext(msgid)

    def format_date(
        self, value: date | datetime, format: str = "long", tz: str = "Europe/Amsterdam"
    ) -> str:
        if isinstance(value, datetime):
            value = value.astimezone(ZoneInfo(tz)).date() if value.tzinfo else value.date()
        return babel_format_date(value, format=format, locale=self.babel_locale)

    def format_datetime(self, value: datetime, tz: str = "Europe/Amsterdam") -> str:
        return babel_format_datetime(
            value, _DATETIME_PATTERNS[self.locale], tzinfo=ZoneInfo(tz), locale=self.babel_locale
        )

    def format_number(self, value: float) -> str:
        return format_decimal(value, locale=self.babel_locale)


def load_catalog(locale: str, root: Path = LOCALES_DIR):
    with catalog_path(locale, root).open("rb") as handle:
        return read_po(handle, locale=_BABEL_LOCALES[locale], domain=DOMAIN)


@cache
def get_translator(locale: str) -> Translator:
    if locale not in SUPPORTED_LOCALES:
        locale = DEFAULT_LOCALE
    catalog = load_catalog(locale)
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    known = frozenset(
        str(m.id) for m in catalog if m.id and isinstance(m.id, str) and m.string and not m.fuzzy
    )
    return Translator(locale, gettext.GNUTranslations(buffer), known)
