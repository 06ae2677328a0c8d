"""indexes for browsing job records: completions and logs by step, events by type

Revision ID: 0010
Revises: 0004
Create Date: 2026-12-02 05:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ("ix_job_completions_job_id_step", "job_completions", ["job_id", "step"]),
    ("ix_job_logs_job_id_step", "job_logs", ["job_id", "step"]),
    ("ix_job_events_job_id_type", "job_events", ["job_id", "type"]),
]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
