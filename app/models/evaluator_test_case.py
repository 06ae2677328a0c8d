from __future__ import annotations

from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, TimestampMixin


class EvaluatorTestCase(TimestampMixin, Base):
    """A pinned dataset row with the score range the evaluator must give it (a unit test).

    The dataset may be deleted later: the test case stays (``dataset_id`` NULL) and fails with
    that reason, so a test never disappears silently.
    """

    __tablename__ = "evaluator_test_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluator_id: Mapped[int] = mapped_column(
        ForeignKey("evaluators.id", ondelete="CASCADE"), index=True
    )
    dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="SET NULL"), index=True
    )
    row_index: Mapped[int]
    min_score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)
    note: Mapped[str] = mapped_column(String(500), default="")
