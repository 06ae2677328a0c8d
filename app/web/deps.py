"""Dependencies of the HTML routes: the signed-in user, kept on request.state for templates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.api.deps import get_admin_user, get_current_user
from app.models import User


@dataclass(frozen=True)
class UserView:
    """What templates show of the user: plain values that survive the request's rollback
    (an error page renders after the session has expired its ORM objects)."""

    id: int
    name: str
    is_admin: bool


async def page_user(request: Request, user: Annotated[User, Depends(get_current_user)]) -> User:
    request.state.user = UserView(user.id, user.name, user.is_admin)
    return user


PageUser = Annotated[User, Depends(page_user)]


async def page_admin(request: Request, user: PageUser) -> User:
    """The signed-in user, when an admin (the page hides what others may not do anyway)."""
    return await get_admin_user(user)


PageAdmin = Annotated[User, Depends(page_admin)]
