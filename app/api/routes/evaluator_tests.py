"""Test cases of an evaluator over HTTP: pin rows with an expected score range, run them.

A run scores the pinned rows with the editor's unsaved code (or the latest version) in the
app's one sandboxed pool, the same one the IDE preview uses.
"""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.concurrency import run_in_threadpool

from app.api.deps import CurrentUser, PathId, SessionDep, SettingsDep
from app.api.routes.evaluators import PoolDep
from app.schemas.common import Page
from app.schemas.evaluator_test import (
    EvaluatorTestCreate,
    EvaluatorTestPublic,
    TestRunRequest,
    TestRunResponse,
)
from app.services import evaluator_tests

router = APIRouter(prefix="/api/v1/evaluators", tags=["evaluators"])


@router.get("/{evaluator_id}/tests", response_model=Page[EvaluatorTestPublic])
def list_tests(
    evaluator_id: PathId, session: SessionDep, user: CurrentUser
) -> Page[EvaluatorTestPublic]:
    rows = evaluator_tests.list_for(session, user, evaluator_id)
    data = [EvaluatorTestPublic.model_validate(r) for r in rows]
    return Page(data=data, count=len(data))


@router.post(
    "/{evaluator_id}/tests",
    response_model=EvaluatorTestPublic,
    status_code=status.HTTP_201_CREATED,
)
def create_test(
    evaluator_id: PathId, body: EvaluatorTestCreate, session: SessionDep, user: CurrentUser
) -> EvaluatorTestPublic:
    """Pin a row of one of your datasets with the score range it must get."""
    row = evaluator_tests.create(session, user, evaluator_id, body)
    return EvaluatorTestPublic.model_validate(row)


@router.delete("/{evaluator_id}/tests/{test_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_test(
    evaluator_id: PathId, test_id: PathId, session: SessionDep, user: CurrentUser
) -> None:
    evaluator_tests.delete(session, user, evaluator_id, test_id)


@router.post("/{evaluator_id}/tests/run", response_model=TestRunResponse)
async def run_tests(
    evaluator_id: PathId,
    body: TestRunRequest,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    pool: PoolDep,
) -> TestRunResponse:
    """Score every pinned row with `code` (default: the latest version): pass or fail each."""
    work = await run_in_threadpool(
        evaluator_tests.plan, session, settings, user, evaluator_id, body.code
    )
    tenant = f"user-{user.id}"
    await run_in_threadpool(session.close)  # no connection held while evaluators run
    shared = await run_in_threadpool(pool.get)
    return await run_in_threadpool(evaluator_tests.run, shared, work, tenant)
