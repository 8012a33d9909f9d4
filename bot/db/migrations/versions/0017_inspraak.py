"""Inspraak (issue 19): questions of a steunpunt to its caregivers, counts per choice, comments
without a link to anyone, and who answered (not what).

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.models import UTCDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inspraak_question",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("steunpunt_key", sa.String(length=40), nullable=False),
        sa.Column("municipality_codes", sa.JSON(), nullable=False),
        sa.Column("source_name", sa.String(length=200), nullable=False),
        sa.Column("question", sa.String(length=200), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("allow_comment", sa.Boolean(), nullable=False),
        sa.Column("sender_member_id", sa.Integer(), nullable=True),
        sa.Column("sender_caregiver_id", sa.Integer(), nullable=True),
        sa.Column("sender_name", sa.String(length=120), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("closes_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["sender_member_id"], ["staff_member.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["sender_caregiver_id"], ["caregiver.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["broadcast_id"], ["broadcast.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("inspraak_question", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inspraak_question_sender_caregiver_id"),
            ["sender_caregiver_id"],
            unique=False,
        )
    op.create_table(
        "inspraak_tally",
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("option", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["question_id"], ["inspraak_question.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("question_id", "option"),
    )
    op.create_table(
        "inspraak_comment",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["question_id"], ["inspraak_question.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("inspraak_comment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inspraak_comment_question_id"), ["question_id"], unique=False
        )
    op.create_table(
        "inspraak_answered",
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("caregiver_id", sa.Integer(), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=False),
        sa.Column("commented", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["question_id"], ["inspraak_question.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["caregiver_id"], ["caregiver.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("question_id", "caregiver_id"),
    )
    with op.batch_alter_table("inspraak_answered", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inspraak_answered_caregiver_id"), ["caregiver_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("inspraak_answered", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inspraak_answered_caregiver_id"))
    op.drop_table("inspraak_answered")
    with op.batch_alter_table("inspraak_comment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inspraak_comment_question_id"))
    op.drop_table("inspraak_comment")
    op.drop_table("inspraak_tally")
    with op.batch_alter_table("inspraak_question", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inspraak_question_sender_caregiver_id"))
    op.drop_table("inspraak_question")
