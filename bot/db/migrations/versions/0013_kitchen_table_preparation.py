"""Keukentafelgesprek preparations (issue 18): the answers of each finished preparation.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.models import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kitchen_table_preparation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("caregiver_id", sa.Integer(), nullable=False),
        sa.Column("dialog_version", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["caregiver_id"], ["caregiver.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("kitchen_table_preparation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kitchen_table_preparation_caregiver_id"), ["caregiver_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("kitchen_table_preparation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kitchen_table_preparation_caregiver_id"))
    op.drop_table("kitchen_table_preparation")
