"""Tables of staff broadcasts: the notice (scheduled, sending, done), one delivery row per
recipient, caregivers' opt-outs per source, and the heartbeat of the processes that deliver.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import ERASED_WITH, Base

# Copies of the sender's name and chat: blanked when the sender's caregiver row is erased.
ERASED_WITH_SENDER = {ERASED_WITH: "sender_caregiver_id"}


class Broadcast(Base):
    """One notice of a steunpunt or a location, from draft to the audit record.

    `status`: scheduled (waits for `scheduled_for`), sending (delivery rows exist), done,
    cancelled. The row is made when a finished draft is sent or planned; the draft itself is
    the staff member's dialog (`dialogs/broadcast_notice.yaml`). At most one of
    `steunpunt_key` / `location_id` is the source; neither for a notice of the operator (an
    inspraak question to one municipality: `sender_operator_id` instead of `sender_member_id`,
    audience "municipalities" without a steunpunt). The sender survives as `sender_name` when the
    staff member's membership ends (for the audit trail); erasing the staff member's caregiver row
    (`/vergeetmij`) blanks it and the report chat (`ERASED_WITH`, see `bot.features.privacy`),
    and a scheduled notice of a sender who is no longer staff is cancelled when it would start.
    The counts are always read from the deliveries.
    """

    __tablename__ = "broadcast"
    __table_args__ = (Index("ix_broadcast_status_scheduled", "status", "scheduled_for"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    steunpunt_key: Mapped[str | None] = mapped_column(String(40))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id", ondelete="SET NULL"))
    source_name: Mapped[str] = mapped_column(String(200), default="")
    sender_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_member.id", ondelete="SET NULL")
    )
    # Or, for a notice of the operator (no staff membership): their Telegram user id, checked
    # against CONSOLE_OPERATORS when sending starts (see `delivery.sender_may_send`).
    sender_operator_id: Mapped[int | None] = mapped_column(BigInteger, info=ERASED_WITH_SENDER)
    sender_caregiver_id: Mapped[int | None] = mapped_column(
        ForeignKey("caregiver.id", ondelete="SET NULL"), index=True
    )
    sender_name: Mapped[str] = mapped_column(String(120), default="", info=ERASED_WITH_SENDER)
    text_html: Mapped[str] = mapped_column(Text, default="")
    text_length: Mapped[int] = mapped_column(Integer, default=0)
    media_kind: Mapped[str | None] = mapped_column(String(16))  # "photo" | "document"
    media_file_id: Mapped[str | None] = mapped_column(String(255))
    # Audience: "all" (everyone linked to the steunpunt), "municipalities" (the codes chosen;
    # of the operator: everyone living there), "location" (the location's subscribers);
    # `audience_label` is the audit's description.
    audience: Mapped[str] = mapped_column(String(16), default="all")
    municipality_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    audience_label: Mapped[str] = mapped_column(String(400), default="")
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    scheduled_for: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    # The one message to the staff member that shows progress (edited) and who gets the report.
    report_chat_id: Mapped[int | None] = mapped_column(BigInteger, info=ERASED_WITH_SENDER)
    progress_message_id: Mapped[int | None] = mapped_column(Integer, info=ERASED_WITH_SENDER)
    progress_at: Mapped[datetime | None]
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class BroadcastDelivery(Base):
    """One recipient of one broadcast: pending -> claimed -> sent | blocked | failed | skipped,
    or cancelled. Claimed like scheduled messages (by a worker, at a time)."""

    __tablename__ = "broadcast_delivery"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "caregiver_id", name="uq_broadcast_delivery_recipient"),
        Index("ix_broadcast_delivery_status_id", "status", "id"),
        Index("ix_broadcast_delivery_broadcast_status", "broadcast_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcast.id", ondelete="CASCADE"))
    caregiver_id: Mapped[int] = mapped_column(
        ForeignKey("caregiver.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(200))


class NoticeOptOut(Base):
    """A caregiver who does not want notices from one source: "s:<steunpunt key>",
    "l:<location id>" or "o:operator" (the operator's questions)."""

    __tablename__ = "notice_opt_out"

    caregiver_id: Mapped[int] = mapped_column(
        ForeignKey("caregiver.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(48), primary_key=True)
    created_at: Mapped[datetime]


class WorkerHeartbeat(Base):
    """A delivering process says it is alive; rows claimed by a worker without a recent beat are
    taken back by the others."""

    __tablename__ = "worker_heartbeat"

    worker: Mapped[str] = mapped_column(String(64), primary_key=True)
    beat_at: Mapped[datetime]
