"""Saved evaluators and their versions. The code is checked (entry point found) before saving.

Versions are immutable: a code change, or a restore of an old version, appends a new one. A job
pins the code of the version it trains with (jobs.pin_evaluators), so deleting an evaluator
never breaks a job.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.errors import Conflict, InvalidInput, NotFound
from app.evaluators import EntryPointInfo, EvaluatorCodeError, check_code
from app.models import Evaluator, EvaluatorVersion, User

Code = str | Mapping[str, Any]


def check(code: Code) -> EntryPointInfo:
    """The entry point, or InvalidInput naming the line when the code has no usable entry point
    or does not parse (a grader spec: when it is not a valid spec)."""
    try:
        return check_code(code)
    except EvaluatorCodeError as exc:
        error: dict[str, object] = {"field": "code", "message": exc.message}
        if exc.line:
            error["line"] = exc.line
        raise InvalidInput("Invalid evaluator code", [error]) from None


def code_text(code: Code) -> str:
    """What is stored: Python source as given, a grader spec object as indented JSON."""
    return code if isinstance(code, str) else json.dumps(code, indent=2)


def _ensure_unique_name(session: Session, owner: User, name: str, own_id: int | None) -> None:
    existing = find_by_name(session, owner, name)
    if existing is not None and existing.id != own_id:
        raise Conflict(
            f"An evaluator named {name!r} already exists",
            [{"field": "name", "message": f"already used by evaluator {existing.id}"}],
        )


def create(session: Session, owner: User, name: str, code: Code, note: str = "") -> Evaluator:
    check(code)
    name = name.strip()
    _ensure_unique_name(session, owner, name, None)
    evaluator = Evaluator(owner_id=owner.id, name=name, latest_version=1)
    evaluator.versions.append(EvaluatorVersion(version=1, code=code_text(code), note=note))
    session.add(evaluator)
    session.flush()
    return evaluator


def add_version(session: Session, evaluator: Evaluator, code: Code, note: str = "") -> Evaluator:
    check(code)
    evaluator.latest_version += 1
    evaluator.versions.append(
        EvaluatorVersion(version=evaluator.latest_version, code=code_text(code), note=note)
    )
    session.flush()
    return evaluator


def update(
    session: Session,
    owner: User,
    evaluator_id: int,
    *,
    name: str | None = None,
    code: Code | None = None,
    note: str = "",
) -> Evaluator:
    """Rename, and/or save new code as a new version (only when it differs from the latest)."""
    evaluator = get(session, owner, evaluator_id)
    changed = code is not None and code_text(code) != evaluator.latest.code
    if note and not changed:
        message = "a note describes a new version: send changed code with it"
        raise InvalidInput("Invalid evaluator update", [{"field": "note", "message": message}])
    if name is not None and name.strip() != evaluator.name:
        _ensure_unique_name(session, owner, name.strip(), evaluator.id)
        evaluator.name = name.strip()
    if changed and code is not None:
        add_version(session, evaluator, code, note)
    session.flush()
    return evaluator


def get_version(session: Session, owner: User, evaluator_id: int, version: int) -> EvaluatorVersion:
    for row in get(session, owner, evaluator_id).versions:
        if row.version == version:
            return row
    raise NotFound(f"Evaluator {evaluator_id} has no version {version}")


def restore(session: Session, owner: User, evaluator_id: int, version: int) -> Evaluator:
    """A new version with the code of ``version`` (history is kept, never rewritten)."""
    evaluator = get(session, owner, evaluator_id)
    old = get_version(session, owner, evaluator_id, version)
    return add_version(session, evaluator, old.code, f"restored from v{version}")


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
