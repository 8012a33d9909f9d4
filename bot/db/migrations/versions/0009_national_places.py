"""National base layer (issue 16): the postcode table may name a municipality of the layer by its
name, as the layer has no CBS codes.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("postcode_area", schema=None) as batch_op:
        batch_op.add_column(sa.Column("municipality_name", sa.String(length=80), nullable=True))
        batch_op.alter_column("municipality_code", existing_type=sa.String(length=6), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM postcode_area WHERE municipality_code IS NULL")
    with op.batch_alter_table("postcode_area", schema=None) as batch_op:
        batch_op.alter_column(
            "municipality_code", existing_type=sa.String(length=6), nullable=False
        )
        batch_op.drop_column("municipality_name")
