"""The staff wizards became dialog files (issue 14): a family evening being planned or edited
lives in `dialog_state` like any dialog, so its own draft table goes. A draft open at the
upgrade is not carried over: the staff member starts `/avond_nieuw` again.

Revision ID: 0016
Revises: 0013 (the lead re-chains it after 0014/0015 when they are merged)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.models import UTCDateTime

revision: str = "0016"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("evening_draft")


def downgrade() -> None:
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
