"""evaluator versions declare extra requirements (installed outside the sandbox)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 08:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("evaluator_versions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("requirements", sa.JSON(), nullable=False, server_default="[]")
        )


def downgrade() -> None:
    with op.batch_alter_table("evaluator_versions", schema=None) as batch_op:
        batch_op.drop_column("requirements")
