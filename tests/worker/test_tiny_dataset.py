"""Defaults that fit the data, through a real worker: a 3-row dataset with max_steps 5 and every
other parameter left unset trains 5 steps (prompts per step lowered to the rows there are)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Account
from tests.datasets_support import upload
from tests.helpers import demo_model
from tests.worker.conftest import wait_for_job

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
TINY_PRETRAIN_STEPS = 20  # loads and trains; learning is test_training.py's business


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return demo_model(TINY_PRETRAIN_STEPS)


def three_rows() -> bytes:
    import json

    rows = [
        {"messages": [{"role": "user", "content": f"{a}+1="}], "ground_truth": str(a + 1)}
        for a in range(3)
    ]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def test_three_rows_with_max_steps_five_train_five_steps(
    train_client: TestClient,
    alice: Account,
    demo_request: dict[str, Any],
    worker_process: Any,
    session_factory: sessionmaker[Session],
) -> None:
    dataset = upload(train_client, alice, three_rows()).json()
    body = {
        **demo_request,
        "dataset_id": dataset["id"],
        "validation_dataset_id": None,
        "training": {"max_steps": 5},
        "rollout": {"max_tokens": 16},
    }
    response = train_client.post("/api/v1/jobs", json=body, headers=alice.headers)
    assert response.status_code == 201, response.text
    assert any("3 rows" in w for w in response.json()["warnings"])
    worker_process()
    job = wait_for_job(session_factory, response.json()["id"], lambda j: j.is_terminal, timeout=600)
    assert (job.status, job.step) == ("completed", 5), job.error
