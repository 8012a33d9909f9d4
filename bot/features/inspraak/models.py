"""Tables of inspraak: the question (draft, open, closed), the counts per choice, the comments,
and who answered (not what), so nobody answers twice.

Anonymity is in the shape of the tables: a choice only raises a counter (`InspraakTally`, no row
per answer, no time, no order), a comment is a row of its own with a random id and no time, and
the only row that names a caregiver (`InspraakAnswered`) says that they answered, not what.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import ERASED_WITH, Base

ERASED_WITH_SENDER = {ERASED_WITH: "sender_caregiver_id"}


class InspraakQuestion(Base):
    """One question of a steunpunt (or an operator) to the caregivers of its area.

    `status`: draft (being written; `step` says what is asked), open (sent as the notice
    `broadcast_id`; answers are taken until `closes_at`), closed (`closed_at`; results shown).
    `municipality_codes` narrows a steunpunt's area (empty: all of it). A question of the
    operator has no `steunpunt_key` and no `sender_member_id`: `sender_operator_id` (their
    Telegram user id) and exactly one municipality in `municipality_codes`. Like a notice, the
    question outlives its sender for the record, without their name when they are erased."""

    __tablename__ = "inspraak_question"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    step: Mapped[str] = mapped_column(String(16), default="question")
    steunpunt_key: Mapped[str | None] = mapped_column(String(40))
    municipality_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    source_name: Mapped[str] = mapped_column(String(200), default="")
    question: Mapped[str] = mapped_column(String(200), default="")
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    allow_comment: Mapped[bool] = mapped_column(Boolean, default=True)
    sender_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_member.id", ondelete="SET NULL")
    )
    sender_operator_id: Mapped[int | None] = mapped_column(BigInteger, info=ERASED_WITH_SENDER)
    sender_caregiver_id: Mapped[int | None] = mapped_column(
        ForeignKey("caregiver.id", ondelete="SET NULL"), index=True
    )
    sender_name: Mapped[str] = mapped_column(String(120), default="", info=ERASED_WITH_SENDER)
    broadcast_id: Mapped[int | None] = mapped_column(
        ForeignKey("broadcast.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    closes_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]


class InspraakTally(Base):
    """How many chose option `option` (its index in the question's options): a counter only."""

    __tablename__ = "inspraak_tally"

    question_id: Mapped[int] = mapped_column(
        ForeignKey("inspraak_question.id", ondelete="CASCADE"), primary_key=True
    )
    option: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer, default=0)


class InspraakComment(Base):
    """A comment as staff may see it: names and numbers already taken out (`scrub`), a random
    id, no time and no link to the caregiver or to their choice."""

    __tablename__ = "inspraak_comment"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("inspraak_question.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)


class InspraakAnswered(Base):
    """That a caregiver answered a question (and whether they added a comment), never what:
    the guard against answering twice. Only the caregiver's own export shows it."""

    __tablename__ = "inspraak_answered"

    question_id: Mapped[int] = mapped_column(
        ForeignKey("inspraak_question.id", ondelete="CASCADE"), primary_key=True
    )
    caregiver_id: Mapped[int] = mapped_column(
        ForeignKey("caregiver.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    answered_at: Mapped[datetime]
    commented: Mapped[bool] = mapped_column(Boolean, default=False)
