"""Files of the family evenings: the calendar file (.ics) of an evening and the QR code (PNG) of a
location's subscription link. Pure functions of their inputs.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import segno
from icalendar import Calendar, Event

# An evening has no end time in the bot; calendars need one. Two hours is a usual evening.
EVENING_LENGTH = timedelta(hours=2)
SUBSCRIBE_PREFIX = "loc"
ICS_FILENAME = "familieavond.ics"


def subscribe_link(bot_username: str, location_key: str) -> str:
    """The Telegram deep link that asks to subscribe to a location's evenings."""
    return f"https://t.me/{bot_username}?start={SUBSCRIBE_PREFIX}_{location_key}"


def qr_png(link: str, scale: int = 16) -> bytes:
    """A QR code of `link` as PNG, large enough to print on an A4 poster (error correction M:
    still readable with a smudge or a reflection on the poster's plastic sleeve)."""
    buffer = io.BytesIO()
    segno.make(link, error="m", micro=False).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def evening_ics(
    *,
    uid: str,
    title: str,
    starts_at: datetime,
    place: str,
    address: str,
    description: str,
    version: int,
    stamp: datetime,
) -> bytes:
    """One VEVENT in UTC (every calendar app shows it in the phone's own time zone).

    `uid` stays the same for an evening and SEQUENCE is its version, so importing the file of a
    moved evening again updates the appointment instead of adding a second one.
    """
    calendar = Calendar()
    calendar.add("prodid", "-//mantelzorg-bot//familieavonden//NL")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", starts_at)
    event.add("dtend", starts_at + EVENING_LENGTH)
    event.add("summary", title)
    event.add("location", f"{place}, {address}" if place and place != address else address)
    if description:
        event.add("description", description)
    event.add("sequence", version)
    event.add("status", "CONFIRMED")
    calendar.add_component(event)
    return calendar.to_ical()
