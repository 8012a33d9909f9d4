"""steunpunt directory and caregivers' saved steunpunt

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 03:26:48.579350
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.models import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "municipality",
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("province", sa.String(length=40), nullable=False),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("places", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "postcode_area",
        sa.Column("pc4", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.PrimaryKeyConstraint("pc4"),
    )
    op.create_table(
        "steunpunt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("organisation", sa.String(length=120), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("email", sa.String(length=120), nullable=True),
        sa.Column("website", sa.String(length=200), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("opening_hours", sa.Text(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("example", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("steunpunt", schema=None) as batch_op:
        batch_op.create_index("ix_steunpunt_lat_lon", ["latitude", "longitude"], unique=False)

    op.create_table(
        "caregiver_steunpunt",
        sa.Column("caregiver_id", sa.Integer(), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=True),
        sa.Column("steunpunt_key", sa.String(length=40), nullable=True),
        sa.Column("postcode", sa.String(length=4), nullable=True),
        sa.Column("flow", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["caregiver_id"], ["caregiver.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("caregiver_id"),
    )
    op.create_table(
        "place_name",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(["municipality_code"], ["municipality.code"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key", "municipality_code"),
    )
    op.create_table(
        "steunpunt_municipality",
        sa.Column("steunpunt_id", sa.Integer(), nullable=False),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.ForeignKeyConstraint(["municipality_code"], ["municipality.code"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["steunpunt_id"], ["steunpunt.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("steunpunt_id", "municipality_code"),
    )
    with op.batch_alter_table("steunpunt_municipality", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_steunpunt_municipality_municipality_code"),
            ["municipality_code"],
            unique=False,
        )

    op.create_table(
        "steunpunt_postcode",
        sa.Column("pc4", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("steunpunt_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["steunpunt_id"], ["steunpunt.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pc4", "steunpunt_id"),
    )


def downgrade() -> None:
    op.drop_table("steunpunt_postcode")
    with op.batch_alter_table("steunpunt_municipality", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_steunpunt_municipality_municipality_code"))

    op.drop_table("steunpunt_municipality")
    op.drop_table("place_name")
    op.drop_table("caregiver_steunpunt")
    with op.batch_alter_table("steunpunt", schema=None) as batch_op:
        batch_op.drop_index("ix_steunpunt_lat_lon")

    op.drop_table("steunpunt")
    op.drop_table("postcode_area")
    op.drop_table("municipality")
