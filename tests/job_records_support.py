"""A job's records built directly through the services the worker uses (no training): metrics
with TRL's names, completions, reward logs, checkpoints and events. For the page and API tests
and for bench/job_page.py."""

from __future__ import annotations

import math
import random
from typing import Any

from sqlalchemy.orm import Session

from app.models import Job, User
from app.services import job_records
from app.services.jobs import add_event

EVALUATORS = ("exact", "format")
PROMPTS = [f"What is {a} + {b}?" for a in range(4) for b in range(5)]


def make_job(session: Session, owner: User, name: str = "synthetic", lr: float = 1e-4) -> Job:
    spec = {
        "dataset_id": None,
        "training": {"learning_rate": lr, "lora_rank": 8, "epochs": 1, "beta": 0.04},
        "rollout": {"n": 4, "temperature": 1.0, "max_tokens": 16},
        "evaluators": [
            {"id": i + 1, "name": n, "version": 1, "weight": 1.0, "code": "def evaluate(): ..."}
            for i, n in enumerate(EVALUATORS)
        ],
        "evaluators_revision": 1,
    }
    job = Job(owner_id=owner.id, name=name, base_model="tiny-demo", spec=spec)
    session.add(job)
    session.flush()
    add_event(session, job, "status", {"status": "queued"})
    claimed = job_records.claim(session, job.id, "test-worker")
    assert claimed is job
    session.flush()
    return job


def train_values(step: int, total: int, rng: random.Random, pace: float = 1.0) -> dict[str, float]:
    """TRL's metric names; ``pace`` > 1 learns faster (for runs that differ when compared)."""
    progress = min(1.0, pace * step / max(1, total))
    reward = min(1.0, 0.2 + 0.7 * progress + rng.uniform(-0.05, 0.05))
    values = {
        "reward": reward,
        "reward_std": 0.3 * (1 - progress) + 0.02,
        "frac_reward_zero_std": 0.1 + 0.5 * progress,
        "kl": 0.001 + 0.02 * progress,
        "loss": 0.01 * math.sin(step),
        "entropy": 1.5 - progress,
        "grad_norm": 0.5 + rng.random(),
        "learning_rate": 1e-4 * (1 - progress),
        "completions/mean_length": 8 + 4 * progress,
        "completions/min_length": 2.0,
        "completions/max_length": 16.0,
        "completions/clipped_ratio": 0.2 * (1 - progress),
        "step_time": 0.1 + 0.01 * rng.random(),
    }
    for i, name in enumerate(EVALUATORS):
        values[f"rewards/{name}/mean"] = reward - 0.1 * i
        values[f"rewards/{name}/std"] = 0.2
        values[f"rewards/{name}/invalid_frac"] = 0.05 * i
    return values


def completion(step: int, index: int, reward: float | None) -> dict[str, Any]:
    prompt = PROMPTS[(step + index // 4) % len(PROMPTS)]
    scores = {
        name: {
            "score": None if reward is None and name == "format" else (reward or 0.0),
            "reason": "no number" if reward is None and name == "format" else f"{name} ok",
            "valid": not (reward is None and name == "format"),
        }
        for name in EVALUATORS
    }
    text = f"step {step} answer {index}" + (" long" * 400 if index == 0 and step % 5 == 0 else "")
    return {"step": step, "prompt": prompt, "completion": text, "reward": reward, "scores": scores}


def record_steps(
    session: Session,
    job: Job,
    steps: range,
    total: int,
    completions_per_step: int = 8,
    validate_every: int = 5,
    checkpoint_every: int = 10,
    seed: int = 0,
    pace: float = 1.0,
) -> None:
    """What a worker records for ``steps``: one save_batch per step, validation and checkpoints
    every few steps (validation rises then falls, so the best checkpoint is not the last)."""
    rng = random.Random(seed)
    for step in steps:
        values = train_values(step, total, rng, pace)
        metrics: list[tuple[str, int, dict[str, float]]] = [("train", step, values)]
        if step % validate_every == 0 or step == total:
            metrics.append(("eval", step, eval_values(step, total)))
        items = [
            completion(step, i, None if i == 7 else round(rng.random(), 3))
            for i in range(completions_per_step)
        ]
        logs = [{"step": step, "level": "info", "source": "exact", "message": f"saw {step}"}]
        if step % 3 == 0:
            where = f'  File "e.py", line {step}'
            trace = f"Traceback (most recent call last):\n{where}\nValueError: no number"
            logs.append({"step": step, "level": "error", "source": "format", "message": trace})
        job_records.save_batch(
            session,
            job.id,
            step=step,
            total_steps=total,
            metrics=metrics,
            completions=items,
            logs=logs,
            events=[],
        )
        if step % checkpoint_every == 0 or step == total:
            validation = eval_values(step, total).get("eval/reward")
            path = f"/tmp/checkpoint-{step}"
            job_records.add_checkpoint(session, job.id, step, path, values, validation)


def eval_values(step: int, total: int) -> dict[str, float]:
    """Validation peaks at 60% of the run: the best checkpoint is in the middle."""
    progress = step / max(1, total)
    reward = round(0.3 + 0.5 * (1 - abs(progress - 0.6)), 4)
    return {"eval/reward": reward, "eval/invalid_frac": 0.1}


def finished_job(
    session: Session, owner: User, total: int = 30, name: str = "done", pace: float = 1.0
) -> Job:
    job = make_job(session, owner, name)
    job_records.save_batch(
        session,
        job.id,
        step=0,
        total_steps=total,
        metrics=[("eval", 0, eval_values(0, total))],
        completions=[],
        logs=[],
        events=[],
    )
    record_steps(session, job, range(1, total + 1), total, seed=job.id, pace=pace)
    job_records.finish(session, job.id, "completed")
    session.flush()
    return job
