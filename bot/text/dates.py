"""The one reader of dates and times that people type, Dutch and English: "vrijdag 12 december
19:30", "12-12 19.30", "ma 30/11 10:00", "morgen 19 uur", "friday 10:00", "tomorrow 9am",
"10:30". Pure functions; moments are read in Europe/Amsterdam and returned in UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.text.i18n import DEFAULT_TIMEZONE

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
    "maandag": 0, "ma": 0, "monday": 0, "mon": 0,
    "dinsdag": 1, "di": 1, "tuesday": 1, "tue": 1, "tues": 1,
    "woensdag": 2, "wo": 2, "wednesday": 2, "wed": 2,
    "donderdag": 3, "do": 3, "thursday": 3, "thu": 3, "thur": 3, "thurs": 3,
    "vrijdag": 4, "vr": 4, "friday": 4, "fri": 4,
    "zaterdag": 5, "za": 5, "saturday": 5, "sat": 5,
    "zondag": 6, "zo": 6, "sunday": 6, "sun": 6,
}  # fmt: skip
RELATIVE = {
    "vandaag": 0, "today": 0, "morgen": 1, "tomorrow": 1, "overmorgen": 2,
}  # fmt: skip


def at_local(day: date, at: time, tz: str = DEFAULT_TIMEZONE) -> datetime:
    """`day` at wall time `at` in `tz`, as UTC. zoneinfo applies the offset valid on that day, so
    19:30 stays 19:30 on both sides of a daylight-saving change."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def local_date(moment: datetime, tz: str = DEFAULT_TIMEZONE) -> date:
    return moment.astimezone(ZoneInfo(tz)).date()


def parse_form_datetime(value: str, tz: str = DEFAULT_TIMEZONE) -> datetime | None:
    """A web form's date-and-time field ("2026-12-12T19:30", the browser's `datetime-local`),
    meant as wall time in `tz`, as UTC; None when it is not one."""
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::\d{2})?", value.strip())
    if match is None:
        return None
    year, month, day, hour, minute = (int(part) for part in match.groups())
    try:
        return at_local(date(year, month, day), time(hour, minute), tz)
    except ValueError:
        return None


def form_datetime(moment: datetime, tz: str = DEFAULT_TIMEZONE) -> str:
    """A moment as a `datetime-local` form value in `tz` (the other way round)."""
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M")


def _alternation(words: dict[str, int]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))


_DATE = rf"""
    (?:(?P<weekday>{_alternation(WEEKDAYS)})\.?,?\s*)?
    (?:
        (?P<relative>{_alternation(RELATIVE)})
      | (?P<day>\d{{1,2}})\s*[-/.]\s*(?P<month>\d{{1,2}})(?!\d)
        (?:\s*[-/.]\s*(?P<year>\d{{4}}|\d{{2}})(?!\d))?
      | (?P<day2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month_name>{_alternation(MONTHS)})\.?
        (?:\s+(?P<year2>\d{{4}})(?!\d))?
      | (?P<month_name3>{_alternation(MONTHS)})\.?\s+(?P<day3>\d{{1,2}})(?:st|nd|rd|th)?
        (?:\s+(?P<year3>\d{{4}})(?!\d))?
    )?"""
_TIME = r"""
    (?:om\s+|at\s+)?(?P<hour>\d{1,2})(?:\s*[:.u]\s*(?P<minute>\d{2}))?
    \s*(?P<ampm>am|pm|a\.m\.|p\.m\.)?\s*(?:uur|u|h|o'clock)?"""
_DATETIME = re.compile(r"^" + _DATE + r"\s*,?\s*" + _TIME + r"$", re.VERBOSE)
_DATE_ONLY = re.compile(r"^" + _DATE + r"$", re.VERBOSE)
_TIME_ONLY = re.compile(r"^" + _TIME + r"$", re.VERBOSE)


@dataclass(frozen=True)
class WhenError(Exception):
    """Why typed text is not a usable date or time: a reason and its values.

    Reasons: "not_understood", "no_time" (a date without a time where both are needed),
    "no_date" (a time alone where a date is needed), "weekday_mismatch" (values: date),
    "no_such_date", "past", "too_far". Each caller words them in its own messages."""

    reason: str
    values: dict[str, object] = field(default_factory=dict)


def _clean(text: str) -> str:
    return " ".join(text.casefold().replace(",", " ").split())


