"""Steunpunten keep their own card (issue 16): a steunpunt's own words about what it offers,
staff members' card drafts, and the history of every card change.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.models import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("steunpunt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("services_text", sa.Text(), nullable=True))
    op.create_table(
        "steunpunt_card_draft",
        sa.Column("caregiver_id", sa.Integer(), nullable=False),
        sa.Column("steunpunt_key", sa.String(length=40), nullable=False),
        sa.Column("field", sa.String(length=20), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("token", sa.String(length=16), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["caregiver_id"], ["caregiver.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("caregiver_id"),
    )
    op.create_table(
        "steunpunt_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("steunpunt_key", sa.String(length=40), nullable=False),
        sa.Column("field", sa.String(length=20), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("changed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("staff_member_id", sa.Integer(), nullable=True),
        sa.Column("staff_caregiver_id", sa.Integer(), nullable=True),
        sa.Column("staff_name", sa.String(length=120), nullable=False),
        sa.Column("undo_of", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["staff_member_id"], ["staff_member.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["staff_caregiver_id"], ["caregiver.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["undo_of"], ["steunpunt_change.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("steunpunt_change", schema=None) as batch_op:
        batch_op.create_index("ix_steunpunt_change_key", ["steunpunt_key", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_steunpunt_change_staff_caregiver_id"),
            ["staff_caregiver_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("steunpunt_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_steunpunt_change_staff_caregiver_id"))
        batch_op.drop_index("ix_steunpunt_change_key")
    op.drop_table("steunpunt_change")
    op.drop_table("steunpunt_card_draft")
    with op.batch_alter_table("steunpunt", schema=None) as batch_op:
        batch_op.drop_column("services_text")
