"""Reading the date and time staff type for a family evening ("12-12 19:30", "12 december om
19.30", "vr 12/12 19:30", "morgen 19 uur") as a moment in Europe/Amsterdam. Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from bot.jobs.scheduled import at_local, local_date
from bot.text.i18n import DEFAULT_TIMEZONE

# How far ahead an evening may be planned: further is almost always a typing error.
MAX_AHEAD = timedelta(days=2 * 366)

MONTHS = {
    "januari": 1, "jan": 1, "january": 1,
    "februari": 2, "feb": 2, "february": 2,
    "maart": 3, "mrt": 3, "mar": 3, "march": 3,
    "april": 4, "apr": 4,
    "mei": 5, "may": 5,
    "juni": 6, "jun": 6, "june": 6,
    "juli": 7, "jul": 7, "july": 7,
    "augustus": 8, "aug": 8, "august": 8,
    "september": 9, "sept": 9, "sep": 9,
    "oktober": 10, "okt": 10, "oct": 10, "october": 10,
    "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}  # fmt: skip
WEEKDAYS = {
    "maandag": 0, "ma": 0, "dinsdag": 1, "di": 1, "woensdag": 2, "wo": 2, "donderdag": 3,
    "do": 3, "vrijdag": 4, "vr": 4, "zaterdag": 5, "za": 5, "zondag": 6, "zo": 6,
}  # fmt: skip
RELATIVE = {"vandaag": 0, "morgen": 1, "overmorgen": 2}


def _alternation(words: dict[str, int]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


_DATE = rf"""^
    (?:(?P<weekday>{_alternation(WEEKDAYS)})\.?,?\s*)?
    (?:
        (?P<relative>{_alternation(RELATIVE)})
      | (?P<day>\d{{1,2}})\s*[-/.]\s*(?P<month>\d{{1,2}})(?!\d)
        (?:\s*[-/.]\s*(?P<year>\d{{4}}|\d{{2}})(?!\d))?
      | (?P<day2>\d{{1,2}})\s+(?P<month_name>{_alternation(MONTHS)})\.?
        (?:\s+(?P<year2>\d{{4}})(?!\d))?
    )?
    \s*,?\s*"""
_TIME = r"(?:om\s+|at\s+)?(?P<hour>\d{1,2})(?:\s*[:.u]\s*(?P<minute>\d{2}))?\s*(?:uur|u|h)?"
_PATTERN = re.compile(_DATE + _TIME + "$", re.VERBOSE)
_DATE_ONLY = re.compile(_DATE + "$", re.VERBOSE)


@dataclass(frozen=True)
class WhenError(Exception):
    """Why typed text is not a usable moment: a message key and its values."""

    key: str
    values: dict[str, object] = field(default_factory=dict)


def parse_when(text: str, now: datetime, tz: str = DEFAULT_TIMEZONE) -> datetime:
    """The moment (aware UTC) typed as a Dutch date and time; raises `WhenError`.

    Without a year the next such date is meant (this year, or next year once it has passed). A
    weekday alone ("vrijdag 19:30") is the next such day, today if the time is still to come.
    A weekday given with a date must match it. The moment must lie in the future.
    """
    typed = " ".join(text.casefold().replace(",", " ").split())
    match = _PATTERN.match(typed)
    if match is None:
        if typed and _DATE_ONLY.match(typed):
            raise WhenError("evening_when_no_time")
        raise WhenError("evening_when_not_understood")
    parts = match.groupdict()
    hour, minute = int(parts["hour"]), int(parts["minute"] or 0)
    if hour > 23 or minute > 59:
        raise WhenError("evening_when_not_understood")
    at = time(hour, minute)
    today = local_date(now, tz)
    weekday = WEEKDAYS[parts["weekday"]] if parts["weekday"] else None
    day = _day(parts, today, weekday, at, now, tz)
    if weekday is not None and day.weekday() != weekday:
        raise WhenError("evening_when_weekday_mismatch", {"date": day})
    moment = at_local(day, at, tz)
    if moment <= now:
        raise WhenError("evening_when_past")
    if moment - now > MAX_AHEAD:
        raise WhenError("evening_when_too_far")
    return moment


def _day(
    parts: dict[str, str | None],
    today: date,
    weekday: int | None,
    at: time,
    now: datetime,
    tz: str,
) -> date:
    if parts["relative"]:
        return today + timedelta(days=RELATIVE[parts["relative"]])
    if parts["day"] or parts["day2"]:
        number = int(parts["day"] or parts["day2"] or 0)
        month = int(parts["month"]) if parts["month"] else MONTHS[parts["month_name"] or ""]
        year_text = parts["year"] or parts["year2"]
        if year_text:
            year = int(year_text) + (2000 if len(year_text) == 2 else 0)
            return _date(year, month, number)
        for year in range(today.year, today.year + 5):  # 29 February: the next leap year
            try:
                found = date(year, month, number)
            except ValueError:
                continue
            if found >= today:
                return found
        raise WhenError("evening_when_no_such_date")
    if weekday is not None:
        found = today + timedelta(days=(weekday - today.weekday()) % 7)
        if at_local(found, at, tz) <= now:
            found += timedelta(days=7)
        return found
    # Only a time: today, when it is still to come (else the past is reported).
    return today


def _date(year: int, month: int, number: int) -> date:
    try:
        return date(year, month, number)
    except ValueError:
        raise WhenError("evening_when_no_such_date") from None
