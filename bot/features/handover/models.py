"""The warm handover's tables: a caregiver's request that their steunpunt gets in touch, the
messages exchanged about it through the bot, the audit of who picked it up and closed it, and the
count of requests for steunpunten nobody in the bot works for yet.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import ERASED_WITH, Base

# The staff member's name in an audit row: blanked when that person erases themselves.
ERASED_WITH_ACTOR = {ERASED_WITH: "actor_caregiver_id"}

DRAFT, SENT, PICKED_UP, CLOSED, WITHDRAWN = "draft", "sent", "picked_up", "closed", "withdrawn"
OPEN = (SENT, PICKED_UP)
OUTCOMES = ("contact", "no_answer", "referred")


class HandoverRequest(Base):
    """One request for contact, from the caregiver to the staff of one steunpunt.

    `draft` while the caregiver chooses (what may be seen, how and when to be reached), then
    `sent`, `picked_up` (by `picked_up_by`, whose first name the caregiver is told), `closed`
    with an `outcome`, or `withdrawn` by the caregiver. `shared` holds only what the caregiver
    said yes to, by share-source name (see `bot.app.registry.ShareSource`), as it was when they
    said yes; `note` and `phone` only when given. `closed_at` is also set at withdrawal: the
    retention period counts from it.

    Pitfall: every reader must check who asks (`bot.features.handover.requests`): the caregiver
    by `caregiver_id`, staff by an active membership of `steunpunt_key`."""

    __tablename__ = "handover_request"
    __table_args__ = (Index("ix_handover_request_steunpunt_status", "steunpunt_key", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    caregiver_id: Mapped[int] = mapped_column(
        ForeignKey("caregiver.id", ondelete="CASCADE"), index=True
    )
    steunpunt_key: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default=DRAFT)
    # The first name Telegram shows for the caregiver, so staff know whom they talk to.
    caregiver_name: Mapped[str] = mapped_column(String(60), default="")
    # Share sources still to ask about while choosing, then nothing.
    asking: Mapped[list[str]] = mapped_column(JSON, default=list)
    shared: Mapped[dict[str, Any]]
    note: Mapped[str | None] = mapped_column(Text)
    reach: Mapped[str] = mapped_column(String(16), default="")  # "message" | "phone"
    phone: Mapped[str | None] = mapped_column(String(32))
    part_of_day: Mapped[str] = mapped_column(String(16), default="")
    days: Mapped[str] = mapped_column(String(16), default="")
    locale: Mapped[str] = mapped_column(String(8), default="nl")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # From this moment on, a request nobody picked up reminds the staff once a working day.
    remind_from: Mapped[datetime | None]
    reminded_on: Mapped[date | None] = mapped_column(Date)
    picked_up_at: Mapped[datetime | None]
    picked_up_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_member.id", ondelete="SET NULL")
    )
    picked_up_name: Mapped[str] = mapped_column(String(60), default="")
    closed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))


class HandoverMessage(Base):
    """One message about a request, from the caregiver or from the staff member who picked it
    up; `caregiver_id` is the request's caregiver (whose data it is, for export and erase)."""

    __tablename__ = "handover_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("handover_request.id", ondelete="CASCADE"), index=True
    )
    caregiver_id: Mapped[int] = mapped_column(
        ForeignKey("caregiver.id", ondelete="CASCADE"), index=True
    )
    from_staff: Mapped[bool]
    staff_name: Mapped[str] = mapped_column(String(60), default="")
    text: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime]


class HandoverAudit(Base):
    """Who did what with a request, and when: sent, picked up, closed (with the outcome),
    withdrawn. Never what was shared or written. Outlives the request (no foreign key on
    `request_id`); the staff member's name goes when they erase themselves."""

    __tablename__ = "handover_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(Integer, index=True)
    steunpunt_key: Mapped[str] = mapped_column(String(40))
    event: Mapped[str] = mapped_column(String(16))
    staff_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_member.id", ondelete="SET NULL")
    )
    actor_caregiver_id: Mapped[int | None] = mapped_column(
        ForeignKey("caregiver.id", ondelete="SET NULL"), index=True
    )
    staff_name: Mapped[str] = mapped_column(String(60), default="", info=ERASED_WITH_ACTOR)
    outcome: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[datetime]


class HandoverDemand(Base):
    """A caregiver asked for contact with a steunpunt that has no active staff in the bot: only
    which steunpunt and when, nothing about the caregiver (`python -m bot steunpunt report`)."""

    __tablename__ = "handover_demand"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    steunpunt_key: Mapped[str] = mapped_column(String(40), index=True)
    asked_at: Mapped[datetime]
