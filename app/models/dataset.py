from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, TimestampMixin


class Dataset(TimestampMixin, Base):
    """A validated JSONL file, or a train/validation split of one. Rows live in storage.

    ``storage_dir`` holds this dataset's own files (``rows.idx``, the row index); ``data_file``
    is the JSONL it indexes: its own ``data.jsonl``, or for a split its source's. ``meta`` holds
    what validation learned: field names and types, token estimates, warnings, split settings.
    """

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(16))
    row_count: Mapped[int]
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    storage_dir: Mapped[str] = mapped_column(String(255))
    data_file: Mapped[str] = mapped_column(String(255))
    split_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True, default=None
    )
    split: Mapped[str | None] = mapped_column(String(16), default=None)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    splits: Mapped[list[Dataset]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="Dataset.id", lazy="selectin"
    )

    @property
    def index_file(self) -> str:
        return f"{self.storage_dir}/rows.idx"
