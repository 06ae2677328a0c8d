"""evaluator test cases

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "evaluator_test_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evaluator_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=True),
        sa.Column("row_index", sa.Integer(), nullable=False),
        sa.Column("min_score", sa.Float(), nullable=False),
        sa.Column("max_score", sa.Float(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_evaluator_test_cases_dataset_id_datasets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["evaluator_id"],
            ["evaluators.id"],
            name=op.f("fk_evaluator_test_cases_evaluator_id_evaluators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluator_test_cases")),
    )
    with op.batch_alter_table("evaluator_test_cases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evaluator_test_cases_dataset_id"), ["dataset_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_evaluator_test_cases_evaluator_id"), ["evaluator_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("evaluator_test_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluator_test_cases_evaluator_id"))
        batch_op.drop_index(batch_op.f("ix_evaluator_test_cases_dataset_id"))
    op.drop_table("evaluator_test_cases")
