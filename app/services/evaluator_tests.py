"""Test cases of an evaluator: rows pinned with the score range the evaluator must give them.

"Run tests" scores every pinned row with the given code (the editor's unsaved code, or the
latest version) in the preview's shared sandboxed pool; a case passes when its score is valid
and inside its range. Like the preview, a run is split in ``plan`` (needs the session) and
``run`` (needs only the pool).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.errors import DomainError, InvalidInput, NotFound
from app.evaluators import EvaluatorPool, EvaluatorSpec, Sample
from app.models import EvaluatorTestCase, User
from app.schemas.evaluator import PreviewResult
from app.schemas.evaluator_test import (
    EvaluatorTestCreate,
    EvaluatorTestPublic,
    TestRunResponse,
    TestRunResult,
)
from app.services import datasets, evaluator_envs, evaluator_preview, evaluators

Code = str | dict[str, Any]
EPSILON = 1e-9  # scores are floats: 0.1 + 0.2 still passes a range that ends at 0.3


def list_for(session: Session, owner: User, evaluator_id: int) -> list[EvaluatorTestCase]:
    evaluators.get(session, owner, evaluator_id)  # another user's evaluator: NotFound
    query = select(EvaluatorTestCase).where(EvaluatorTestCase.evaluator_id == evaluator_id)
    return list(session.scalars(query.order_by(EvaluatorTestCase.id)))


def create(
    session: Session, owner: User, evaluator_id: int, body: EvaluatorTestCreate
) -> EvaluatorTestCase:
    """Pin a row of one of the owner's datasets; 404/422 name the field at fault."""
    evaluators.get(session, owner, evaluator_id)
    try:
        dataset = datasets.get(session, owner, body.dataset_id)
    except NotFound as exc:
        message = f"dataset {body.dataset_id} not found"
        raise NotFound(exc.detail, [{"field": "dataset_id", "message": message}]) from None
    problems = []
    if body.row_index >= dataset.row_count:
        message = f"must be below {dataset.row_count} (the dataset's row count)"
        problems.append({"field": "row_index", "message": message})
    if body.min_score > body.max_score:
        problems.append({"field": "max_score", "message": "must not be below min_score"})
    if problems:
        raise InvalidInput("Invalid test case", problems)
    case = EvaluatorTestCase(
        evaluator_id=evaluator_id,
        dataset_id=dataset.id,
        row_index=body.row_index,
        min_score=body.min_score,
        max_score=body.max_score,
        note=body.note,
    )
    session.add(case)
    session.flush()
    return case


def delete(session: Session, owner: User, evaluator_id: int, test_id: int) -> None:
    evaluators.get(session, owner, evaluator_id)
    case = session.get(EvaluatorTestCase, test_id)
    if case is None or case.evaluator_id != evaluator_id:
        raise NotFound(f"Test case {test_id} of evaluator {evaluator_id} not found")
    session.delete(case)


@dataclass(frozen=True)
class TestPlan:
    """The code to test, every case, and the rows that could be read (by case position)."""

    code: Code | Mapping[str, Any] | EvaluatorSpec
    cases: list[EvaluatorTestPublic]
    samples: dict[int, Sample]
    problems: dict[int, str]


def plan(
    session: Session, settings: Settings, owner: User, evaluator_id: int, code: Code | None
) -> TestPlan:
    """Check the code (422 naming its line), install the latest version's requirements (with
    the code's own) when new, and read each case's row."""
    evaluator = evaluators.get(session, owner, evaluator_id)
    code = code if code is not None else evaluator.latest.code
    evaluators.check(code)
    declared = evaluators.declared_requirements(list(evaluator.latest.requirements or []), code)
    runnable = evaluator_envs.runnable(settings, code, declared)
    cases = [EvaluatorTestPublic.model_validate(c) for c in list_for(session, owner, evaluator_id)]
    samples: dict[int, Sample] = {}
    problems: dict[int, str] = {}
    by_dataset: dict[int, list[int]] = defaultdict(list)
    for position, case in enumerate(cases):
        if case.dataset_id is None:
            problems[position] = "the dataset of this test case was deleted"
        else:
            by_dataset[case.dataset_id].append(position)
    for dataset_id, positions in by_dataset.items():
        indices = [cases[p].row_index for p in positions]
        try:
            rows = datasets.read_rows_at(session, owner, dataset_id, indices)
        except DomainError as exc:  # the dataset changed hands or lost rows: say so per case
            problems.update({p: f"row not readable: {exc.detail}" for p in positions})
            continue
        samples.update({p: Sample(row) for p, row in zip(positions, rows, strict=True)})
    return TestPlan(runnable, cases, samples, problems)


def run(pool: EvaluatorPool, work: TestPlan, tenant: str) -> TestRunResponse:
    """Score the readable rows (blocking: call it from a worker thread) and judge every case."""
    positions = sorted(work.samples)
    scored = (
        pool.score(work.code, [work.samples[p] for p in positions], tenant=tenant)
        if positions
        else []
    )
    results = {
        p: evaluator_preview.result_of(work.cases[p].row_index, r)
        for p, r in zip(positions, scored, strict=True)
    }
    data = [
        _judge(case, results.get(position), work.problems.get(position, ""))
        for position, case in enumerate(work.cases)
    ]
    passed = sum(1 for r in data if r.passed)
    return TestRunResponse(data=data, passed=passed, failed=len(data) - passed)


def _judge(case: EvaluatorTestPublic, found: PreviewResult | None, problem: str) -> TestRunResult:
    """Pass: a valid score inside [min_score, max_score]. A row never scored fails with why."""
    if found is None:
        return TestRunResult(test=case, score=None, passed=False, reason=problem, error=problem)
    score = found.score if found.is_score_valid else None
    inside = score is not None and case.min_score - EPSILON <= score <= case.max_score + EPSILON
    return TestRunResult(
        test=case,
        score=score,
        passed=inside,
        reason=found.reason,
        error=found.error,
        error_line=found.error_line,
        stdout=found.stdout,
    )
