"""Translations through Babel gettext catalogs (`locales/<lang>/LC_MESSAGES/bot.po`).

Dutch is the source language: msgids are the Dutch texts. Here: choosing a caregiver's locale, one
cached `Translator` per locale (catalog compiled in memory, no .mo files), dates and numbers.
"""

from __future__ import annotations

import gettext
import logging
from datetime import UTC, date, datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_time as babel_format_time
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

log = logging.getLogger(__name__)

SUPPORTED_LOCALES = ("nl", "en")
DEFAULT_LOCALE = "nl"
DOMAIN = "bot"
LOCALES_DIR = Path(__file__).resolve().parent.parent.parent / "locales"
DEFAULT_TIMEZONE = "Europe/Amsterdam"

# Date part of `format_datetime` per locale: weekday in full, as people write it in a message.
_DATETIME_DATE_PATTERNS = {"nl": "EEEE d MMMM y", "en": "EEEE d MMMM y"}
# British English: our English readers live in the Netherlands and write the day first.
_BABEL_LOCALES = {"en": "en_GB"}
# A 24-hour clock in both languages: the caregivers live in the Netherlands.
_TIME_PATTERN = "HH:mm"

_strict = False
_warned: set[tuple[str, str]] = set()


def N_(message: str) -> str:
    """Mark `message` for extraction by `python -m bot.text.extract` and return it unchanged.

    There is no process-wide language: every caregiver has their own, so code only marks texts
    and the caregiver's `Translator` translates them when they are shown.
    """
    return message


# The usual gettext name for the same marker; it does NOT translate (see `N_`).
_ = N_

# Joins the date and time of `format_datetime`; in the catalog so "om" becomes "at" in English.
DATETIME_JOIN = N_("{date} om {time}")


class MissingTranslation(LookupError):
    """A shown text has no non-empty, non-fuzzy entry in the locale's catalog (strict mode)."""

    def __init__(self, locale: str, msgid: str) -> None:
        super().__init__(f"no {locale} translation for {msgid!r}")
        self.locale = locale
        self.msgid = msgid


def set_strict(enabled: bool) -> None:
    """Strict mode (tests): a missing translation raises `MissingTranslation` instead of
    falling back to the Dutch text."""
    global _strict
    _strict = enabled


def choose_locale(stored: str | None, telegram_language_code: str | None) -> str:
    """The caregiver's stored choice, else Telegram's language (primary subtag), else Dutch."""
    if stored in SUPPORTED_LOCALES:
        return stored
    if telegram_language_code:
        primary = telegram_language_code.replace("_", "-").split("-", 1)[0].lower()
        if primary in SUPPORTED_LOCALES:
            return primary
    return DEFAULT_LOCALE


def catalog_path(locale: str, locales_dir: Path = LOCALES_DIR) -> Path:
    return locales_dir / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(locale: str, locales_dir: Path = LOCALES_DIR) -> Catalog:
    """The locale's .po catalog; an empty one when the file does not exist yet."""
    path = catalog_path(locale, locales_dir)
    if not path.exists():
        return Catalog(locale=locale, domain=DOMAIN, fuzzy=False)
    with path.open("rb") as handle:
        return read_po(handle, locale=locale, domain=DOMAIN)


class _Untranslated(gettext.NullTranslations):
    """Fallback behind the compiled catalog: reached only for texts the catalog lacks."""

    def __init__(self, locale: str) -> None:
        super().__init__()
        self.locale = locale

    def gettext(self, message: str) -> str:
        if _strict:
            raise MissingTranslation(self.locale, message)
        # Once per text, or a missing translation on a busy screen floods the log. A msgid is
        # our own content, never something a caregiver typed, so it is safe to log.
        if (self.locale, message) not in _warned:
            _warned.add((self.locale, message))
            log.warning("no %s translation for %r; showing the Dutch text", self.locale, message)
        return message


class Translator:
    """One locale's texts, dates and numbers. Get it from `get_translator`."""

    def __init__(self, locale: str, catalog: Catalog) -> None:
        self.locale = locale
        self.babel_locale = Locale.parse(_BABEL_LOCALES.get(locale, locale))
        buffer = BytesIO()
        # write_mo leaves out fuzzy and empty entries, so those reach the `_Untranslated` fallback.
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        self._translations = gettext.GNUTranslations(buffer)
        self._translations.add_fallback(_Untranslated(locale))

    def gettext(self, msgid: str) -> str:
        # gettext("") would return the catalog header.
        if not msgid:
            return ""
        return self._translations.gettext(msgid)

    def format_date(
        self, value: date | datetime, format: str = "long", tz: str = DEFAULT_TIMEZONE
    ) -> str:
        """`value` as "23 november 2026" (nl) or "23 November 2026" (en).

        A datetime is first taken to `tz` (naive ones are UTC, as stored), so a moment late in
        the evening shows the date the caregiver saw on their own calendar.
        """
        if isinstance(value, datetime):
            value = _local(value, tz).date()
        return babel_format_date(value, format=format, locale=self.babel_locale)

    def format_datetime(
        self, value: datetime, tz: str = DEFAULT_TIMEZONE, format: str | None = None
    ) -> str:
        """`value` in `tz` as "maandag 23 november 2026 om 19:30" / "Monday 23 November 2026
        at 19:30". `format` replaces the date part: a Babel name ("long") or pattern."""
        moment = _local(value, tz)
        date_part = babel_format_date(
            moment.date(),
            format=format or _DATETIME_DATE_PATTERNS[self.locale],
            locale=self.babel_locale,
        )
        time_part = babel_format_time(moment.time(), _TIME_PATTERN, locale=self.babel_locale)
        return self.gettext(DATETIME_JOIN).format(date=date_part, time=time_part)

    def format_time(
        self, value: datetime, tz: str = DEFAULT_TIMEZONE, pattern: str = _TIME_PATTERN
    ) -> str:
        """The wall time of `value` in `tz`: "19:30" (a 24-hour clock in both languages)."""
        return babel_format_time(_local(value, tz).time(), pattern, locale=self.babel_locale)

    def format_number(self, value: float) -> str:
        """`value` with the locale's separators: 1.234,5 (nl), 1,234.5 (en)."""
        return format_decimal(value, locale=self.babel_locale)


def _local(value: datetime, tz: str) -> datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(tz))


def load_translator(locale: str, locales_dir: Path = LOCALES_DIR) -> Translator:
    """A fresh translator from `locales_dir`; the bot uses the cached `get_translator`."""
    if locale not in SUPPORTED_LOCALES:
        raise ValueError(f"unsupported locale {locale!r}; expected one of {SUPPORTED_LOCALES}")
    return Translator(locale, read_catalog(locale, locales_dir))


def get_translator(locale: str) -> Translator:
    """The translator for `locale`, read once per process.

    Any other language code ("en-GB", a terminal's "C.UTF-8") is read as Telegram's would be by
    `choose_locale`: showing a text must not fail on how a caller spelled the language.
    """
    return _cached_translator(choose_locale(None, locale))


@cache
def _cached_translator(locale: str) -> Translator:
    return load_translator(locale)
