"""Questions of the operator (issue 19): a notice and an inspraak question may be sent by the
operator (a Telegram user id of CONSOLE_OPERATORS) instead of a staff member; such a question
belongs to no steunpunt.

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("broadcast", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sender_operator_id", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("inspraak_question", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sender_operator_id", sa.BigInteger(), nullable=True))
        batch_op.alter_column("steunpunt_key", existing_type=sa.String(length=40), nullable=True)


def downgrade() -> None:
    # Before 0018 there were no questions of the operator: theirs go, with their counts,
    # comments and who answered; their notices stay (as notices of nobody).
    operator_questions = "SELECT id FROM inspraak_question WHERE steunpunt_key IS NULL"
    for table in ("inspraak_tally", "inspraak_comment", "inspraak_answered"):
        op.execute(f"DELETE FROM {table} WHERE question_id IN ({operator_questions})")
    op.execute("DELETE FROM inspraak_question WHERE steunpunt_key IS NULL")
    with op.batch_alter_table("inspraak_question", schema=None) as batch_op:
        batch_op.alter_column("steunpunt_key", existing_type=sa.String(length=40), nullable=False)
        batch_op.drop_column("sender_operator_id")
    with op.batch_alter_table("broadcast", schema=None) as batch_op:
        batch_op.drop_column("sender_operator_id")
