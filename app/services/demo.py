"""The demo a first start seeds for the admin: an addition dataset (with a validation set), an
exact-answer evaluator, and the job preset that visibly learns on 2 CPU cores in a minute.
The demo model itself is built by a worker (worker/training/demo_model.py)."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.storage import Storage, staging_dir
from app.ingest.uploads import stage_bytes
from app.models import Dataset, User
from app.schemas.dataset import DatasetUploadForm
from app.services import datasets, evaluators

DEMO_MODEL = "rft-demo-tiny"
STALE_SECONDS = 300  # a build reports progress every few seconds
TRAIN_NAME = "demo: single-digit addition"
VALIDATION_NAME = "demo: single-digit addition (validation)"
EVALUATOR_NAME = "demo: exact sum"
EVALUATOR_CODE = '''"""Demo evaluator: 1.0 when the answer is exactly the sum, else 0.0."""


def evaluate(messages, ground_truth, **kwargs):
    answer = messages[-1]["content"].strip()
    print(f"expected {ground_truth}, got {answer!r}")
    return {"score": 1.0 if answer == ground_truth else 0.0, "reason": f"expected {ground_truth}"}
'''


def addition_rows(count: int, seed: int) -> list[dict[str, Any]]:
    """Rows "a+b=" asked as a chat message, the sum as ground truth and as the reference
    answer (the Evaluations page scores it; training generates its own)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        a, b = rng.randint(0, 9), rng.randint(0, 9)
        messages = [
            {"role": "user", "content": f"{a}+{b}="},
            {"role": "assistant", "content": str(a + b)},
        ]
        rows.append({"messages": messages, "ground_truth": str(a + b)})
    return rows


@dataclass
class DemoResources:
    dataset_id: int
    validation_dataset_id: int
    evaluator_id: int


def job_request(resources: DemoResources) -> dict[str, Any]:
    """The demo preset: 4 prompts x 8 completions a step, top of the learning-rate range held
    constant; measured: reward 0.43 -> 0.80 in 700 steps (~2 minutes on 2 CPU cores)."""
    return {
        "name": "demo: learn addition",
        "base_model": DEMO_MODEL,
        "dataset_id": resources.dataset_id,
        "validation_dataset_id": resources.validation_dataset_id,
        "evaluators": [{"id": resources.evaluator_id, "weight": 1.0}],
        "training": {
            "learning_rate": 5e-4,
            "lr_scheduler": "constant",
            "lora_rank": 8,
            "batch_size": 1280,
            "max_context_length": 256,
            "max_steps": 700,
            "eval_steps": 175,
            "save_steps": 175,
        },
        "rollout": {"max_tokens": 16, "temperature": 1.0, "top_k": 0, "top_p": 1.0, "n": 8},
    }


def _dataset(
    session: Session, settings: Settings, owner: User, name: str, rows: list[dict[str, Any]]
) -> Dataset:
    existing = session.scalars(
        select(Dataset).where(Dataset.owner_id == owner.id, Dataset.name == name).limit(1)
    ).first()
    if existing is not None:
        return existing
    payload = b"".join(json.dumps(row).encode() + b"\n" for row in rows)
    staged = stage_bytes(staging_dir(settings), payload, f"{name}.jsonl")
    try:
        storage = Storage.from_settings(settings)
        return datasets.create(session, storage, owner, staged, DatasetUploadForm(name=name))
    finally:
        staged.discard()


def seed(session: Session, settings: Settings, owner: User) -> DemoResources:
    """Creates what is missing of the demo for ``owner`` (idempotent)."""
    train = _dataset(session, settings, owner, TRAIN_NAME, addition_rows(2000, seed=0))
    validation = _dataset(session, settings, owner, VALIDATION_NAME, addition_rows(64, seed=1))
    evaluator = evaluators.find_by_name(session, owner, EVALUATOR_NAME)
    if evaluator is None:
        evaluator = evaluators.create(session, owner, EVALUATOR_NAME, EVALUATOR_CODE, "demo")
    return DemoResources(train.id, validation.id, evaluator.id)


def model_status(settings: Settings) -> dict[str, Any]:
    """What the demo model build reported: {"state": "missing"|"building"|"ready"|"failed"...}."""
    folder = settings.models_path / DEMO_MODEL
    if (folder / "config.json").exists():
        return {"state": "ready"}
    status_file = settings.models_path / f".{DEMO_MODEL}.status.json"
    try:
        status: dict[str, Any] = json.loads(status_file.read_text())
    except (OSError, ValueError):
        return {"state": "missing"}
    if status.get("state") == "building" and time.time() - status.get("at", 0) > STALE_SECONDS:
        return {"state": "missing"}  # the builder died: ask again
    return status
