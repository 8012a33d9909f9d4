"""Warm handover (issue 18): requests for contact with a steunpunt, their messages, the audit of
who picked them up and closed them, and the count of requests for steunpunten without staff.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.models import UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "handover_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("caregiver_id", sa.Integer(), nullable=False),
        sa.Column("steunpunt_key", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("caregiver_name", sa.String(length=60), nullable=False),
        sa.Column("asking", sa.JSON(), nullable=False),
        sa.Column("shared", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reach", sa.String(length=16), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("part_of_day", sa.String(length=16), nullable=False),
        sa.Column("days", sa.String(length=16), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("remind_from", UTCDateTime(), nullable=True),
        sa.Column("reminded_on", sa.Date(), nullable=True),
        sa.Column("picked_up_at", UTCDateTime(), nullable=True),
        sa.Column("picked_up_by", sa.Integer(), nullable=True),
        sa.Column("picked_up_name", sa.String(length=60), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["caregiver_id"], ["caregiver.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["picked_up_by"], ["staff_member.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("handover_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_handover_request_caregiver_id"), ["caregiver_id"], unique=False
        )
        batch_op.create_index(
            "ix_handover_request_steunpunt_status", ["steunpunt_key", "status"], unique=False
        )
    op.create_table(
        "handover_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("caregiver_id", sa.Integer(), nullable=False),
        sa.Column("from_staff", sa.Boolean(), nullable=False),
        sa.Column("staff_name", sa.String(length=60), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["caregiver_id"], ["caregiver.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["request_id"], ["handover_request.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("handover_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_handover_message_caregiver_id"), ["caregiver_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_handover_message_request_id"), ["request_id"], unique=False
        )
    op.create_table(
        "handover_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("steunpunt_key", sa.String(length=40), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("staff_member_id", sa.Integer(), nullable=True),
        sa.Column("actor_caregiver_id", sa.Integer(), nullable=True),
        sa.Column("staff_name", sa.String(length=60), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["actor_caregiver_id"], ["caregiver.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["staff_member_id"], ["staff_member.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("handover_audit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_handover_audit_actor_caregiver_id"), ["actor_caregiver_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_handover_audit_request_id"), ["request_id"], unique=False
        )
    op.create_table(
        "handover_demand",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("steunpunt_key", sa.String(length=40), nullable=False),
        sa.Column("asked_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("handover_demand", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_handover_demand_steunpunt_key"), ["steunpunt_key"], unique=False
        )


def downgrade() -> None:
    for table, indexes in (
        ("handover_demand", ("ix_handover_demand_steunpunt_key",)),
        (
            "handover_audit",
            ("ix_handover_audit_request_id", "ix_handover_audit_actor_caregiver_id"),
        ),
        (
            "handover_message",
            ("ix_handover_message_request_id", "ix_handover_message_caregiver_id"),
        ),
        (
            "handover_request",
            ("ix_handover_request_steunpunt_status", "ix_handover_request_caregiver_id"),
        ),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for index in indexes:
                batch_op.drop_index(index)
        op.drop_table(table)
