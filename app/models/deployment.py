"""A deployment: one checkpoint's adapter (or a base model alone) served by a model server.

The database is the source of truth: a model server reads which deployments it must serve
from these rows and writes their state and its own address back, so a ``ready`` deployment
comes back after the server restarts and the web app knows where to send each request.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, TimestampMixin

DEPLOYMENT_STATES = ("pending", "loading", "ready", "stopped", "failed")
ACTIVE_STATES = ("pending", "loading", "ready")
TERMINAL_STATES = ("stopped", "failed")


class Deployment(TimestampMixin, Base):
    __tablename__ = "deployments"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # The `model` clients name in /v1 requests; unique per owner.
    name: Mapped[str] = mapped_column(String(200))
    base_model: Mapped[str] = mapped_column(String(500), index=True)
    checkpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("checkpoints.id", ondelete="SET NULL"), default=None
    )
    # Storage key of the PEFT adapter folder; None serves the base model itself.
    adapter_path: Mapped[str | None] = mapped_column(String(1000), default=None)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    # Why the deployment failed or stopped, in words a user can act on.
    cause: Mapped[str | None] = mapped_column(Text, default=None)
    # Base URL of the model server that serves it (internal HTTP API), set by that server.
    server_url: Mapped[str | None] = mapped_column(String(500), default=None)
    # Whether the adapter sits in the server's memory now (idle ones unload; scale to zero).
    loaded: Mapped[bool] = mapped_column(default=False)
    requests_served: Mapped[int] = mapped_column(default=0)
    last_request_at: Mapped[datetime | None] = mapped_column(default=None)
    ready_at: Mapped[datetime | None] = mapped_column(default=None)
    stopped_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES
