"""Validation runs in TRL's own evaluation loop: at the start, every eval_steps (whole steps or
a fraction of the run, as transformers reads it) and at the end, recorded as the job's
validation metrics; checkpoints at a validated step carry its reward."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import transaction
from app.models import Checkpoint, JobEvent, JobMetric
from app.schemas.job_params import parse_job_request
from app.services import jobs
from tests.conftest import Account
from worker.training.runner import run_job

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def run(
    settings: Settings,
    factory: sessionmaker[Session],
    account: Account,
    request: dict[str, Any],
    **training: Any,
) -> int:
    request["training"].update(training)
    with transaction(factory) as session:
        job_id = jobs.create(session, settings, account.user, parse_job_request(request)).id
    assert run_job(job_id, settings, exit_on_stall=False) == "completed"
    return job_id


def validations(factory: sessionmaker[Session], job_id: int) -> dict[int, dict[str, float]]:
    with factory() as session:
        rows = session.scalars(
            select(JobMetric).where(JobMetric.job_id == job_id, JobMetric.kind == "eval")
        )
        return {m.step: m.values for m in rows}


def test_a_fraction_of_the_run_validates_at_start_every_share_and_at_the_end(
    train_settings: Settings,
    session_factory: sessionmaker[Session],
    alice: Account,
    demo_request: dict[str, Any],
) -> None:
    # 10 steps, a quarter = ceil(2.5) = 3 steps; checkpoints every half = 5 steps.
    job_id = run(
        train_settings,
        session_factory,
        alice,
        demo_request,
        max_steps=10,
        eval_steps=0.25,
        save_steps=0.5,
    )
    points = validations(session_factory, job_id)
    assert sorted(points) == [0, 3, 6, 9, 10]
    for values in points.values():
        assert 0.0 <= values["eval/reward"] <= 1.0
        assert values["eval/invalid_frac"] == 0.0
        # TRL logs one mean per reward function: here per evaluator.
        assert values["eval/demo: exact sum/mean"] == pytest.approx(values["eval/reward"])
    with session_factory() as session:
        saved = {
            c.step: c.eval_reward
            for c in session.scalars(select(Checkpoint).where(Checkpoint.job_id == job_id))
        }
    assert sorted(saved) == [5, 10]
    assert saved[5] is None  # no validation at step 5
    assert saved[10] == pytest.approx(points[10]["eval/reward"])


def test_whole_steps_and_an_sft_warm_up(
    train_settings: Settings,
    session_factory: sessionmaker[Session],
    alice: Account,
    demo_request: dict[str, Any],
) -> None:
    job_id = run(
        train_settings,
        session_factory,
        alice,
        demo_request,
        max_steps=4,
        eval_steps=2,
        save_steps=4,
        sft_warmup_epochs=1,
    )
    assert sorted(validations(session_factory, job_id)) == [0, 2, 4]
    with session_factory() as session:
        warmup = session.scalars(
            select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.type == "sft_warmup")
        ).one()
    assert warmup.data["steps"] > 0
