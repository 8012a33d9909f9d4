"""check-ins (schedules, answers) and scheduled messages with their due-time index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 03:23:16.017438
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.models import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "checkin_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("caregiver_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("note_kind", sa.String(length=16), nullable=True),
        sa.Column("asked_at", UTCDateTime(), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["caregiver_id"], ["caregiver.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("checkin_answer", schema=None) as batch_op:
        batch_op.create_index(
            "ix_checkin_answer_caregiver_time", ["caregiver_id", "answered_at"], unique=False
        )

    op.create_table(
        "checkin_schedule",
        sa.Column("caregiver_id", sa.Integer(), nullable=False),
        sa.Column("cadence", sa.String(length=16), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("minute", sa.Integer(), nullable=False),
        sa.Column("asked_seq", sa.Integer(), nullable=False),
        sa.Column("asked_at", UTCDateTime(), nullable=True),
        sa.Column("awaiting", sa.String(length=8), nullable=True),
        sa.Column("awaiting_until", UTCDateTime(), nullable=True),
        sa.Column("note_answer_id", sa.Integer(), nullable=True),
        sa.Column("full_check_offered_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["caregiver_id"], ["caregiver.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("caregiver_id"),
    )
    op.create_table(
        "scheduled_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("caregiver_id", sa.Integer(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["caregiver_id"], ["caregiver.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("scheduled_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scheduled_message_caregiver_id"), ["caregiver_id"], unique=False
        )
        batch_op.create_index("ix_scheduled_message_status_due", ["status", "due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("scheduled_message", schema=None) as batch_op:
        batch_op.drop_index("ix_scheduled_message_status_due")
        batch_op.drop_index(batch_op.f("ix_scheduled_message_caregiver_id"))

    op.drop_table("scheduled_message")
    op.drop_table("checkin_schedule")
    with op.batch_alter_table("checkin_answer", schema=None) as batch_op:
        batch_op.drop_index("ix_checkin_answer_caregiver_time")

    op.drop_table("checkin_answer")
