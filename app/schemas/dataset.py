from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.models import Dataset
from app.schemas.common import ErrorItem, InputModel, OutputModel, Page


def _seed() -> Any:
    return Field(default=0, ge=0, le=2**32 - 1, description="Seed of the random draw.")


class DatasetUploadForm(InputModel):
    """The text fields sent beside the multipart ``file``."""

    name: str | None = Field(
        default=None, min_length=1, max_length=200, description="Default: the file's name."
    )
    validation_percent: float | None = Field(
        default=None,
        gt=0,
        lt=100,
        description="When set, also split the dataset into train and validation (see "
        "POST /api/v1/datasets/{id}/split).",
    )
    seed: int = _seed()


class DatasetSplitCreate(InputModel):
    validation_percent: float = Field(
        gt=0,
        lt=100,
        description="Share of the rows held out for validation, in percent (e.g. 10). Rows are "
        "drawn at random with `seed`: the same dataset, percent and seed give the same split.",
    )
    seed: int = _seed()


class FieldInfo(BaseModel):
    name: str
    rows: int = Field(description="Rows that have the field (for a split: in its source).")
    types: dict[str, int] = Field(description="JSON type -> rows, e.g. {'string': 998}.")


class TokenBucket(BaseModel):
    upto: int
    rows: int


class TokenStats(BaseModel):
    """Estimated prompt tokens per row: ~4 characters a token, +4 a message."""

    min: int
    max: int
    mean: float
    total: int
    histogram: list[TokenBucket]


class SplitSettings(BaseModel):
    validation_percent: float
    seed: int


class DatasetMetadata(BaseModel):
    filename: str | None = None
    lines: int | None = Field(default=None, description="Lines in the file, blank ones too.")
    fields: list[FieldInfo]
    fields_truncated: bool = False
    tokens: TokenStats
    rows_with_answer: int = Field(
        description="Rows whose last message is an assistant answer (a reference for SFT "
        "warm-up and the IDE preview; training strips it from the prompt)."
    )
    warnings: list[ErrorItem] = []
    warning_count: int = 0
    split: SplitSettings | None = None


class DatasetRef(OutputModel):
    id: int
    name: str
    split: Literal["train", "validation"] | None
    row_count: int


class DatasetPublic(OutputModel):
    id: int
    name: str
    format: Literal["messages", "prompt"]
    row_count: int
    size_bytes: int
    created_at: datetime
    split_of_id: int | None = Field(description="For a split: the dataset it was drawn from.")
    split: Literal["train", "validation"] | None
    validation_dataset_id: int | None = Field(
        description="For a train split: the validation split drawn with it."
    )
    splits: list[DatasetRef] = Field(description="Splits drawn from this dataset.")
    metadata: DatasetMetadata

    @classmethod
    def of(cls, row: Dataset) -> DatasetPublic:
        pair = (row.meta.get("split") or {}).get("pair_id")
        return cls(
            id=row.id,
            name=row.name,
            format=row.format,
            row_count=row.row_count,
            size_bytes=row.size_bytes,
            created_at=row.created_at,
            split_of_id=row.split_of_id,
            split=row.split,
            validation_dataset_id=pair if row.split == "train" else None,
            splits=[DatasetRef.model_validate(s) for s in row.splits],
            metadata=DatasetMetadata.model_validate(row.meta),
        )


class DatasetSplitPair(BaseModel):
    train: DatasetPublic
    validation: DatasetPublic


class DatasetRow(BaseModel):
    index: int = Field(description="Position of the row in the dataset, from 0.")
    row: dict[str, Any] = Field(description="The row as uploaded, every field with its JSON type.")
    tokens: int = Field(description="Estimated prompt tokens.")


DatasetRowsPage = Page[DatasetRow]
