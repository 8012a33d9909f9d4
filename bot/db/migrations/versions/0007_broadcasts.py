"""Staff broadcasts (issue 7): broadcasts, deliveries, notice opt-outs, worker heartbeats.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.models import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "broadcast",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("steunpunt_key", sa.String(length=40), nullable=True),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("source_name", sa.String(length=200), nullable=False),
        sa.Column("sender_member_id", sa.Integer(), nullable=True),
        sa.Column("sender_caregiver_id", sa.Integer(), nullable=True),
        sa.Column("sender_name", sa.String(length=120), nullable=False),
        sa.Column("text_html", sa.Text(), nullable=False),
        sa.Column("text_length", sa.Integer(), nullable=False),
        sa.Column("media_kind", sa.String(length=16), nullable=True),
        sa.Column("media_file_id", sa.String(length=255), nullable=True),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("municipality_codes", sa.JSON(), nullable=False),
        sa.Column("audience_label", sa.String(length=400), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("scheduled_for", UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("report_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("progress_message_id", sa.BigInteger(), nullable=True),
        sa.Column("progress_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["location_id"], ["location.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["sender_caregiver_id"], ["caregiver.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["sender_member_id"], ["staff_member.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("broadcast", schema=None) as batch_op:
        batch_op.create_index(
            "ix_broadcast_status_scheduled", ["status", "scheduled_for"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_broadcast_sender_caregiver_id"), ["sender_caregiver_id"], unique=False
        )

    op.create_table(
        "broadcast_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("caregiver_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["broadcast_id"], ["broadcast.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["caregiver_id"], ["caregiver.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("broadcast_id", "caregiver_id", name="uq_broadcast_delivery_recipient"),
    )
    with op.batch_alter_table("broadcast_delivery", schema=None) as batch_op:
        batch_op.create_index("ix_broadcast_delivery_status_id", ["status", "id"], unique=False)
        batch_op.create_index(
            "ix_broadcast_delivery_broadcast_status", ["broadcast_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_broadcast_delivery_caregiver_id"), ["caregiver_id"], unique=False
        )

    op.create_table(
        "notice_opt_out",
        sa.Column("caregiver_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=48), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["caregiver_id"], ["caregiver.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("caregiver_id", "source"),
    )
    op.create_table(
        "worker_heartbeat",
        sa.Column("worker", sa.String(length=64), nullable=False),
        sa.Column("beat_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker"),
    )


def downgrade() -> None:
    op.drop_table("worker_heartbeat")
    op.drop_table("notice_opt_out")
    with op.batch_alter_table("broadcast_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_broadcast_delivery_caregiver_id"))
        batch_op.drop_index("ix_broadcast_delivery_broadcast_status")
        batch_op.drop_index("ix_broadcast_delivery_status_id")
    op.drop_table("broadcast_delivery")
    with op.batch_alter_table("broadcast", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_broadcast_sender_caregiver_id"))
        batch_op.drop_index("ix_broadcast_status_scheduled")
    op.drop_table("broadcast")
