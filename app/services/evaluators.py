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
from app.evaluators import requirements as requirements_module
from app.evaluators.requirements import RequirementError
from app.models import Evaluator, EvaluatorVersion, User
from app.services import evaluator_envs

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


def declared_requirements(requirements: list[str] | None, code: Code) -> list[str]:
    """What a version installs (given list + the code's REQUIREMENTS), or InvalidInput naming
    the requirement; one that conflicts with the server's lock is refused here too."""
    try:
        found = requirements_module.declared(requirements, code)
    except RequirementError as exc:
        index = "" if exc.index is None else f".{exc.index}"
        error = {"field": f"requirements{index}", "message": exc.message}
        raise InvalidInput("Invalid evaluator requirements", [error]) from None
    except EvaluatorCodeError as exc:  # REQUIREMENTS in the code is not a literal list
        where: dict[str, object] = {"field": "code", "message": exc.message, "line": exc.line}
        raise InvalidInput("Invalid evaluator code", [where]) from None
    evaluator_envs.to_install(found)
    return found


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


def create(
    session: Session,
    owner: User,
    name: str,
    code: Code,
    note: str = "",
    requirements: list[str] | None = None,
) -> Evaluator:
    check(code)
    declared = declared_requirements(requirements, code)
    name = name.strip()
    _ensure_unique_name(session, owner, name, None)
    evaluator = Evaluator(owner_id=owner.id, name=name, latest_version=1)
    version = EvaluatorVersion(version=1, code=code_text(code), note=note, requirements=declared)
    evaluator.versions.append(version)
    session.add(evaluator)
    session.flush()
    return evaluator


def add_version(
    session: Session,
    evaluator: Evaluator,
    code: Code,
    note: str = "",
    requirements: list[str] | None = None,
) -> Evaluator:
    """A new version; requirements None keeps the latest version's (plus the code's own)."""
    check(code)
    if requirements is None:
        requirements = list(evaluator.latest.requirements or [])
    declared = declared_requirements(requirements, code)
    evaluator.latest_version += 1
    evaluator.versions.append(
        EvaluatorVersion(
            version=evaluator.latest_version,
            code=code_text(code),
            note=note,
            requirements=declared,
        )
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
    requirements: list[str] | None = None,
) -> Evaluator:
    """Rename, and/or save new code or requirements as a new version (only when they differ
    from the latest's)."""
    evaluator = get(session, owner, evaluator_id)
    latest = evaluator.latest
    new_code = code if code is not None else latest.code
    changed = code_text(new_code) != latest.code or (
        requirements is not None
        and declared_requirements(requirements, new_code) != list(latest.requirements or [])
    )
    if note and not changed:
        message = "a note describes a new version: send changed code with it"
        raise InvalidInput("Invalid evaluator update", [{"field": "note", "message": message}])
    if name is not None and name.strip() != evaluator.name:
        _ensure_unique_name(session, owner, name.strip(), evaluator.id)
        evaluator.name = name.strip()
    if changed:
        add_version(session, evaluator, new_code, note, requirements)
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
    restored = list(old.requirements or [])
    return add_version(session, evaluator, old.code, f"restored from v{version}", restored)


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
