"""The web <-> worker contract: typed payloads, the doorbell rung only after a commit."""

from __future__ import annotations

import json
import queue as stdlib_queue
import subprocess
import sys
from typing import Any

import pytest
from celery import Celery
from sqlalchemy.orm import Session, sessionmaker

from app import tasks
from app.core.config import Settings
from app.models import Job
from app.schemas.job_params import parse_job_request
from app.services import demo, jobs, users


def _sent(celery: Celery, queue: str) -> list[tuple[str, list[Any]]]:
    """(task name, args) of every message waiting on ``queue``, consumed."""
    out = []
    with celery.connection_for_read() as conn:
        box = conn.SimpleQueue(queue)
        while True:
            try:
                message = box.get(timeout=0.5)
            except stdlib_queue.Empty:
                break
            out.append((message.headers["task"], message.decode()[0]))
            message.ack()
        box.close()
    return out


@pytest.fixture
def celery(settings: Settings) -> Celery:
    return tasks.make_client(settings)


def _queued_job(session: Session, settings: Settings) -> Job:
    folder = settings.models_path / demo.DEMO_MODEL  # config only: nothing here loads it
    folder.mkdir(parents=True, exist_ok=True)
    config = {"architectures": ["Qwen2ForCausalLM"], "max_position_embeddings": 256}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "tokenizer.json").write_text("{}")
    admin = users.ensure_admin(session, "admin")
    resources = demo.seed(session, settings, admin)
    return jobs.create(session, settings, admin, parse_job_request(demo.job_request(resources)))


def test_job_doorbell_rings_after_commit_only(
    settings: Settings, session_factory: sessionmaker[Session], celery: Celery
) -> None:
    with session_factory() as session:
        job = _queued_job(session, settings)
        tasks.enqueue_job_after_commit(session, celery, job.id)
        assert _sent(celery, "gpu") == []  # not before the row is visible to a worker
        session.commit()
    assert _sent(celery, "gpu") == [(tasks.TRAIN_TASK, [{"job_id": job.id}])]


def test_no_doorbell_when_the_transaction_rolls_back(
    settings: Settings, session_factory: sessionmaker[Session], celery: Celery
) -> None:
    with session_factory() as session:
        job = _queued_job(session, settings)
        tasks.enqueue_job_after_commit(session, celery, job.id)
        session.rollback()
        session.commit()  # a later commit of the same session rings nothing for that job
    assert _sent(celery, "gpu") == []


def test_stored_job_spec_validates_into_the_worker_model(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    """What the API stored is what the worker reads: the same parameter models, typed."""
    with session_factory() as session:
        job = _queued_job(session, settings)
        admin = users.ensure_admin(session, "admin")
        request = parse_job_request(demo.job_request(demo.seed(session, settings, admin)))
        spec = tasks.JobSpec.model_validate(job.spec)
    assert spec.training == request.training and spec.rollout == request.rollout
    assert spec.evaluators[0].code == demo.EVALUATOR_CODE


def test_payloads_refuse_what_the_sender_did_not_mean() -> None:
    with pytest.raises(ValueError, match="job_id"):
        tasks.TrainJob.model_validate({"job": 3})
    with pytest.raises(ValueError, match="extra"):
        tasks.Ping.model_validate({"sent_at": 1.0, "queue": "gpu"})


def test_every_task_has_a_queue() -> None:
    names = {tasks.TRAIN_TASK, tasks.PREFLIGHT_TASK, tasks.DEMO_TASK, *tasks.PING_TASKS.values()}
    names.add(tasks.SAMPLE_TASK)
    assert set(tasks.ROUTES) == names
    assert {route["queue"] for route in tasks.ROUTES.values()} == set(tasks.QUEUES)


def test_web_app_imports_neither_worker_nor_the_training_stack() -> None:
    code = (
        "import sys, app.main, app.cli.main; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('worker', 'torch', 'transformers', 'trl', 'peft', 'datasets', 'accelerate', 'vllm')); "
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