def parse_time(text: str) -> time:
    """A clock time ("10:30", "10.30", "19 uur", "9am", "om 7 uur"); raises `WhenError`."""
    match = _TIME_ONLY.match(_clean(text))
    if match is None:
        raise WhenError("not_understood")
    return _time(match.groupdict())


def parse_date(
    text: str, today: date, *, weekday_today: bool = True, max_ahead: timedelta | None = None
) -> date:
    """A day ("12 december", "12-12", "vrijdag", "morgen", "ma 30/11"); raises `WhenError`.

    Without a year the next such date is meant (today counts). A weekday alone is the next such
    day (today too, unless `weekday_today` is false). A weekday given with a date must match."""
    typed = _clean(text)
    match = _DATE_ONLY.match(typed)
    if not typed or match is None or not any(match.groupdict().values()):
        if typed and _TIME_ONLY.match(typed):
            raise WhenError("no_date")
        raise WhenError("not_understood")
    parts = match.groupdict()
    weekday = WEEKDAYS[parts["weekday"]] if parts["weekday"] else None
    day = _day(parts, today, weekday, weekday_today)
    if weekday is not None and day.weekday() != weekday:
        raise WhenError("weekday_mismatch", {"date": day})
    if max_ahead is not None and day - today > max_ahead:
        raise WhenError("too_far")
    return day


def parse_datetime(
    text: str,
    now: datetime,
    tz: str = DEFAULT_TIMEZONE,
    *,
    max_ahead: timedelta | None = None,
) -> datetime:
    """A moment in the future typed as a day and a time (aware UTC); raises `WhenError`.

    A time alone is today (so "past" when it has gone by); a weekday alone with a time is the
    next such day, today if the time is still to come."""
    typed = _clean(text)
    match = _DATETIME.match(typed)
    if match is None:
        if typed and _DATE_ONLY.match(typed):
            raise WhenError("no_time")
        raise WhenError("not_understood")
    parts = match.groupdict()
    at = _time(parts)
    today = local_date(now, tz)
    weekday = WEEKDAYS[parts["weekday"]] if parts["weekday"] else None
    if _has_date(parts):
        day = _day(parts, today, weekday, True)
    elif weekday is not None:
        day = today + timedelta(days=(weekday - today.weekday()) % 7)
        if at_local(day, at, tz) <= now:
            day += timedelta(days=7)
    else:
        day = today
    if weekday is not None and day.weekday() != weekday:
        raise WhenError("weekday_mismatch", {"date": day})
    moment = at_local(day, at, tz)
    if moment <= now:
        raise WhenError("past")
    if max_ahead is not None and moment - now > max_ahead:
        raise WhenError("too_far")
    return moment


def _has_date(parts: dict[str, str | None]) -> bool:
    return any(parts[k] for k in ("relative", "day", "day2", "day3"))


def _time(parts: dict[str, str | None]) -> time:
    hour, minute = int(parts["hour"] or 0), int(parts["minute"] or 0)
    ampm = (parts.get("ampm") or "").replace(".", "")
    if ampm:
        if not 1 <= hour <= 12:
            raise WhenError("not_understood")
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if hour > 23 or minute > 59:
        raise WhenError("not_understood")
    return time(hour, minute)


def _day(
    parts: dict[str, str | None], today: date, weekday: int | None, weekday_today: bool
) -> date:
    if parts["relative"]:
        return today + timedelta(days=RELATIVE[parts["relative"]])
    number_text = parts["day"] or parts["day2"] or parts["day3"]
    if number_text:
        number = int(number_text)
        name = parts["month_name"] or parts["month_name3"]
        month = int(parts["month"]) if parts["month"] else MONTHS[name or ""]
        year_text = parts["year"] or parts["year2"] or parts["year3"]
        if year_text:
            year = int(year_text) + (2000 if len(year_text) == 2 else 0)
            try:
                return date(year, month, number)
            except ValueError:
                raise WhenError("no_such_date") from None
        for year in range(today.year, today.year + 5):  # 29 February: the next leap year
            try:
                found = date(year, month, number)
            except ValueError:
                continue
            if found >= today:
                return found
        raise WhenError("no_such_date")
    assert weekday is not None, "the pattern matched something"
    ahead = (weekday - today.weekday()) % 7
    if ahead == 0 and not weekday_today:
        ahead = 7
    return today + timedelta(days=ahead)
