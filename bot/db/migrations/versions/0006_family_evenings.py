"""Family evenings (issue 6): evenings, RSVPs.

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.models import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "family_evening",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("starts_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("max_guests", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["location_id"], ["location.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by"], ["staff_member.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("family_evening", schema=None) as batch_op:
        batch_op.create_index(
            "ix_family_evening_location_start", ["location_id", "starts_at"], unique=False
        )
    op.create_table(
        "evening_rsvp",
        sa.Column("evening_id", sa.Integer(), nullable=False),
        sa.Column("caregiver_id", sa.Integer(), nullable=False),
        sa.Column("answer", sa.String(length=8), nullable=False),
        sa.Column("party_size", sa.Integer(), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("waitlisted", sa.Boolean(), nullable=False),
        sa.Column("answered_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["evening_id"], ["family_evening.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["caregiver_id"], ["caregiver.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("evening_id", "caregiver_id"),
    )
    with op.batch_alter_table("evening_rsvp", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evening_rsvp_caregiver_id"), ["caregiver_id"], unique=False
        )
    op.create_table(
        "evening_draft",
        sa.Column("caregiver_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("evening_id", sa.Integer(), nullable=True),
        sa.Column("step", sa.String(length=24), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["caregiver_id"], ["caregiver.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["location_id"], ["location.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["evening_id"], ["family_evening.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("caregiver_id"),
    )


def downgrade() -> None:
    op.drop_table("evening_draft")
    with op.batch_alter_table("evening_rsvp", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evening_rsvp_caregiver_id"))
    op.drop_table("evening_rsvp")
    with op.batch_alter_table("family_evening", schema=None) as batch_op:
        batch_op.drop_index("ix_family_evening_location_start")
    op.drop_table("family_evening")
