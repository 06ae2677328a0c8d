from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, TimestampMixin, utcnow


class Evaluator(TimestampMixin, Base):
    """A reward function (Python code or an OpenAI grader spec) with its saved versions."""

    __tablename__ = "evaluators"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    latest_version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    versions: Mapped[list[EvaluatorVersion]] = relationship(
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="EvaluatorVersion.version",
        lazy="selectin",
    )

    @property
    def latest(self) -> EvaluatorVersion:
        return self.versions[-1]


class EvaluatorVersion(TimestampMixin, Base):
    """One saved state of an evaluator's code; jobs record the version they trained with."""

    __tablename__ = "evaluator_versions"
    __table_args__ = (UniqueConstraint("evaluator_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluator_id: Mapped[int] = mapped_column(
        ForeignKey("evaluators.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int]
    code: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(String(500), default="")
    # Declared extra packages (PEP 508 strings, canonical and sorted): installed outside the
    # sandbox into an environment of their own (services/evaluator_envs.py).
    requirements: Mapped[list[str]] = mapped_column(JSON, default=list)
