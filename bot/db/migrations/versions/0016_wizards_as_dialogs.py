"""The staff wizards became dialog files (issue 14): a family evening being planned or edited,
and a notice being written, live in `dialog_state` like any dialog. So the evening draft table
goes, and so do notice drafts (`broadcast` rows with status "draft") and the column that said
their step; a notice row is now made when it is sent or planned. Drafts open at the upgrade are
not carried over: the staff member starts `/avond_nieuw` or `/bericht` again.

Revision ID: 0016
Revises: 0015 (after the warm handover and the staff console)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.models import UTCDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("evening_draft")
    op.execute("DELETE FROM broadcast WHERE status = 'draft'")
    with op.batch_alter_table("broadcast", schema=None) as batch_op:
        batch_op.drop_column("step")


def downgrade() -> None:
    with op.batch_alter_table("broadcast", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("step", sa.String(length=16), nullable=False, server_default="done")
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
