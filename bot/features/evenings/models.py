"""Tables of the family evenings of care-home locations: the evenings, the families' answers
(RSVPs). A staff member planning or editing an evening is in a dialog (`dialog_state`).

Who hears about a location's evenings is `LocationSubscription` (bot.db.staff); the
invitations and reminders themselves are rows of `bot.jobs.scheduled.ScheduledMessage`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base


class FamilyEvening(Base):
    """A family evening (or other contact moment) of one location.

    `version` goes up with every change; reminders carry the version they were planned for, so a
    reminder of a moved evening is recognised and not sent. `status`: active | cancelled.
    """

    __tablename__ = "family_evening"
    __table_args__ = (Index("ix_family_evening_location_start", "location_id", "starts_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(120))
    starts_at: Mapped[datetime]
    place: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    max_guests: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_member.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)


class EveningRsvp(Base):
    """One family member's answer to one evening: yes | maybe | no, with how many people.

    `display_name` is the name Telegram showed when they answered: the staff of the location see
    it in the list of who comes. A "yes" that did not fit any more is `waitlisted`.
    """

    __tablename__ = "evening_rsvp"

    evening_id: Mapped[int] = mapped_column(
        ForeignKey("family_evening.id", ondelete="CASCADE"), primary_key=True
    )
    caregiver_id: Mapped[int] = mapped_column(
        ForeignKey("caregiver.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    answer: Mapped[str] = mapped_column(String(8))
    party_size: Mapped[int] = mapped_column(Integer, default=1)
    display_name: Mapped[str] = mapped_column(String(120), default="")
    waitlisted: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_at: Mapped[datetime]
