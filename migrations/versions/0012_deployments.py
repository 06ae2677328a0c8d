"""deployments

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.core.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("base_model", sa.String(length=500), nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=True),
        sa.Column("adapter_path", sa.String(length=1000), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("cause", sa.Text(), nullable=True),
        sa.Column("server_url", sa.String(length=500), nullable=True),
        sa.Column("loaded", sa.Boolean(), nullable=False),
        sa.Column("requests_served", sa.Integer(), nullable=False),
        sa.Column("last_request_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ready_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", app.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", app.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["checkpoints.id"],
            name=op.f("fk_deployments_checkpoint_id_checkpoints"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_deployments_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_deployments_owner_id")),
    )
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deployments_base_model"), ["base_model"], unique=False)
        batch_op.create_index(batch_op.f("ix_deployments_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deployments_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployments_state"))
        batch_op.drop_index(batch_op.f("ix_deployments_owner_id"))
        batch_op.drop_index(batch_op.f("ix_deployments_base_model"))
    op.drop_table("deployments")
