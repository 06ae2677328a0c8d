from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import User


def get_by_name(session: Session, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == name))


def get_or_create(session: Session, name: str, *, is_admin: bool = False) -> User:
    user = get_by_name(session, name)
    if user is None:
        user = User(name=name, is_admin=is_admin)
        session.add(user)
        session.flush()
    return user


def ensure_admin(session: Session, name: str) -> User:
    """The admin user made on first start; resources seeded by the server belong to it."""
    return get_or_create(session, name, is_admin=True)
