"""Real GRPO + LoRA jobs on the demo model, through real `rft worker` processes."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.core.db import transaction
from app.core.storage import Storage
from app.models import Checkpoint, Job, JobEvent, JobMetric
from app.schemas.job_params import parse_job_request
from app.services import demo, evaluators, jobs
from tests.conftest import Account
from tests.helpers import descendants
from tests.worker.conftest import wait_for_job
from worker.training.runner import run_job

# The first test also builds the demo model (cached in .cache/ for later runs).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ALWAYS_ONE = "def evaluate(messages, **kwargs):\n    return 1.0\n"


def short(request: dict[str, Any], steps: int, every: int) -> dict[str, Any]:
    request["training"].update(max_steps=steps, eval_steps=every, save_steps=every)
    return request


def metric_steps(factory: sessionmaker[Session], job_id: int, kind: str = "train") -> list[int]:
    with factory() as session:
        query = select(JobMetric.step).where(JobMetric.job_id == job_id, JobMetric.kind == kind)
        return sorted(session.scalars(query))


def event_types(factory: sessionmaker[Session], job_id: int) -> list[str]:
    with factory() as session:
        return [e.type for e in jobs.events_after(session, job_id, 0, limit=100_000)]


def kill_dash_nine(process: Any) -> None:
    for pid in [process.pid, *descendants(process.pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=10)


@pytest.mark.embedded
def test_demo_job_runs_through_a_real_worker(
    train_client: TestClient,
    alice: Account,
    demo_request: dict[str, Any],
    worker_process: Any,
    session_factory: sessionmaker[Session],
    train_settings: Settings,
) -> None:
    worker_process()
    response = train_client.post(
        "/api/v1/jobs", json=short(demo_request, 40, 20), headers=alice.headers
    )
    assert response.status_code == 201, response.text
    job_id = response.json()["id"]
    wait_for_job(session_factory, job_id, lambda j: j.status == "completed", timeout=240)

    assert metric_steps(session_factory, job_id) == list(range(1, 41))
    assert metric_steps(session_factory, job_id, "eval") == [0, 20, 40]
    get = lambda path: train_client.get(f"/api/v1/jobs/{job_id}{path}", headers=alice.headers)  # noqa: E731
    metrics = get("/metrics").json()["data"]
    last = [m for m in metrics if m["kind"] == "train"][-1]["values"]
    for name in ("reward", "reward_std", "loss", "rewards/demo: exact sum/mean", "entropy"):
        assert name in last
    completions = get("/completions").json()
    assert completions["count"] > 0
    assert completions["data"][0]["scores"]["demo: exact sum"]["valid"] is True
    logs = get("/logs").json()
    assert any("expected" in entry["message"] for entry in logs["data"])  # the evaluator's print
    checkpoints = get("/checkpoints").json()["data"]
    assert [c["step"] for c in checkpoints] == [20, 40]
    assert sum(c["is_best"] for c in checkpoints) == 1
    job = get("").json()
    assert job["step"] == job["total_steps"] == 40 and job["elapsed_seconds"] > 0

    assert_adapter_changes_outputs(train_settings, job_id, 40)


def assert_adapter_changes_outputs(settings: Settings, job_id: int, step: int) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    base_path = settings.models_path / demo.DEMO_MODEL
    storage = Storage.from_settings(settings)
    adapter = Path(storage.path(f"jobs/{job_id}/checkpoint-{step}"))
    assert (adapter / "adapter_model.safetensors").exists()
    tokenizer = PreTrainedTokenizerFast.from_pretrained(base_path)
    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": "3+4="}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    base = AutoModelForCausalLM.from_pretrained(base_path)
    with torch.no_grad():
        before = base(**inputs).logits[0, -1].clone()
        tuned = PeftModel.from_pretrained(base, adapter)
        after = tuned(**inputs).logits[0, -1]
    assert not torch.allclose(before, after, atol=1e-4)


def test_demo_learns(
    train_settings: Settings,
    session_factory: sessionmaker[Session],
    alice: Account,
    demo_request: dict[str, Any],
) -> None:
    """The DESIGN.md recipe: reward over the last 10 steps beats the first 10 by >= 0.3.
    (How fast is measured by bench/training.py, not asserted here.)"""
    with transaction(session_factory) as session:
        job = jobs.create(session, train_settings, alice.user, parse_job_request(demo_request))
        job_id = job.id
    started = time.monotonic()
    assert run_job(job_id, train_settings, exit_on_stall=False) == "completed"
    elapsed = time.monotonic() - started
    with session_factory() as session:
        rows = session.scalars(
            select(JobMetric).where(JobMetric.job_id == job_id).order_by(JobMetric.step)
        ).all()
    rewards = [m.values["reward"] for m in rows if m.kind == "train"]
    evals = [m.values["eval/reward"] for m in rows if m.kind == "eval"]
    first, last = sum(rewards[:10]) / 10, sum(rewards[-10:]) / 10
    print(f"demo: {len(rewards)} steps in {elapsed:.0f} s, reward {first:.2f} -> {last:.2f}")
    print(f"validation reward: {evals}")
    assert last - first >= 0.3, (first, last)
    assert evals[-1] > evals[0], evals


def test_a_run_without_an_optimizer_step_fails_with_its_cause(
    train_settings: Settings,
    session_factory: sessionmaker[Session],
    alice: Account,
    demo_request: dict[str, Any],
) -> None:
    """Never "completed" having trained nothing: one step would need more prompts than the
    dataset has (the API refuses such a job; a spec edited since, or data removed, is not)."""
    with transaction(session_factory) as session:
        job = jobs.create(session, train_settings, alice.user, parse_job_request(demo_request))
        job.spec = {**job.spec, "training": {**job.spec["training"], "batch_size": 16 << 20}}
        job_id = job.id
    assert run_job(job_id, train_settings, exit_on_stall=False) == "failed"
    with session_factory() as session:
        failed = session.get(Job, job_id)
        assert failed is not None and failed.status == "failed" and failed.step == 0
        assert failed.error is not None and "no optimizer step was taken" in failed.error
        assert "training.batch_size" in failed.error
        logged = jobs.logs(session, failed, 0, 10, level="error")[0]
    assert logged and "Traceback" in logged[0].message  # the raw text, for the curious


@pytest.mark.embedded
def test_kill_9_resumes_from_last_checkpoint(
    train_client: TestClient,
    alice: Account,
    demo_request: dict[str, Any],
    worker_process: Any,
    session_factory: sessionmaker[Session],
) -> None:
    first = worker_process()
    job_id = train_client.post(
        "/api/v1/jobs", json=short(demo_request, 60, 15), headers=alice.headers
    ).json()["id"]
    wait_for_job(session_factory, job_id, lambda j: j.step >= 20, timeout=180)
    kill_dash_nine(first)
    with session_factory() as session:
        saved = session.scalars(select(Checkpoint.step).where(Checkpoint.job_id == job_id)).all()
    assert 15 in saved

    worker_process()
    job = wait_for_job(session_factory, job_id, lambda j: j.status == "completed", timeout=240)
    assert job.attempts == 2
    assert metric_steps(session_factory, job_id) == list(range(1, 61))  # none lost or doubled
    assert metric_steps(session_factory, job_id, "eval") == [0, 15, 30, 45, 60]
    types = event_types(session_factory, job_id)
    assert "resumed" in types


def test_cancel_stops_within_ten_seconds_keeping_checkpoints(
    train_client: TestClient,
    alice: Account,
    demo_request: dict[str, Any],
    worker_process: Any,
    session_factory: sessionmaker[Session],
) -> None:
    worker_process()
    job_id = train_client.post(
        "/api/v1/jobs", json=short(demo_request, 2000, 10), headers=alice.headers
    ).json()["id"]
    wait_for_job(session_factory, job_id, lambda j: j.step >= 12, timeout=180)
    asked = time.monotonic()
    assert (
        train_client.post(f"/api/v1/jobs/{job_id}/cancel", headers=alice.headers).status_code == 200
    )
    job = wait_for_job(session_factory, job_id, lambda j: j.status == "cancelled", timeout=10)
    assert time.monotonic() - asked < 10
    with session_factory() as session:
        steps = session.scalars(select(Checkpoint.step).where(Checkpoint.job_id == job_id)).all()
    assert 10 in steps and max(steps) >= job.step - 1


def test_evaluators_swap_at_next_step(
    train_client: TestClient,
    alice: Account,
    demo_request: dict[str, Any],
    worker_process: Any,
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        extra = evaluators.create(session, alice.user, "always one", ALWAYS_ONE).id
    worker_process()
    job_id = train_client.post(
        "/api/v1/jobs", json=short(demo_request, 400, 200), headers=alice.headers
    ).json()["id"]
    wait_for_job(session_factory, job_id, lambda j: j.step >= 5, timeout=180)
    body = {"evaluators": [demo_request["evaluators"][0], {"id": extra, "weight": 1.0}]}
    assert (
        train_client.put(
            f"/api/v1/jobs/{job_id}/evaluators", json=body, headers=alice.headers
        ).status_code
        == 200
    )
    deadline = time.monotonic() + 30
    while "evaluators_applied" not in event_types(session_factory, job_id):
        assert time.monotonic() < deadline, "the change was not applied"
        time.sleep(0.2)
    train_client.post(f"/api/v1/jobs/{job_id}/cancel", headers=alice.headers)
    wait_for_job(session_factory, job_id, lambda j: j.is_terminal, timeout=30)
    with session_factory() as session:
        applied = next(
            e
            for e in jobs.events_after(session, job_id, 0, 100_000)
            if e.type == "evaluators_applied"
        )
        later = session.scalars(
            select(JobMetric).where(
                JobMetric.job_id == job_id,
                JobMetric.kind == "train",
                JobMetric.step >= applied.data["step"],
            )
        ).all()
    assert later and all("rewards/always one/mean" in m.values for m in later)


def test_preflight_reports_learning_signal(
    train_client: TestClient, alice: Account, demo_request: dict[str, Any], worker_process: Any
) -> None:
    worker_process()
    response = train_client.post("/api/v1/jobs/preflight", json=demo_request, headers=alice.headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["prompts"] == 8 and report["n"] == 8
    assert 0.0 < report["reward_mean"] < 0.9
    assert report["evaluator_error_rate"] == 0.0
    assert report["verdict"] == "ready", report
    assert report["examples"][0]["prompt"].startswith("user: ")


def test_failure_stores_a_readable_cause(
    train_settings: Settings,
    session_factory: sessionmaker[Session],
    alice: Account,
    demo_request: dict[str, Any],
) -> None:
    with transaction(session_factory) as session:
        job = jobs.create(session, train_settings, alice.user, parse_job_request(demo_request))
        job_id, dataset_id = job.id, job.dataset_id
    storage = Storage.from_settings(train_settings)
    with session_factory() as session:
        from app.models import Dataset

        data_file = session.get(Dataset, dataset_id).data_file  # type: ignore[union-attr]
    storage.fs.rm(storage.path(data_file))
    assert run_job(job_id, train_settings, exit_on_stall=False) == "failed"
    with session_factory() as session:
        failed = session.get(Job, job_id)
        assert failed is not None and failed.status == "failed"
        assert failed.error is not None
        assert failed.error.startswith("failed while reading the job and its datasets: ")
        last = session.scalars(
            select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id.desc())
        ).first()
        assert last is not None and last.data["status"] == "failed"
