"""Opening hours as steunpunten write them, in Dutch ("ma t/m vr 9.00-17.00", "di en do
13.00-16.00, vr op afspraak"), shown in the reader's language. Pure functions.

The hours are free text from the directory or the steunpunt's own card. Only when every word is
one of the known Dutch forms is it rendered in English; anything else is shown as written, and
the caller says it is in Dutch, so nothing is translated wrongly.
"""

from __future__ import annotations

import re

DAYS_EN = {
    "ma": "Mon", "maandag": "Monday", "di": "Tue", "dinsdag": "Tuesday",
    "wo": "Wed", "woensdag": "Wednesday", "do": "Thu", "donderdag": "Thursday",
    "vr": "Fri", "vrijdag": "Friday", "za": "Sat", "zaterdag": "Saturday",
    "zo": "Sun", "zondag": "Sunday",
}  # fmt: skip
WORDS_EN = {
    "t/m": "to", "tot en met": "to", "en": "and", "of": "or", "tot": "until", "van": "from",
    "op afspraak": "by appointment", "gesloten": "closed", "dagelijks": "daily",
    "werkdagen": "weekdays", "ochtend": "morning", "middag": "afternoon", "avond": "evening",
    "'s ochtends": "in the morning", "'s middags": "in the afternoon",
    "'s avonds": "in the evening",
    "uur": "", "u": "", "en na afspraak": "and by appointment", "ook": "also",
}  # fmt: skip
_TIME = r"\d{1,2}(?:[.:]\d{2})?"
_DAY = "|".join(sorted(DAYS_EN, key=len, reverse=True))
_TOKEN = re.compile(
    rf"(?P<days>(?:{_DAY})\s*[-–]\s*(?:{_DAY}))(?![\w/])"
    rf"|(?P<range>{_TIME}\s*[-–]\s*{_TIME})|(?P<time>{_TIME})|(?P<punct>[,;/()]|\s+)"
    rf"|(?P<word>{'|'.join(sorted(map(re.escape, {*WORDS_EN, *DAYS_EN}), key=len, reverse=True))})"
    r"(?![\w/])",
    re.IGNORECASE,
)


def _clock(text: str) -> str:
    hour, _, minute = text.replace(".", ":").partition(":")
    return f"{int(hour)}:{minute or '00'}"


def hours_in_english(dutch: str) -> str | None:
    """The opening hours in English, or None when a word is not one of the known forms."""
    out, position = [], 0
    text = dutch.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            return None
        position = match.end()
        if match["days"]:
            first, last = re.split(r"\s*[-–]\s*", match["days"].casefold())
            out.append(f"{DAYS_EN[first]}-{DAYS_EN[last]}")
        elif match["range"]:
            start, end = re.split(r"\s*[-–]\s*", match["range"])
            out.append(f"{_clock(start)}-{_clock(end)}")
        elif match["time"]:
            out.append(_clock(match["time"]))
        elif match["punct"]:
            out.append(" " if match["punct"].isspace() else match["punct"])
        else:
            word = match["word"].casefold()
            out.append(DAYS_EN.get(word) or WORDS_EN[word])
    return " ".join("".join(out).split()).replace(" ,", ",") or None


def opening_hours(dutch: str, locale: str) -> tuple[str, bool]:
    """(the hours to show, whether they are shown as written in Dutch for an English reader)."""
    if locale == "nl":
        return dutch, False
    english = hours_in_english(dutch)
    return (english, False) if english is not None else (dutch, True)
