"""Dutch working days: Monday to Friday, without the national holidays. The holidays come from
the `holidays` package (its Dutch calendar, kept up to date there), never from a hand list.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays

from bot.text.dates import at_local
from bot.text.i18n import DEFAULT_TIMEZONE


@cache
def _dutch_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("NL", years=year))


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _dutch_holidays(day.year)


def add_working_days(day: date, count: int) -> date:
    """The `count`-th working day after `day` (`day` itself does not count)."""
    while count > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            count -= 1
    return day


def after_working_days(moment: datetime, count: int) -> datetime:
    """The same Dutch wall-clock time `count` working days after `moment` (UTC in, UTC out):
    sent on Thursday 24 December at 10:00, two working days later is Tuesday 29 December at
    10:00 (Christmas and the weekend do not count)."""
    wall = moment.astimezone(ZoneInfo(DEFAULT_TIMEZONE))
    return at_local(add_working_days(wall.date(), count), wall.time())
