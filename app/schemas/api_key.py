from __future__ import annotations

from datetime import datetime

from pydantic import Field

from app.schemas.common import InputModel, OutputModel


class ApiKeyCreate(InputModel):
    name: str = Field(min_length=1, max_length=100, description="What the key is for.")


class ApiKeyPublic(OutputModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The key itself, shown once: only its hash is kept.")
