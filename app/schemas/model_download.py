"""A base model being downloaded from the hub by a worker, as the API answers it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ModelDownloadPublic(BaseModel):
    hub_id: str
    state: Literal["queued", "downloading", "ready", "failed"] = Field(
        description="ready: listed in GET /api/v1/models; failed: see error (nothing was kept)."
    )
    files_done: int
    files_total: int | None
    bytes_done: int
    bytes_total: int | None = Field(description="Known once the file list is.")
    error: str | None = Field(description="Why it failed, naming the setting to change.")
    updated_at: float = Field(description="When the worker last reported (Unix time).")
