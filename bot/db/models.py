"""The tables of the bot: caregivers, their dialog position, every answer and every result.

All state lives here, never only in process memory, so any instance can handle any update and a
restart loses nothing. Later features add their own tables in their own modules and migrations.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC time")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads it as a class attribute)
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


# Column `info` key for a copy of something personal of a caregiver in a row that outlives them
# (a notice's sender name): its value names the row's column pointing at that caregiver, and
# erasing the caregiver blanks the column (NULL, or "" for a required text; see
# `bot.features.privacy.forget_caregiver`).
ERASED_WITH = "erased_with"


class Caregiver(Base):
    """One person talking to the bot, created at the first update.

    Personal answers are stored only with consent (`consent_version` set).
    """

    __tablename__ = "caregiver"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    locale: Mapped[str | None] = mapped_column(String(8))
    consent_version: Mapped[int | None] = mapped_column(Integer)
    consent_at: Mapped[datetime | None]
    consent_declined_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    unreachable_at: Mapped[datetime | None]


class DialogState(Base):
    """Where a caregiver is in a dialog: one row per caregiver and unfinished dialog, so a paused
    self-check keeps its place while the check-ins are set up. Which one takes typed input is
    the open step (`OpenStep.detail`). `run_id` NULL marks a view-only pass ("alleen bekijken",
    nothing stored; see `bot.features.questionnaire`)."""

    __tablename__ = "dialog_state"

    caregiver_id: Mapped[int] = mapped_column(
        ForeignKey("caregiver.id", ondelete="CASCADE"), primary_key=True
    )
    dialog_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    dialog_version: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("dialog_run.id", ondelete="CASCADE"))
    data: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class OpenStep(Base):
    """The one step a caregiver is in that waits for their input (see `bot.app.router`): at most
    one row per caregiver; starting another flow replaces it, so an old draft never captures text.

    `owner` names the registered input owner ("dialog", "steunpunt.search", ...); `expects` the
    event kinds it takes, comma-separated; after `expires_at` the step is as good as closed."""

    __tablename__ = "open_step"

    caregiver_id: Mapped[int] = mapped_column(
        ForeignKey("caregiver.id", ondelete="CASCADE"), primary_key=True
    )
    owner: Mapped[str] = mapped_column(String(64))
    # What of the owner's: for "dialog", the id of the dialog that asks.
    detail: Mapped[str | None] = mapped_column(String(64))
    expects: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class DialogRun(Base):
    """One pass through a dialog (e.g. one self-check), from its first question to its result."""

    __tablename__ = "dialog_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    caregiver_id: Mapped[int] = mapped_column(
        ForeignKey("caregiver.id", ondelete="CASCADE"), index=True
    )
    dialog_id: Mapped[str] = mapped_column(String(64))
    dialog_version: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class Answer(Base):
    """Every answer given, with its time; a changed answer is a new row, the latest one counts."""

    __tablename__ = "answer"
    __table_args__ = (Index("ix_answer_caregiver_time", "caregiver_id", "answered_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("dialog_run.id", ondelete="CASCADE"), index=True)
    caregiver_id: Mapped[int] = mapped_column(ForeignKey("caregiver.id", ondelete="CASCADE"))
    dialog_id: Mapped[str] = mapped_column(String(64))
    question_id: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text)
    score: Mapped[int | None] = mapped_column(Integer)
    answered_at: Mapped[datetime]


class Result(Base):
    """The outcome of a completed scored dialog: score, band and flags such as `urgent`."""

    __tablename__ = "result"
    __table_args__ = (Index("ix_result_caregiver_time", "caregiver_id", "completed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("dialog_run.id", ondelete="CASCADE"), unique=True
    )
    caregiver_id: Mapped[int] = mapped_column(ForeignKey("caregiver.id", ondelete="CASCADE"))
    dialog_id: Mapped[str] = mapped_column(String(64))
    score: Mapped[int] = mapped_column(Integer)
    max_score: Mapped[int] = mapped_column(Integer)
    band: Mapped[str] = mapped_column(String(32))
    flags: Mapped[dict[str, Any]]
    completed_at: Mapped[datetime]


class ProcessedUpdate(Base):
    """Telegram update ids already handled, so a re-delivered update is acknowledged and ignored."""

    __tablename__ = "processed_update"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


def utcnow() -> datetime:
    return datetime.now(UTC)
