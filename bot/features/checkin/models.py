"""Tables of the check-ins: each caregiver's schedule (and what is asked right now), and every
answer with its time. The due check-ins themselves are `bot.jobs.scheduled.ScheduledMessage` rows.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base


class CheckinSchedule(Base):
    """How often a caregiver wants a check-in, and where the open check-in stands.

    `asked_seq` counts the questions sent; buttons carry it, so a button of an older check-in is
    recognised. `awaiting` is "score" while the question is open and "note" while the optional
    follow-up may still be typed (until `awaiting_until`).
    """

    __tablename__ = "checkin_schedule"

    caregiver_id: Mapped[int] = mapped_column(
        ForeignKey("caregiver.id", ondelete="CASCADE"), primary_key=True
    )
    cadence: Mapped[str] = mapped_column(String(16))  # weekly | biweekly | monthly | off
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday
    minute: Mapped[int] = mapped_column(Integer)  # local time of day, minutes after midnight
    asked_seq: Mapped[int] = mapped_column(Integer, default=0)
    asked_at: Mapped[datetime | None]
    awaiting: Mapped[str | None] = mapped_column(String(8))
    awaiting_until: Mapped[datetime | None]
    note_answer_id: Mapped[int | None] = mapped_column(Integer)
    full_check_offered_at: Mapped[datetime | None]
    # No check-ins before this local date (a hospital stay); then the same rhythm again.
    paused_until: Mapped[date | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CheckinAnswer(Base):
    """One answer to a check-in: how heavy caring is (0-10), an optional note, and when."""

    __tablename__ = "checkin_answer"
    __table_args__ = (Index("ix_checkin_answer_caregiver_time", "caregiver_id", "answered_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    caregiver_id: Mapped[int] = mapped_column(ForeignKey("caregiver.id", ondelete="CASCADE"))
    score: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    note_kind: Mapped[str | None] = mapped_column(String(16))  # weighs | helped
    asked_at: Mapped[datetime | None]
    answered_at: Mapped[datetime]
