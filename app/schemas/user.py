from __future__ import annotations

from datetime import datetime

from app.schemas.common import OutputModel


class UserPublic(OutputModel):
    id: int
    name: str
    is_admin: bool
    created_at: datetime
