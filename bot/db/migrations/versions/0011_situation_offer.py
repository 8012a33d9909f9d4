"""Situation guides (issue 17): which guide was suggested to whom, so it is suggested once.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.models import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "situation_offer",
        sa.Column("caregiver_id", sa.Integer(), nullable=False),
        sa.Column("guide", sa.String(length=32), nullable=False),
        sa.Column("offered_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["caregiver_id"], ["caregiver.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("caregiver_id", "guide"),
    )


def downgrade() -> None:
    op.drop_table("situation_offer")
