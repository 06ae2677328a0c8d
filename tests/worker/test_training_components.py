"""A module with two reward functions trains as two weighted components with two curves."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import transaction
from app.models import JobMetric
from app.schemas.job_params import parse_job_request
from app.services import evaluators, jobs
from tests.conftest import Account
from worker.training.runner import run_job

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

# Predibase's form: two reward functions in one file (as its GRPO countdown example has).
PREDIBASE_TWO = """
def format_reward_func(prompt: str, completion: str, example: dict[str, str]) -> float:
    return 1.0 if completion.strip().isdigit() else 0.0


def answer_reward_func(prompt: str, completion: str, example: dict[str, str]) -> float:
    return 2.0 if completion.strip() == example["ground_truth"] else -1.0
"""


def test_two_predibase_functions_train_as_two_components(
    train_settings: Settings,
    session_factory: sessionmaker[Session],
    alice: Account,
    demo_request: dict[str, Any],
) -> None:
    with transaction(session_factory) as session:
        evaluator = evaluators.create(session, alice.user, "countdown", PREDIBASE_TWO, "")
        chosen = {"format_reward_func": 1.0, "answer_reward_func": 3.0}
        demo_request["evaluators"] = [{"id": evaluator.id, "weight": 1.0, "components": chosen}]
        demo_request["training"].update(max_steps=3, eval_steps=100, save_steps=100)
        job = jobs.create(session, train_settings, alice.user, parse_job_request(demo_request))
        job_id = job.id
        pinned = job.spec["evaluators"][0]
    assert pinned["components"] == chosen
    assert run_job(job_id, train_settings, exit_on_stall=False) == "completed"
    with session_factory() as session:
        rows = session.scalars(
            select(JobMetric).where(JobMetric.job_id == job_id, JobMetric.kind == "train")
        ).all()
    assert [m.step for m in rows] == [1, 2, 3]
    for metric in rows:
        values = metric.values
        fmt = values["rewards/countdown/format_reward_func/mean"]
        answer = values["rewards/countdown/answer_reward_func/mean"]
        assert 0.0 <= fmt <= 1.0 and -1.0 <= answer <= 2.0
        # The reward is the weighted mean of the two components (every sample scored).
        assert values["reward"] == pytest.approx((fmt + 3 * answer) / 4, abs=1e-4)


def test_unknown_component_is_refused_naming_the_field(
    train_settings: Settings,
    session_factory: sessionmaker[Session],
    alice: Account,
    demo_request: dict[str, Any],
) -> None:
    from app.core.errors import InvalidInput

    with transaction(session_factory) as session:
        evaluator = evaluators.create(session, alice.user, "countdown", PREDIBASE_TWO, "")
        demo_request["evaluators"] = [
            {"id": evaluator.id, "weight": 1.0, "components": {"nope": 1.0}}
        ]
        with pytest.raises(InvalidInput) as caught:
            jobs.create(session, train_settings, alice.user, parse_job_request(demo_request))
    [error] = caught.value.errors
    assert error["field"] == "evaluators.0.components"
    assert "format_reward_func, answer_reward_func" in error["message"]
