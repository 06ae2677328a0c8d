"""Test cases of an evaluator: pinned dataset rows with the score range they must get."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.schemas.common import DbId, InputModel, OutputModel
from app.schemas.evaluator import CODE_DESCRIPTION, Code


class EvaluatorTestCreate(InputModel):
    dataset_id: DbId = Field(description="One of your datasets.")
    row_index: int = Field(ge=0, description="Position of the row in the dataset, from 0.")
    min_score: float = Field(ge=0.0, le=1.0, description="Lowest score that passes.")
    max_score: float = Field(ge=0.0, le=1.0, description="Highest score that passes.")
    note: str = Field(default="", max_length=500, description="What this case checks.")


class EvaluatorTestPublic(OutputModel):
    id: int
    evaluator_id: int
    dataset_id: int | None = Field(description="Null when the dataset was deleted since.")
    row_index: int
    min_score: float
    max_score: float
    note: str
    created_at: datetime


class TestRunRequest(InputModel):
    code: Code | None = Field(
        default=None,
        description=f"Code to test (unsaved, from the editor). Default: the latest version. "
        f"{CODE_DESCRIPTION}",
    )


class TestRunResult(BaseModel):
    test: EvaluatorTestPublic
    score: float | None
    passed: bool = Field(description="A valid score within [min_score, max_score].")
    reason: str | None
    error: str | None = Field(description="Traceback, or why the row could not be scored.")
    error_line: int | None = Field(default=None, description="Line of the code that raised.")
    stdout: str = Field(default="", description="What the evaluator printed for this row.")


class TestRunResponse(BaseModel):
    data: list[TestRunResult]
    passed: int
    failed: int
