from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.security import hash_secret, new_api_key
from app.models import ApiKey, User

LAST_USED_PRECISION = timedelta(minutes=1)


def create(session: Session, owner: User, name: str) -> tuple[ApiKey, str]:
    """A new key for ``owner``; returns the row and the key, which is never stored."""
    name = name.strip()
    if not name:
        raise InvalidInput("Invalid key", [{"field": "name", "message": "must not be empty"}])
    settings = session.info.get("settings")  # set by the app's session factory
    limit = settings.api_keys_per_user if settings is not None else None
    if limit is not None and count_for(session, owner) >= limit:
        message = f"at most {limit} API keys per user (RFT_API_KEYS_PER_USER): delete one first"
        raise Conflict("API key limit reached", [{"field": "name", "message": message}])
    key = new_api_key()
    row = ApiKey(owner_id=owner.id, name=name, prefix=key[:10], key_hash=hash_secret(key))
    session.add(row)
    session.flush()
    return row, key


def authenticate(session: Session, key: str) -> User | None:
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_secret(key)))
    if row is None:
        return None
    now = utcnow()
    # A write per request would cost every API call a commit: a minute's precision is enough.
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_PRECISION:
        row.last_used_at = now
    return row.owner


def list_for(session: Session, owner: User, offset: int = 0, limit: int = 100) -> list[ApiKey]:
    query = select(ApiKey).where(ApiKey.owner_id == owner.id).order_by(ApiKey.id)
    return list(session.scalars(query.offset(offset).limit(limit)))


def count_for(session: Session, owner: User) -> int:
    return session.scalar(select(func.count()).where(ApiKey.owner_id == owner.id)) or 0


def get(session: Session, owner: User, key_id: int) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None or row.owner_id != owner.id:
        raise NotFound(f"API key {key_id} not found")
    return row


def delete(session: Session, owner: User, key_id: int) -> None:
    session.delete(get(session, owner, key_id))
