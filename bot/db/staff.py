"""Shared tables of the staff role model, read by every staff feature: care-home locations and
their subscribers, one-time staff invitations and the staff memberships they create (of one
steunpunt or of one location).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base


class Location(Base):
    """A care home or one of its departments, whose families are invited to family evenings.

    `key` is the operator's stable id ("de-linde-noord"), used on the command line and in the
    subscription deep link. Reminder defaults apply to the location's evenings.
    """

    __tablename__ = "location"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(120))
    # Days before an evening on which reminders go out, and the local time they go out at.
    reminder_days: Mapped[list[int]] = mapped_column(JSON, default=lambda: [7, 1])
    reminder_time: Mapped[str] = mapped_column(String(5), default="18:30")
    example: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class LocationSubscription(Base):
    """A family member who asked (through the location's link) to hear about its evenings."""

    __tablename__ = "location_subscription"

    caregiver_id: Mapped[int] = mapped_column(
        ForeignKey("caregiver.id", ondelete="CASCADE"), primary_key=True
    )
    location_id: Mapped[int] = mapped_column(
        ForeignKey("location.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    subscribed_at: Mapped[datetime]


class StaffInvite(Base):
    """A one-time, expiring invitation to become staff of one steunpunt or one location.

    Only a hash of the token is stored: the database alone cannot be used to make staff.
    Exactly one of `steunpunt_key` / `location_id` is set.
    """

    __tablename__ = "staff_invite"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    steunpunt_key: Mapped[str | None] = mapped_column(String(40))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[int | None] = mapped_column(ForeignKey("caregiver.id", ondelete="SET NULL"))


class StaffMember(Base):
    """A Telegram user who is staff of one steunpunt (by directory key, which survives a
    re-imported directory) or of one location. Revoking keeps the row, for the audit trail."""

    __tablename__ = "staff_member"
    __table_args__ = (Index("ix_staff_member_caregiver", "caregiver_id", "revoked_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    caregiver_id: Mapped[int] = mapped_column(ForeignKey("caregiver.id", ondelete="CASCADE"))
    steunpunt_key: Mapped[str | None] = mapped_column(String(40))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id", ondelete="CASCADE"))
    invite_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_invite.id", ondelete="SET NULL")
    )
    display_name: Mapped[str] = mapped_column(String(120), default="")
    granted_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
