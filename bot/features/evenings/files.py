"""Files of the family evenings: the calendar file (.ics) of an evening, the QR code (PNG) of a
location's subscription link, and the printable A4 poster with it (PNG and PDF). Pure functions
of their inputs.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import segno
from icalendar import Calendar, Event
from PIL import Image, ImageDraw, ImageFont

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


# A4 at 200 dots per inch: sharp enough to print, small enough to mail.
POSTER_DPI = 200
POSTER_SIZE = (1654, 2339)
_MARGIN = 130


def poster_png(name: str, line: str, link: str) -> bytes:
    """An A4 poster for a location's entrance: its name, one line of explanation, the QR code
    and the link in text (for who cannot scan). Pillow's own font: no system fonts needed."""
    width, height = POSTER_SIZE
    page = Image.new("RGB", POSTER_SIZE, "white")
    draw = ImageDraw.Draw(page)
    y = 170
    for text, size, gap in ((name, 96, 30), (line, 50, 20)):
        font = ImageFont.load_default(size=size)
        for row in _wrapped(draw, text, font, width - 2 * _MARGIN):
            box = draw.textbbox((0, 0), row, font=font)
            draw.text(((width - box[2]) / 2, y), row, fill="black", font=font)
            y += int(box[3]) + gap
        y += 50
    qr_side = width - 4 * _MARGIN
    qr = Image.open(io.BytesIO(qr_png(link, scale=1))).convert("RGB")
    qr = qr.resize((qr_side, qr_side), Image.Resampling.NEAREST)
    y = max(y, (height - qr_side) // 2 - 60)
    page.paste(qr, ((width - qr_side) // 2, y))
    y += qr_side + 40
    font = ImageFont.load_default(size=40)
    for row in _wrapped(draw, link, font, width - 2 * _MARGIN, by_character=True):
        box = draw.textbbox((0, 0), row, font=font)
        draw.text(((width - box[2]) / 2, y), row, fill="black", font=font)
        y += int(box[3]) + 12
    out = io.BytesIO()
    page.save(out, format="PNG", dpi=(POSTER_DPI, POSTER_DPI))
    return out.getvalue()


def poster_pdf(png: bytes) -> bytes:
    """The poster as a one-page A4 PDF (Pillow's PDF writer: the page is the rendered image)."""
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(out, format="PDF", resolution=POSTER_DPI)
    return out.getvalue()


def _wrapped(
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    width: int,
    *,
    by_character: bool = False,
) -> list[str]:
    """`text` in rows no wider than `width`: by words, or by characters (a link has no spaces)."""
    parts = list(text) if by_character else text.split()
    joiner = "" if by_character else " "
    rows: list[str] = []
    for part in parts:
        candidate = f"{rows[-1]}{joiner}{part}" if rows else part
        if rows and draw.textlength(candidate, font=font) <= width:
            rows[-1] = candidate
        else:
            rows.append(part)
    return rows


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
