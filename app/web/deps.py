"""Dependencies of the HTML routes: the signed-in user, kept on request.state for templates."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.api.deps import get_current_user
from app.models import User


async def page_user(request: Request, user: Annotated[User, Depends(get_current_user)]) -> User:
    request.state.user = user
    return user


PageUser = Annotated[User, Depends(page_user)]
