"""Saved evaluators and their versions. The code is checked (entry point found) before saving."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.errors import InvalidInput, NotFound
from app.evaluators import EvaluatorCodeError, check_code
from app.models import Evaluator, EvaluatorVersion, User


def check(code: str) -> None:
    """InvalidInput naming the line when the code has no usable entry point or does not parse."""
    try:
        check_code(code)
    except EvaluatorCodeError as exc:
        error: dict[str, object] = {"field": "code", "message": str(exc)}
        line = getattr(exc, "line", None)
        if line:
            error["line"] = line
        raise InvalidInput("Invalid evaluator code", [error]) from None


def create(session: Session, owner: User, name: str, code: str, note: str = "") -> Evaluator:
    check(code)
    evaluator = Evaluator(owner_id=owner.id, name=name.strip(), latest_version=1)
    evaluator.versions.append(EvaluatorVersion(version=1, code=code, note=note))
    session.add(evaluator)
    session.flush()
    return evaluator


def add_version(session: Session, evaluator: Evaluator, code: str, note: str = "") -> Evaluator:
    check(code)
    evaluator.latest_version += 1
    evaluator.versions.append(
        EvaluatorVersion(version=evaluator.latest_version, code=code, note=note)
    )
    session.flush()
    return evaluator


def list_for(session: Session, owner: User, offset: int = 0, limit: int = 100) -> list[Evaluator]:
    query = select(Evaluator).where(Evaluator.owner_id == owner.id).order_by(Evaluator.id)
    return list(session.scalars(query.offset(offset).limit(limit)))


def count_for(session: Session, owner: User) -> int:
    return session.scalar(select(func.count()).where(Evaluator.owner_id == owner.id)) or 0


def get(session: Session, owner: User, evaluator_id: int) -> Evaluator:
    row = session.get(Evaluator, evaluator_id)
    if row is None or row.owner_id != owner.id:
        raise NotFound(f"Evaluator {evaluator_id} not found")
    return row


def find_by_name(session: Session, owner: User, name: str) -> Evaluator | None:
    query = select(Evaluator).where(Evaluator.owner_id == owner.id, Evaluator.name == name)
    return session.scalars(query.limit(1)).first()


def delete(session: Session, owner: User, evaluator_id: int) -> None:
    session.delete(get(session, owner, evaluator_id))
