"""An OpenAI RFT script, unchanged but for base_url and api_key: the official `openai` client
against a live server, a real `rft worker` and the tiny demo model (a few steps a job)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from openai import APIStatusError, OpenAI
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.services import demo, openai_ft
from tests.api.test_openai_ft import MODEL, MULTI, STRING_CHECK, rows
from tests.conftest import Account
from tests.helpers import demo_model, running_worker, start_rft

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
STEPS = 200  # of the paused job: 2 rows a step, one epoch
PRETRAIN_STEPS = 300  # enough to answer and stop; learning is not what is tested here


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return demo_model(PRETRAIN_STEPS)


@pytest.fixture
def settings(settings: Settings, models_dir: Path) -> Settings:
    mapping = {MODEL: demo.DEMO_MODEL}
    return settings.model_copy(update={"models_dir": models_dir, "openai_models": mapping})


@pytest.fixture
def worker(server_env: dict[str, str], models_dir: Path) -> Iterator[None]:
    with running_worker(server_env, models_dir):
        yield


@pytest.fixture
def model_server(server_env: dict[str, str], models_dir: Path) -> Iterator[None]:
    process = start_rft(["model-server"], {**server_env, "RFT_MODELS_DIR": str(models_dir)})
    yield
    process.kill()
    process.wait(timeout=30)


def chat_when_loaded(client: OpenAI, model: str, timeout: float) -> Any:
    """The first request deploys the fine-tuned model (503 with Retry-After while it loads)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "3+4="}], max_tokens=8
            )
        except APIStatusError as exc:
            assert exc.status_code == 503, exc
            assert time.monotonic() < deadline, f"{model} did not load: {exc}"
            time.sleep(1)


@pytest.fixture
def client(live_server: str, alice: Account) -> Iterator[OpenAI]:
    with OpenAI(base_url=f"{live_server}/v1", api_key=alice.key, max_retries=0) as api:
        yield api


def wait_for(client: OpenAI, job_id: str, until: Callable[[Any], bool], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if until(job):
            return job
        assert job.status not in ("failed", "cancelled"), job.error
        assert time.monotonic() < deadline, f"{job_id} still {job.status}"
        time.sleep(0.5)


def upload(client: OpenAI, data: bytes, name: str) -> str:
    return client.files.create(file=(name, io.BytesIO(data)), purpose="fine-tune").id


def test_a_string_check_job_pauses_resumes_and_succeeds(
    client: OpenAI,
    worker: None,
    model_server: None,
    alice: Account,
    session_factory: sessionmaker[Session],
) -> None:
    # Long enough that the pause lands mid-run on a fast machine (CI saw 20 steps finish first).
    training = upload(client, rows(2 * STEPS), "train.jsonl")
    validation = upload(client, rows(4), "v")
    hyper = {"n_epochs": 1, "batch_size": 2, "eval_interval": STEPS // 4}
    job = client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=training,
        validation_file=validation,
        suffix="adder",
        seed=3,
        method={
            "type": "reinforcement",
            "reinforcement": {"grader": STRING_CHECK, "hyperparameters": hyper},
        },
    )

    def trained_a_step(_job: Any) -> bool:
        events = client.fine_tuning.jobs.list_events(job.id, limit=100).data
        return any(e.type == "metrics" for e in events)

    wait_for(client, job.id, trained_a_step, timeout=600)
    client.fine_tuning.jobs.pause(job.id)
    paused = wait_for(client, job.id, lambda j: j.status == "paused", timeout=300)
    assert paused.fine_tuned_model is None and paused.finished_at is None
    kept = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert kept, "a paused job keeps a checkpoint"
    at = kept[0].step_number
    assert 0 < at < STEPS

    assert client.fine_tuning.jobs.resume(job.id).status == "queued"
    done = wait_for(client, job.id, lambda j: j.status == "succeeded", timeout=600)
    number = job.id.removeprefix("ftjob-")
    assert done.fine_tuned_model == f"ft:{MODEL}:alice:adder:{number}"
    assert done.trained_tokens and done.trained_tokens > 0 and done.finished_at

    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    steps = [c.step_number for c in checkpoints]
    assert steps == sorted(steps, reverse=True) and steps[0] == STEPS and at in steps
    final = checkpoints[0]
    assert final.fine_tuned_model_checkpoint == f"{done.fine_tuned_model}:ckpt-step-{STEPS}"
    assert final.metrics.step == STEPS and final.fine_tuning_job_id == job.id

    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=1000)]
    assert f"Job paused at step {at}: its checkpoint is kept" in messages
    assert f"Resumed from the checkpoint at step {at}" in messages
    assert messages[0] == "The job has successfully completed"  # newest first

    # The seam /v1/chat/completions will use: a fine-tuned model name -> its checkpoint.
    with session_factory() as session:
        found = openai_ft.checkpoint_for_model(session, alice.user, done.fine_tuned_model)
        named = final.fine_tuned_model_checkpoint
        step = openai_ft.checkpoint_for_model(session, alice.user, named)
    assert found is not None and found.step == STEPS
    assert step is not None and step.step == STEPS

    # The script's next line: chat with the fine-tuned model (deployed on first use).
    answer = chat_when_loaded(client, done.fine_tuned_model, timeout=300)
    assert answer.model == done.fine_tuned_model
    assert answer.choices[0].finish_reason in ("stop", "length")
    assert answer.usage is not None and answer.usage.completion_tokens > 0


def test_a_multi_grader_job_succeeds_with_its_sub_scores_in_the_events(
    client: OpenAI, worker: None
) -> None:
    training = upload(client, rows(8), "train.jsonl")
    job = client.fine_tuning.jobs.create(
        model=MODEL,
        training_file=training,
        method={
            "type": "reinforcement",
            "reinforcement": {"grader": MULTI, "hyperparameters": {"batch_size": 4}},
        },
    )
    done = wait_for(client, job.id, lambda j: j.status == "succeeded", timeout=600)
    assert done.fine_tuned_model == f"ft:{MODEL}:alice::{job.id.removeprefix('ftjob-')}"
    metrics = [
        e.data
        for e in client.fine_tuning.jobs.list_events(job.id, limit=1000)
        if e.type == "metrics"
    ]
    assert [m["step"] for m in metrics] == [2, 1]  # type: ignore[index]
    last = metrics[0]
    assert 0.0 <= last["train_reward_mean"] <= 1.0  # type: ignore[index]
    assert "rewards/openai grader: exact and close/mean" in last  # type: ignore[operator]
    assert json.dumps(last)
