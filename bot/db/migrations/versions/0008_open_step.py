"""The one open step per caregiver (issue 14): which feature waits for their typed input; and a
dialog state per caregiver and dialog (a paused self-check keeps its place beside another dialog).

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.models import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _dialog_state(name: str, *primary_key: str) -> None:
    op.create_table(
        name,
        sa.Column("caregiver_id", sa.Integer(), nullable=False),
        sa.Column("dialog_id", sa.String(length=64), nullable=False),
        sa.Column("dialog_version", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["caregiver_id"], ["caregiver.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["dialog_run.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint(*primary_key),
    )


def upgrade() -> None:
    op.create_table(
        "open_step",
        sa.Column("caregiver_id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.String(length=64), nullable=True),
        sa.Column("expects", sa.String(length=64), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["caregiver_id"], ["caregiver.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("caregiver_id"),
    )
    # dialog_state: the primary key becomes (caregiver_id, dialog_id); a new table, copied.
    _dialog_state("dialog_state_new", "caregiver_id", "dialog_id")
    op.execute(
        "INSERT INTO dialog_state_new (caregiver_id, dialog_id, dialog_version, run_id, data,"
        " updated_at) SELECT caregiver_id, dialog_id, dialog_version, run_id, data, updated_at"
        " FROM dialog_state"
    )
    op.drop_table("dialog_state")
    op.rename_table("dialog_state_new", "dialog_state")


def downgrade() -> None:
    op.drop_table("open_step")
    _dialog_state("dialog_state_old", "caregiver_id")
    op.execute(  # the most recent dialog of each caregiver, exactly one
        "INSERT INTO dialog_state_old SELECT caregiver_id, dialog_id, dialog_version, run_id,"
        " data, updated_at FROM dialog_state d WHERE dialog_id = (SELECT e.dialog_id"
        " FROM dialog_state e WHERE e.caregiver_id = d.caregiver_id"
        " ORDER BY e.updated_at DESC, e.dialog_id LIMIT 1)"
    )
    op.drop_table("dialog_state")
    op.rename_table("dialog_state_old", "dialog_state")
