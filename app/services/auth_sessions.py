"""One-time login tokens and browser sessions."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.security import hash_secret, new_token
from app.models import BrowserSession, LoginToken, User


def create_login_token(session: Session, user: User, minutes: int) -> str:
    token = new_token()
    expires = utcnow() + timedelta(minutes=minutes)
    session.add(LoginToken(user_id=user.id, token_hash=hash_secret(token), expires_at=expires))
    session.flush()
    return token


def redeem_login_token(session: Session, token: str) -> User | None:
    """The token's user, once: a used or expired token gives None."""
    row = session.scalar(select(LoginToken).where(LoginToken.token_hash == hash_secret(token)))
    now = utcnow()
    if row is None or row.used_at is not None or row.expires_at < now:
        return None
    row.used_at = now
    return session.get(User, row.user_id)


def start(session: Session, user: User, days: int) -> tuple[BrowserSession, str]:
    """A new browser session; returns the row and the cookie value (stored only as a hash)."""
    token = new_token()
    row = BrowserSession(
        user_id=user.id,
        token_hash=hash_secret(token),
        csrf_token=new_token(),
        expires_at=utcnow() + timedelta(days=days),
    )
    session.add(row)
    session.flush()
    return row, token


def find(session: Session, token: str) -> BrowserSession | None:
    row = session.scalar(
        select(BrowserSession).where(BrowserSession.token_hash == hash_secret(token))
    )
    if row is None or row.expires_at < utcnow():
        return None
    return row


def end(session: Session, token: str) -> None:
    session.execute(delete(BrowserSession).where(BrowserSession.token_hash == hash_secret(token)))


def purge_expired(session: Session) -> None:
    now = utcnow()
    session.execute(delete(BrowserSession).where(BrowserSession.expires_at < now))
    session.execute(delete(LoginToken).where(LoginToken.expires_at < now))
